"""The signing relay: encoders PUT unsigned to it, it forwards each object signed.

Encoders such as ffmpeg, OBS and GStreamer push segments and manifests with ``PUT``
(or ``POST``), chunked, over keep-alive, and cannot sign each request. Point them at
a :class:`SigningRelay` (``mediastore-ingest relay``, or in Python)::

    with SigningRelay("https://d1.cloudfront.net", signer=signer) as relay:
        run_encoder(output=relay.url + "/live/index.m3u8")

What it does with each request (set up in :class:`RelayConfig`):

* admits it only from ``allowed_peers`` (loopback by default); when other addresses
  are allowed, a shared ``token`` is required in ``token_header`` on every request;
* maps ``POST`` to ``PUT``, prefixes the path (``prefix``), picks the Content-Type
  and Cache-Control from per-path rules (manifests short, segments long);
* streams the body on as it arrives (segments with
  ``x-amz-upload-availability: STREAMING`` where the origin takes it) through the
  :class:`~mediastore_ingest.IngestClient`'s pooled keep-alive connections, keeping
  the current segment in memory (up to ``max_segment_bytes``) so a retry re-sends it
  without stalling the encoder; at most ``max_in_flight`` segments are held (``503``
  above it);
* answers the encoder once the origin has (``200``), or ``502`` when the upload
  finally failed; the failure is logged, counted and, with ``spool_dir``, the
  segment is written to ``spool_dir/<object path>``;
* forwards ``DELETE`` only with ``allow_delete`` (else ``405``); answers
  ``GET /metrics`` (Prometheus text) and ``GET /healthz``;
* logs one line per object (logger ``mediastore_ingest.relay.relay``, INFO);
  :meth:`SigningRelay.close` lets in-flight uploads finish (up to
  ``shutdown_timeout``), then closes the connections.

The encoders guide (``docs/guides/encoders.md``) shows both ways in: the relay, and
signed cookies passed as a header.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import attrs

from mediastore_ingest._internal.validate import check_callable
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.ingest import IngestClient, IngestConfig
from mediastore_ingest.relay.config import DEFAULT_CACHE_RULES, RelayConfig
from mediastore_ingest.relay.forward import Forwarder, logger, make_spool_dir
from mediastore_ingest.relay.handler import RelayServer
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
    the :class:`~mediastore_ingest.UrlSigner` its key group trusts (``None``: send
    unsigned, for an origin that allows it); ``auth`` picks signed URLs or cookies.
    ``ingest_config`` sets timeouts, retries, pool size and ``ca_bundle`` (its
    ``retry_buffer_limit`` is raised to ``config.max_segment_bytes``, the segment is
    in memory anyway). Or pass a ready ``client`` (not closed by the relay).
    ``clock`` (monotonic seconds) times the uploads.

    Use as a context manager (or :meth:`start` / :meth:`close`); :attr:`url` is where
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
        if self.config.spool_dir is not None:
            make_spool_dir(self.config.spool_dir)
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
                retry_buffer_limit=max(base.retry_buffer_limit, self.config.max_segment_bytes),
                max_pool_connections=max(base.max_pool_connections, 16),
            )
            self._client = IngestClient(to, signer=signer, auth=auth, config=cfg)
            self._owns_client = True
        self._forwarder = Forwarder(self.config, self._client, clock=clock)
        self._server = RelayServer(self._forwarder, self.config.host, self.config.port)
        self._started = False

    def __repr__(self) -> str:
        where = self.url if self._server.running else "stopped"
        return f"SigningRelay({where} -> {self._client.base_url!r})"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> SigningRelay:
        """Start listening; returns ``self``."""
        if self._started:
            raise InvalidInputError("a SigningRelay can be started once")
        self._started = True
        self._server.start()
        logger.info("relay listening on %s, forwarding to %s", self.url, self._client.base_url)
        return self

    def close(self) -> None:
        """Stop accepting, let in-flight uploads finish (up to
        ``config.shutdown_timeout``), then close every connection. Idempotent."""
        if self._server.running:
            self._server.stop()
        self._forwarder.close()
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
    def client(self) -> IngestClient:
        """The :class:`~mediastore_ingest.IngestClient` uploads go through."""
        return self._client

    def stats(self) -> RelayStats:
        """A snapshot of the counters."""
        return self._forwarder.metrics.stats()

    def metrics_text(self) -> str:
        """The Prometheus text ``GET /metrics`` answers."""
        return self._forwarder.metrics.render()
