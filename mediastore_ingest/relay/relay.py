"""The signing relay (layer 7): encoders PUT unsigned to loopback, the relay
forwards each object signed, through :class:`~mediastore_ingest.IngestClient`.

Encoders such as ffmpeg, OBS and GStreamer push HLS/DASH segments and manifests with
``PUT`` (or ``POST``), chunked, over keep-alive, and cannot compute a CloudFront
signature per request. Two ways in:

1. **Signed cookies as a header** (no relay): one wildcard custom policy, passed as a
   ``Cookie:`` header for the whole session::

       mediastore-ingest sign-cookies --resource 'https://d1.cloudfront.net/live/*' \\
           --expires +6h --key-id K2JCJMDEHXQW5F --private-key key.pem --format ffmpeg
       # prints: -headers $'Cookie: CloudFront-Policy=...; ...\\r\\n'
       ffmpeg -re -i in.mp4 -c copy -f hls -hls_time 2 -method PUT -http_persistent 1 \\
           -headers $'Cookie: CloudFront-Policy=...\\r\\n' https://d1.cloudfront.net/live/index.m3u8

   ffmpeg's ``dash`` muxer ignores ``-headers``; use ``--format ffmpeg-dash``, which
   prints the same header as ``-http_opts $'headers=\\'Cookie: ...\\r\\n\\''``.

2. **The signing relay** (this module): the encoder pushes to loopback, unsigned::

       mediastore-ingest relay --listen 127.0.0.1:8080 --to https://d1.cloudfront.net \\
           --key-id K2JCJMDEHXQW5F --private-key key.pem --prefix live/channel1/
       ffmpeg -re -i in.mp4 -c copy -f hls -hls_time 2 -method PUT -http_persistent 1 \\
           http://127.0.0.1:8080/index.m3u8

   or in Python::

       with SigningRelay("https://d1.cloudfront.net", signer=signer) as relay:
           run_encoder(output=relay.url + "/live/index.m3u8")

What the relay does with each request:

* admits it only from ``allowed_peers`` (loopback by default); when other addresses
  are allowed, a shared ``token`` is required in ``token_header`` on every request;
* maps ``POST`` to ``PUT``, prefixes the path (``prefix``), picks the Content-Type
  and Cache-Control from per-path rules (manifests short, segments long);
* streams the body on as it arrives (chunked; segments with
  ``x-amz-upload-availability: STREAMING``), so the first bytes of a segment leave
  before the encoder has finished writing it, on the client's pooled keep-alive
  connections;
* keeps the current segment in memory (up to ``max_segment_bytes``) while it reads
  the encoder at the encoder's pace, so a retry (the client's :class:`RetryPolicy`)
  re-sends it without stalling the encoder; at most ``max_in_flight`` segments are
  held at once (further ones get ``503``);
* answers the encoder only when the origin has acknowledged (``200``), or with
  ``502`` when the upload finally failed; such a failure is logged with its path,
  counted, and, with ``spool_dir``, the segment is written to
  ``spool_dir/<object path>`` for a later ``mediastore-ingest sync SPOOL --to ''``;
* ``DELETE`` is forwarded only with ``allow_delete`` (else ``405``);
* ``GET /metrics`` answers Prometheus text (requests, bytes, upload latency
  histogram, retries, failures, spooled); ``GET /healthz`` answers ``ok``;
* logs one status line per object (logger ``mediastore_ingest.relay.relay``, INFO);
* :meth:`SigningRelay.close` stops accepting, lets in-flight uploads finish (up to
  ``shutdown_timeout``), then closes the connections.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hmac
import ipaddress
import logging
import os
import select
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

import attrs

from mediastore_ingest.errors import (
    BodyNotRetryableError,
    IngestError,
    InvalidInputError,
    MediaStoreIngestError,
    ObjectNotFoundError,
    RequestBodyError,
    RetriesExhaustedError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    PutResult,
    guess_content_type,
)
from mediastore_ingest.ingest.media import MANIFEST_EXTENSIONS, _check_str
from mediastore_ingest.origins import validate_content_type, validate_path
from mediastore_ingest.server.base import LocalHTTPServer, RequestHandler
from mediastore_ingest.signing.signer import UrlSigner

__all__ = [
    "DEFAULT_CACHE_RULES",
    "LATENCY_BUCKETS",
    "RelayConfig",
    "RelayStats",
    "SigningRelay",
]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024

#: Default Cache-Control rules (first match wins): manifests are re-read every
#: target duration, segments never change once written.
DEFAULT_CACHE_RULES: tuple[tuple[str, str], ...] = (
    *((f"*{ext}", "max-age=1") for ext in sorted(MANIFEST_EXTENSIONS)),
    ("*", "max-age=31536000"),
)

#: Upper bounds (seconds) of the upload latency histogram.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)

_LOOPBACK = ("127.0.0.0/8", "::1/128")


# --- configuration ---------------------------------------------------------------------


def _networks(value: object) -> tuple[str, ...]:
    # One address or network object is one item (iterating a network object would
    # walk every address in it: 16 million for a /8).
    if isinstance(value, (str, ipaddress.IPv4Network, ipaddress.IPv6Network,
                          ipaddress.IPv4Address, ipaddress.IPv6Address)):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        items = tuple(value)
    else:
        raise InvalidInputError(
            f"allowed_peers must be addresses or CIDR ranges, not {type(value).__name__}"
        )
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(str(item), strict=False)))
        except ValueError as exc:
            raise InvalidInputError(f"not an address or CIDR range: {item!r}") from exc
    return tuple(out)


def _rules(value: object) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
        value = tuple(value.items())
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise InvalidInputError(
            "rules are a sequence of (glob, value) pairs of strings (or a dict; () for "
            f"none), not {type(value).__name__}"
        )
    out = []
    for item in value:
        pair = isinstance(item, tuple) and len(item) == 2
        if not (pair and all(isinstance(x, str) for x in item)):
            raise InvalidInputError(f"a rule is a (glob, value) pair of strings, not {item!r}")
        glob, text = item
        if not glob or any(c in text for c in "\r\n\0") or not text:
            raise InvalidInputError(f"invalid rule {item!r}")
        out.append((glob, text))
    return tuple(out)


def _spool_dir(value: object) -> str | None:
    if value is None:
        return None
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str) or not path or "\0" in path:
        raise InvalidInputError(f"spool_dir must be a directory path or None, not {value!r}")
    return path


def _check_prefix(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError("prefix must be a str")
    if value.strip("/"):
        validate_path(value.strip("/"))


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{attribute.name} must be an int >= 1, not {value!r}")


def _positive_number(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(f"{attribute.name} must be a number > 0, not {value!r}")


def _header_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or not all(
        c.isalnum() or c in "-_" for c in value
    ):
        raise InvalidInputError(f"invalid header name {value!r}")


def _is_loopback_network(text: str) -> bool:
    net = ipaddress.ip_network(text)
    return net.network_address.is_loopback and net.broadcast_address.is_loopback


@attrs.frozen
class RelayConfig:
    """How a :class:`SigningRelay` listens and what it does with each request.

    ``host``/``port``: where to listen (``port=0`` picks a free one). ``prefix`` is
    put before every request path (``live/channel1/``). ``content_types`` and
    ``cache_control`` are ``(glob, value)`` rules matched against the object path,
    first match wins; without a Content-Type rule the type is guessed from the
    extension, then taken from the encoder's header. ``streaming_segments`` uploads
    non-manifest objects with ``x-amz-upload-availability: STREAMING`` (readable
    while written; MediaStore limits such objects to 10 MB). ``allowed_peers`` are
    the client addresses admitted (loopback by default); allowing any other address
    requires ``token``, which every request must then carry in ``token_header``.
    ``max_segment_bytes`` caps one object (``413`` above it), ``max_in_flight`` the
    objects held at once (``503`` above it): together they bound the memory used.
    ``spool_dir`` receives objects whose upload finally failed.
    ``shutdown_timeout`` is how long :meth:`SigningRelay.close` waits for in-flight
    uploads.
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(default=0)
    prefix: str = attrs.field(default="", validator=_check_prefix)
    content_types: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_rules)
    cache_control: tuple[tuple[str, str], ...] = attrs.field(
        default=DEFAULT_CACHE_RULES, converter=_rules
    )
    streaming_segments: bool = True
    allow_delete: bool = False
    allowed_peers: tuple[str, ...] = attrs.field(default=_LOOPBACK, converter=_networks)
    token: str | None = attrs.field(default=None, repr=False)
    token_header: str = attrs.field(default="X-Relay-Token", validator=_header_name)
    max_segment_bytes: int = attrs.field(default=25 * MiB, validator=_positive_int)
    max_in_flight: int = attrs.field(default=64, validator=_positive_int)
    spool_dir: str | None = attrs.field(default=None, converter=_spool_dir)
    shutdown_timeout: float = attrs.field(default=30.0, validator=_positive_number)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not (
            0 <= self.port <= 65535
        ):
            raise InvalidInputError(f"invalid port {self.port!r}")
        if self.token is not None and (
            not isinstance(self.token, str) or len(self.token) < 16
            or any(c in self.token for c in "\r\n\0")
        ):
            raise InvalidInputError("token must be a one-line string of at least 16 characters")
        remote = [n for n in self.allowed_peers if not _is_loopback_network(n)]
        if remote and self.token is None:
            raise InvalidInputError(
                f"allowing non-loopback peers ({', '.join(remote)}) requires a token"
            )
        for _, value in self.content_types:
            validate_content_type(value)
        if not isinstance(self.host, str):
            raise InvalidInputError(f"host must be a str (an IP address), not {self.host!r}")
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            if self.host != "localhost":
                raise InvalidInputError(f"host must be an IP address, not {self.host!r}") from None

    def object_path(self, request_path: str) -> str:
        """The object path for an encoder's request target (prefix added, query
        dropped, percent-escapes decoded); InvalidPathError if the origin would refuse it."""
        _check_str("request_path", request_path)
        path = unquote(urlsplit(request_path).path).lstrip("/")
        prefix = self.prefix.strip("/")
        return validate_path(f"{prefix}/{path}" if prefix else path)

    def content_type_for(self, path: str, sent: str | None = None) -> str:
        """The Content-Type to store ``path`` with (rule, extension, then ``sent``)."""
        _check_str("path", path)
        if sent is not None:
            _check_str("sent", sent)
        for glob, value in self.content_types:
            if fnmatch.fnmatchcase(path, glob):
                return value
        guessed = guess_content_type(path, default="")
        if guessed:
            return guessed
        if sent:
            candidate = sent.split(";", 1)[0].strip()
            with contextlib.suppress(ValueError):
                return validate_content_type(candidate)
        return "application/octet-stream"

    def cache_control_for(self, path: str) -> str | None:
        """The Cache-Control of ``path`` by the first matching rule (None: none)."""
        _check_str("path", path)
        for glob, value in self.cache_control:
            if fnmatch.fnmatchcase(path, glob):
                return value
        return None

    def availability_for(self, path: str) -> str | None:
        """``"streaming"`` for segments when ``streaming_segments``, else None."""
        _check_str("path", path)
        if not self.streaming_segments:
            return None
        name = path.rpartition("/")[2].lower()
        if any(name.endswith(ext) for ext in MANIFEST_EXTENSIONS):
            return None
        return "streaming"


# --- metrics -----------------------------------------------------------------------------


@attrs.frozen
class RelayStats:
    """A snapshot of a relay's counters."""

    requests: int
    uploaded: int
    failed: int
    spooled: int
    aborted: int
    deleted: int
    retries: int
    bytes_received: int
    bytes_uploaded: int
    in_flight: int


class _Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.uploaded = self.failed = self.spooled = self.spool_errors = 0
        self.aborted = self.deleted = self.retries = self.refused = 0
        self.bytes_received = self.bytes_uploaded = 0
        self.in_flight = 0
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.latency_count = 0
        self.latency_sum = 0.0

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def request(self, method: str, status: int) -> None:
        with self._lock:
            key = (method, status)
            self.requests[key] = self.requests.get(key, 0) + 1

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.latency_count += 1
            self.latency_sum += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def stats(self) -> RelayStats:
        with self._lock:
            return RelayStats(
                requests=sum(self.requests.values()),
                uploaded=self.uploaded,
                failed=self.failed,
                spooled=self.spooled,
                aborted=self.aborted,
                deleted=self.deleted,
                retries=self.retries,
                bytes_received=self.bytes_received,
                bytes_uploaded=self.bytes_uploaded,
                in_flight=self.in_flight,
            )

    def render(self) -> str:
        p = "mediastore_relay_"
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {p}{name} {help_}")
            lines.append(f"# TYPE {p}{name} {kind}")
            for suffix, value in samples:
                text = repr(value) if isinstance(value, float) else str(value)
                lines.append(f"{p}{name}{suffix} {text}")

        with self._lock:
            metric(
                "requests_total", "counter", "Requests answered, by method and status.",
                [
                    (f'{{method="{m}",status="{s}"}}', n)
                    for (m, s), n in sorted(self.requests.items())
                ],
            )
            metric("received_bytes_total", "counter", "Body bytes read from encoders.",
                   [("", self.bytes_received)])
            metric("uploaded_bytes_total", "counter", "Body bytes acknowledged by the origin.",
                   [("", self.bytes_uploaded)])
            metric("uploads_total", "counter", "Objects the origin acknowledged.",
                   [("", self.uploaded)])
            metric("retries_total", "counter", "Upload attempts after the first.",
                   [("", self.retries)])
            metric("failures_total", "counter", "Objects whose upload finally failed.",
                   [("", self.failed)])
            metric("spooled_total", "counter", "Failed objects written to the spool directory.",
                   [("", self.spooled)])
            metric("spool_errors_total", "counter", "Failed objects that could not be spooled.",
                   [("", self.spool_errors)])
            metric("aborted_total", "counter", "Uploads the encoder broke off (nothing stored).",
                   [("", self.aborted)])
            metric("deletes_total", "counter", "Deletions forwarded and acknowledged.",
                   [("", self.deleted)])
            metric("refused_total", "counter", "Requests refused (peer, token, method, limits).",
                   [("", self.refused)])
            metric("in_flight", "gauge", "Objects being received or uploaded.",
                   [("", self.in_flight)])
            samples: list[tuple[str, float]] = []
            for bound, n in zip(LATENCY_BUCKETS, self.buckets, strict=True):
                samples.append((f'_bucket{{le="{bound}"}}', n))
            samples.append(('_bucket{le="+Inf"}', self.latency_count))
            samples.append(("_sum", float(self.latency_sum)))
            samples.append(("_count", self.latency_count))
            metric(
                "upload_seconds", "histogram",
                "Seconds from the first body byte to the origin's acknowledgement.", samples,
            )
        return "\n".join(lines) + "\n"


# --- one segment in memory ------------------------------------------------------------


class _EncoderGone(Exception):
    """The encoder's body ended badly; nothing is stored."""


class _Segment:
    """The body of one object: filled by the handler thread at the encoder's pace,
    read by the upload thread as it arrives (and kept whole, for spooling)."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self.size = 0

    def append(self, piece: bytes) -> None:
        data = bytes(piece)
        with self._cond:
            self._pieces.append(data)
            self.size += len(data)
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._done = True
            self._cond.notify_all()

    def stream(self) -> Iterator[bytes]:
        """The pieces as they arrive; raises _EncoderGone if the body broke."""
        index = 0

        def ready() -> bool:
            return index < len(self._pieces) or self._done

        while True:
            with self._cond:
                self._cond.wait_for(ready)
                if self._error is not None:
                    raise _EncoderGone(str(self._error))
                pieces = self._pieces[index:]
                if not pieces:
                    return  # done, and everything was handed out
            index += len(pieces)
            yield from pieces

    def complete(self) -> bytes | None:
        """Wait for the end of the body: all of it, or None if the encoder broke it."""
        with self._cond:
            self._cond.wait_for(lambda: self._done)
            if self._error is not None:
                return None
            return b"".join(self._pieces)


@attrs.frozen
class _Outcome:
    status: int
    document: dict[str, object]


# --- the HTTP side -----------------------------------------------------------------------


class _RelayHandler(RequestHandler):
    server_version = "mediastore-ingest-relay"

    @property
    def relay(self) -> SigningRelay:
        return cast(_RelayServer, self.owner).relay

    # ffmpeg's HLS/DASH muxers with -http_persistent 1 do not wait for the answer to
    # one PUT before sending the next on the same connection, and close it when done
    # without reading the last answers (the kernel then resets the connection). The
    # requests they sent are still queued on our side, so a failed write must not end
    # the connection: the rest is read and forwarded, and answers are dropped.
    _peer_not_reading = False

    def _discard_head(self) -> None:
        buffered = getattr(self, "_headers_buffer", None)
        if isinstance(buffered, list):
            buffered.clear()

    def _write_safely(self, send: Callable[[], None]) -> None:
        if self._peer_not_reading:
            return
        try:
            send()
        except OSError as exc:
            self._peer_not_reading = True
            self._discard_head()
            logger.debug("relay: %s stopped reading answers (%s); still reading its requests",
                         self.peer, exc)

    def _answer(self, status: int, document: dict[str, object], method: str) -> None:
        self.relay._metrics.request(method, status)
        self._write_safely(
            lambda: self.send_json(status, document, head=self.command == "HEAD")
        )

    def _refuse(self, status: int, message: str, method: str | None = None) -> None:
        self.relay._metrics.add(refused=1)
        if status in (403, 503):
            self.close_connection = True
        self._answer(status, {"error": message}, method or self.command)

    def _admitted(self) -> bool:
        relay = self.relay
        try:
            peer = ipaddress.ip_address(self.peer)
        except ValueError:
            peer = None
        if peer is None or not any(peer in net for net in relay._networks):
            logger.warning("relay: refused %s %s from %s (peer not allowed)",
                           self.command, self.path[:200], self.peer)
            self._refuse(403, "peer address not allowed")
            return False
        token = relay.config.token
        if token is not None:
            given = self.headers.get(relay.config.token_header) or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._refuse(403, f"missing or wrong {relay.config.token_header}")
                return False
        return True

    def do_GET(self) -> None:
        """``/metrics`` (Prometheus text) and ``/healthz``."""
        if not self._admitted():
            return
        route = urlsplit(self.path).path
        if route == "/metrics":
            body = self.relay._metrics.render().encode()
            self.relay._metrics.request("GET", 200)
            self._write_safely(lambda: self.send_body(
                200, body, content_type="text/plain; version=0.0.4; charset=utf-8",
                head=self.command == "HEAD",
            ))
        elif route == "/healthz":
            self.relay._metrics.request("GET", 200)
            self._write_safely(lambda: self.send_body(
                200, b"ok\n", content_type="text/plain", head=self.command == "HEAD"
            ))
        else:
            self._refuse(405, "the relay accepts PUT, POST and DELETE (GET only /metrics)")

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        """Forward an object upload (POST is treated as PUT)."""
        if not self._admitted():
            return
        relay = self.relay
        try:
            path = relay.config.object_path(self.path)
        except ValueError as exc:
            self._refuse(400, str(exc), "PUT")
            return
        if not relay._enter():
            self._refuse(503, "the relay is at its in-flight limit", "PUT")
            return
        try:
            self._put(path)
        finally:
            relay._leave()

    do_POST = do_PUT

    def _put(self, path: str) -> None:
        relay = self.relay
        config = relay.config
        segment = _Segment()
        future = relay._executor.submit(
            relay._upload, path, segment, self.headers.get("Content-Type")
        )
        try:
            for piece in self.iter_body(max_size=config.max_segment_bytes):
                segment.append(piece)
                relay._metrics.add(bytes_received=len(piece))
        except RequestBodyError as exc:
            segment.fail(exc)
            with contextlib.suppress(Exception):
                future.result()
            if exc.reason == "too_large":
                logger.error("relay: %s refused: over %d bytes", path, config.max_segment_bytes)
                self._refuse(413, str(exc), "PUT")
            elif exc.reason == "malformed":
                self._refuse(400, str(exc), "PUT")
            else:
                relay._metrics.request("PUT", 499)
                self.close_connection = True
            return
        segment.finish()
        try:
            outcome = future.result()
        except Exception as exc:  # unexpected, in _upload: still count, spool and answer
            outcome = relay._failed(path, segment, exc, unexpected=True)
        self._answer(outcome.status, outcome.document, "PUT")

    def do_DELETE(self) -> None:
        """Forward a deletion when ``allow_delete``; else 405."""
        if not self._admitted():
            return
        relay = self.relay
        if not relay.config.allow_delete:
            self._refuse(405, "deletion is not enabled on this relay (allow_delete)")
            return
        try:
            path = relay.config.object_path(self.path)
        except ValueError as exc:
            self._refuse(400, str(exc))
            return
        if not relay._enter():
            self._refuse(503, "the relay is at its in-flight limit")
            return
        try:
            outcome = relay._delete(path)
        finally:
            relay._leave()
        self._answer(outcome.status, outcome.document, "DELETE")


class _RelayServer(LocalHTTPServer):
    handler_class = _RelayHandler
    keeps_request_log = False  # a long-running relay: metrics count instead

    def __init__(self, relay: SigningRelay, host: str, port: int) -> None:
        # The base refuses non-loopback binds (it is built for tests); a relay may be
        # told to listen elsewhere, with a peer allow-list and a token (RelayConfig).
        super().__init__(host="127.0.0.1", port=port)
        self._host = host
        self.relay = relay

    def _on_stop(self) -> None:
        self.relay._drain()

    def has_pending_input(self) -> bool:
        """True when a live connection has bytes (or an EOF) not read yet."""
        server = self._server
        if server is None:
            return False
        with server._connections_lock:  # the base server's live connections
            live = [s for s in server._connections if s.fileno() >= 0]
        if not live:
            return False
        try:
            readable, _, _ = select.select(live, [], [], 0)
        except (OSError, ValueError):
            return True  # a socket closed meanwhile: look again
        return bool(readable)


# --- the relay ----------------------------------------------------------------------------


def _make_spool_dir(root: str) -> None:
    """Create the spool directory now, so a bad one is refused before any segment
    depends on it."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot use spool directory {root!r}: {exc}") from exc


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
        if not callable(clock):
            raise InvalidInputError(f"clock must be callable, not {clock!r}")
        if self.config.spool_dir is not None:
            _make_spool_dir(self.config.spool_dir)
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
        self._clock = clock
        self._networks = tuple(ipaddress.ip_network(n) for n in self.config.allowed_peers)
        self._metrics = _Metrics()
        self._state = threading.Condition()
        self._draining = False
        self._executor = ThreadPoolExecutor(
            self.config.max_in_flight, thread_name_prefix="relay-upload"
        )
        self._server = _RelayServer(self, self.config.host, self.config.port)
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
        self._executor.shutdown(wait=True)
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
        return self._metrics.stats()

    def metrics_text(self) -> str:
        """The Prometheus text ``GET /metrics`` answers."""
        return self._metrics.render()

    # --- in-flight accounting ------------------------------------------------------------

    def _enter(self) -> bool:
        with self._state:
            if self._metrics.in_flight >= self.config.max_in_flight:
                return False
            self._metrics.add(in_flight=1)
            return True

    def _leave(self) -> None:
        with self._state:
            self._metrics.add(in_flight=-1)
            self._state.notify_all()

    def _drain(self) -> None:
        """Called once the listener has stopped accepting: wait until no object is in
        flight and no connection has unread bytes (ffmpeg sends its last requests
        without waiting for answers, so they can still be queued), for two checks in
        a row, or until ``shutdown_timeout``."""
        deadline = self._clock() + self.config.shutdown_timeout
        quiet = 0
        with self._state:
            self._draining = True
            if self._metrics.in_flight:
                logger.info("relay: finishing %d in-flight upload(s)", self._metrics.in_flight)
            while quiet < 2:
                if self._clock() >= deadline:
                    logger.error(
                        "relay: %d upload(s) still in flight after %.0f s; closing anyway",
                        self._metrics.in_flight, self.config.shutdown_timeout,
                    )
                    return
                busy = self._metrics.in_flight > 0 or self._server.has_pending_input()
                quiet = 0 if busy else quiet + 1
                self._state.wait(0.05)

    # --- the work ---------------------------------------------------------------------------

    def _upload(self, path: str, segment: _Segment, sent_type: str | None) -> _Outcome:
        config = self.config
        client = self._client
        body: object = segment.stream()
        if client.config.sends_content_sha256:  # the hash must be known before sending
            data = segment.complete()
            if data is None:
                self._metrics.add(aborted=1)
                return _Outcome(499, {"error": "the encoder broke off the body"})
            body = data
        started = self._clock()
        try:
            result: PutResult = client.put(
                path,
                body,
                content_type=config.content_type_for(path, sent_type),
                cache_control=config.cache_control_for(path),
                # S3 behind OAC takes no streaming uploads (MediaStore-only header).
                upload_availability=(
                    None if client.config.origin == "s3" else config.availability_for(path)
                ),
            )
        except _EncoderGone as exc:
            self._metrics.add(aborted=1)
            logger.warning("relay: %s: the encoder broke off the body (%s); nothing stored",
                           path, exc)
            return _Outcome(499, {"error": "the encoder broke off the body"})
        except MediaStoreIngestError as exc:
            return self._failed(path, segment, exc)
        # Anything else (a bug, an untranslated error) is caught where the handler
        # waits for this task, which covers the whole of it.
        try:  # the segment is stored: bookkeeping must not turn that into a failure
            elapsed = self._clock() - started
            self._metrics.add(
                uploaded=1, retries=result.attempts - 1, bytes_uploaded=result.bytes_sent
            )
            self._metrics.observe(elapsed)
            logger.info("relay: PUT %s %d bytes -> %d, %d attempt(s), %.3f s",
                        path, result.bytes_sent, result.status, result.attempts, elapsed)
        except Exception:
            logger.exception("relay: PUT %s stored, but recording it failed", path)
        return _Outcome(200, {
            "Path": path,
            "ETag": result.etag,
            "ContentSHA256": result.content_sha256,
            "Attempts": result.attempts,
        })

    def _failed(
        self, path: str, segment: _Segment, exc: BaseException, *, unexpected: bool = False
    ) -> _Outcome:
        """Count, log and spool a segment whose upload finally failed. ``unexpected``
        (not a package error: a bug) is logged with its traceback and answered 502."""
        attempts = 1
        if isinstance(exc, (RetriesExhaustedError, BodyNotRetryableError)):
            attempts = exc.attempts
        # an unexpected error is a bug: logged at ERROR with its traceback
        what = f"unexpected {type(exc).__name__}: {exc}" if unexpected else str(exc)
        trace = exc if unexpected else None
        data = segment.complete()  # keep reading the encoder: the whole object is wanted
        if data is None:
            self._metrics.add(aborted=1, retries=attempts - 1)
            logger.log(logging.ERROR if unexpected else logging.WARNING,
                       "relay: %s: upload failed (%s) and the encoder broke off the body",
                       path, what, exc_info=trace)
            return _Outcome(499, {"error": "the encoder broke off the body"})
        self._metrics.add(failed=1, retries=attempts - 1)
        spooled = self._spool(path, data)
        logger.error(
            "relay: FAILED PUT %s (%d bytes, %d attempt(s)): %s%s", path, len(data), attempts,
            what, f"; spooled to {spooled}" if spooled else "; NOT spooled", exc_info=trace,
        )
        status = getattr(exc, "status", None)
        if unexpected:
            code = 502
        elif isinstance(exc, ValueError):
            code = 400
        elif isinstance(status, int) and 400 <= status < 500 and status != 429:
            code = status
        else:
            code = 502
        # An unexpected error's text is for the relay's log, not for the encoder.
        shown = "internal error in the relay (see its log)" if unexpected else what
        return _Outcome(code, {"error": shown, "Path": path, "Spooled": spooled})

    def _spool(self, path: str, data: bytes) -> str | None:
        root = self.config.spool_dir
        if root is None:
            return None
        target = Path(root, *path.split("/"))
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except Exception as exc:  # OSError, or anything else: never lose the answer
            self._metrics.add(spool_errors=1)
            logger.error("relay: cannot spool %s to %s: %s", path, target, exc,
                         exc_info=None if isinstance(exc, OSError) else exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None
        self._metrics.add(spooled=1)
        return str(target)

    def _delete(self, path: str) -> _Outcome:
        started = self._clock()
        try:
            self._client.delete(path)
        except ObjectNotFoundError as exc:
            logger.info("relay: DELETE %s -> 404", path)
            return _Outcome(404, {"error": str(exc), "Path": path})
        except IngestError as exc:
            self._metrics.add(failed=1)
            logger.error("relay: FAILED DELETE %s: %s", path, exc)
            return _Outcome(502, {"error": str(exc), "Path": path})
        self._metrics.add(deleted=1)
        logger.info("relay: DELETE %s -> 204, %.3f s", path, self._clock() - started)
        return _Outcome(200, {"Path": path})
