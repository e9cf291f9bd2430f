"""The signing relay: encoders PUT unsigned to it, it forwards each object signed.

Encoders such as ffmpeg, OBS and GStreamer push segments and manifests with ``PUT``
(or ``POST``), chunked, over keep-alive, and cannot sign each request. Point them at
a ``SigningRelay`` (``mediastore-ingest relay``, or in Python)::

    with SigningRelay("https://d1.cloudfront.net", signer=signer) as relay:
        run_encoder(output=relay.url + "/live/index.m3u8")

What it does with each request (set up in ``RelayConfig``):

* admits it only from ``allowed_peers`` (loopback by default); when other addresses
  are allowed, a shared ``token`` is required in ``token_header`` on every request;
  listening beyond loopback requires the token too;
* maps ``POST`` to ``PUT``, prefixes the path (``prefix``), picks the Content-Type
  and Cache-Control from per-path rules (manifests short, segments long);
* reads the body as fast as the encoder sends it into the journal
  (``journal``, in ``journal_dir``) and answers ``200``
  once it is durable there; ``503`` with ``Retry-After`` when the journal is full
  (``journal_max_bytes``, ``journal_max_objects``) or ``max_in_flight`` bodies are
  arriving, ``413`` over ``max_segment_bytes``; the encoder's connection never waits
  for the origin;
* uploads from the journal on ``upload_workers`` threads through the
  ``IngestClient``'s pooled keep-alive connections, in the
  order ``order`` gives: per path oldest first and never
  an older version over a newer one (a superseded version still waiting is dropped),
  a manifest only after the objects it names that the relay holds; a failed upload is
  tried again until it succeeds, one the origin refuses for good is set aside in the
  journal's ``failed/``; segments go up as they arrive (``x-amz-upload-availability:
  STREAMING``) where the origin takes it and a worker is free;
* on start, uploads what an earlier run left in the journal (a ``kill -9``
  included: a half-written entry is discarded, a complete one uploaded) and logs it;
* journals ``DELETE`` in its path's order, only with ``allow_delete`` (else ``405``);
  answers ``GET /metrics`` (Prometheus text) and ``GET /healthz``;
* logs one line per object (logger ``mediastore_ingest.relay.relay``, INFO);
  ``SigningRelay.drain`` (and ``close``) stops accepting,
  reads and answers the requests already on the wire, uploads until
  ``shutdown_timeout``, and leaves the rest in the journal for the next start.

The encoders guide (``docs/guides/encoders.md``) shows both ways in: the relay, and
signed cookies passed as a header.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Literal

import attrs

from mediastore_ingest._internal.validate import check_callable
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import IngestClient, IngestConfig
from mediastore_ingest.relay.config import DEFAULT_CACHE_RULES, RelayConfig, is_loopback_host
from mediastore_ingest.relay.forward import Forwarder, logger
from mediastore_ingest.relay.handler import RelayServer
from mediastore_ingest.relay.journal import Journal
from mediastore_ingest.relay.metrics import LATENCY_BUCKETS, RelayStats
from mediastore_ingest.signing.signer import UrlSigner

__all__ = [
    "DEFAULT_CACHE_RULES",
    "LATENCY_BUCKETS",
    "RelayConfig",
    "RelayStats",
    "SigningRelay",
]


class SigningRelay:
    """Accepts unsigned uploads from encoders and forwards them signed.

    ``to`` is the ingest distribution (``https://d1.cloudfront.net``) and ``signer``
    the ``UrlSigner`` its key group trusts (``None``: send
    unsigned, for an origin that allows it); ``auth`` picks signed URLs or cookies.
    ``ingest_config`` sets timeouts, retries, pool size and ``ca_bundle``. Or pass a
    ready ``client`` (not closed by the relay). ``clock`` (monotonic seconds) times
    the uploads.

    Use as a context manager (or ``start`` / ``close``); ``url`` is where
    encoders push.
    """

    def __init__(
        self,
        to: str | None = None,
        *,
        signer: UrlSigner | None = None,
        auth: Literal["url", "cookie"] = "url",
        config: RelayConfig | None = None,
        ingest_config: IngestConfig | None = None,
        client: IngestClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config if config is not None else RelayConfig()
        if not isinstance(self.config, RelayConfig):
            raise InvalidInputError("config must be a RelayConfig")
        check_callable("clock", clock)
        if client is not None:
            if to is not None or signer is not None or ingest_config is not None:
                raise InvalidInputError("give either client= or to=/signer=/ingest_config=")
            if not isinstance(client, IngestClient):
                raise InvalidInputError("client must be an IngestClient")
            self._client = client
            self._owns_client = False
        else:
            if to is None:
                raise InvalidInputError("SigningRelay needs to= (the distribution) or client=")
            base = ingest_config if ingest_config is not None else IngestConfig()
            if not isinstance(base, IngestConfig):
                raise InvalidInputError("ingest_config must be an IngestConfig")
            cfg = attrs.evolve(
                base,
                max_pool_connections=max(base.max_pool_connections,
                                         self.config.upload_workers + 2),
            )
            self._client = IngestClient(to, signer=signer, auth=auth, config=cfg)
            self._owns_client = True
        # A temporary journal is made by start(): constructing a relay touches nothing.
        self._temporary = self.config.journal_dir is None
        self._journal_dir = "" if self._temporary else str(self.config.journal_dir)
        self._journal = Journal(
            self._journal_dir,
            max_bytes=self.config.journal_max_bytes,
            max_objects=self.config.journal_max_objects,
            fsync=self.config.fsync,
        )
        self._forwarder = Forwarder(self.config, self._client, self._journal, clock=clock)
        self._server = RelayServer(self._forwarder, self.config.host, self.config.port)
        self._started = False
        self._left: int | None = None

    def __repr__(self) -> str:
        where = self.url if self._server.running else "stopped"
        return f"SigningRelay({where} -> {self._client.base_url!r})"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> SigningRelay:
        """Open the journal (``RelayError`` with a hint
        if it cannot be used), queue what an earlier run left, start listening;
        returns ``self``."""
        if self._started:
            raise InvalidInputError("a SigningRelay can be started once")
        self._started = True
        if self._temporary:
            self._journal_dir = tempfile.mkdtemp(prefix="mediastore-relay-journal-")
            self._journal.root = Path(self._journal_dir)
        replay = self._journal.open()
        if replay.entries or replay.incomplete or replay.corrupt or replay.superseded:
            logger.warning(
                "relay: journal %s: %d object(s) (%d bytes) from an earlier run to upload, "
                "%d half-written discarded, %d damaged discarded, %d older version(s) "
                "superseded", self._journal_dir, len(replay.entries), replay.bytes,
                replay.incomplete, replay.corrupt, len(replay.superseded),
            )
        if replay.failed:
            logger.warning("relay: journal %s: %d object(s) the origin refused for good "
                           "are kept in %s", self._journal_dir, replay.failed,
                           self._journal.failed)
        self._forwarder.start(replay)
        try:
            self._server.start()
        except BaseException:
            self._forwarder.stop(0)
            self._journal.close()
            raise
        if not is_loopback_host(self.config.host):
            logger.warning("relay: listening on %s, beyond loopback: only peers in %s with "
                           "the token are admitted", self.config.host,
                           ", ".join(self.config.allowed_peers))
        logger.info("relay listening on %s, forwarding to %s (journal %s%s)", self.url,
                    self._client.base_url, self._journal_dir,
                    ", temporary" if self._temporary else "")
        return self

    def drain(self, timeout: float | None = None) -> int:
        """Shut down gracefully: stop accepting connections, keep reading (and
        answering) the requests already on the wire until nothing arrives, upload what
        was journaled, all within ``timeout`` seconds (``config.shutdown_timeout`` by
        default); return how many objects are left in the journal (uploaded on the
        next start with the same ``journal_dir``). Idempotent."""
        if self._left is not None:
            return self._left
        limit = self.config.shutdown_timeout if timeout is None else timeout
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 0:
            raise InvalidInputError(f"timeout must be a number >= 0, not {limit!r}")
        deadline = time.monotonic() + min(float(limit), 10.0 ** 9)
        if self._server.running:
            self._server.drain_deadline = deadline
            self._server.stop()
        if self._started:
            busy = self._forwarder.backlog()
            if busy:
                logger.info("relay: finishing %d upload(s)", busy)
            self._forwarder.wait_uploaded(deadline)
            self._forwarder.stop(max(0.0, deadline - time.monotonic()))
        objects, size = self._journal.depth()
        self._left = objects
        if self._started and objects:
            logger.warning("relay: %d object(s) (%d bytes) not uploaded by the shutdown "
                           "deadline stay in the journal %s%s", objects, size,
                           self._journal_dir,
                           "; start a relay with this journal_dir to upload them"
                           if self._temporary else ", for the next start")
        self._journal.close()
        if self._temporary and self._journal_dir and not objects \
                and not self._journal.failed_count():
            with contextlib.suppress(OSError):
                shutil.rmtree(self._journal_dir)
        return objects

    def wait_uploaded(self, timeout: float = 10.0) -> bool:
        """Wait up to ``timeout`` seconds until every object received so far is
        uploaded (or dropped for a newer version, or set aside); True if so."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInputError(f"timeout must be a number >= 0, not {timeout!r}")
        return self._forwarder.wait_uploaded(time.monotonic() + min(float(timeout), 1e9))

    def close(self) -> None:
        """``drain`` (up to ``config.shutdown_timeout``), then close the client
        (when the relay made it). Idempotent."""
        try:
            self.drain()
        finally:
            if self._owns_client:
                self._client.close()

    def __enter__(self) -> SigningRelay:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- public state --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port``: where encoders push (while running)."""
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._server.port}"

    @property
    def port(self) -> int:
        """The bound TCP port (while running)."""
        return self._server.port

    @property
    def journal_dir(self) -> str:
        """The journal's directory (without ``config.journal_dir``, a temporary one made
        by ``start``; ``""`` before)."""
        return self._journal_dir

    @property
    def client(self) -> IngestClient:
        """The ``IngestClient`` uploads go through."""
        return self._client

    def stats(self) -> RelayStats:
        """A snapshot of the counters."""
        return self._forwarder.metrics.stats()

    def metrics_text(self) -> str:
        """The Prometheus text ``GET /metrics`` answers."""
        return self._forwarder.metrics.render()
