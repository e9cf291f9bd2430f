"""``LocalEdge``: a CloudFront distribution's edge, on loopback.

It does to each viewer request what CloudFront does in front of a MediaStore (or S3)
origin, closely enough to test an encoder or an ingest client end to end:

* refuses methods the cache behaviour does not allow (``403``, like CloudFront);
* verifies signed URLs and signed cookies with ``UrlVerifier``
  against a key group (key id -> public key), with an injectable clock and the
  viewer's address for ``AWS:SourceIp``; a failure is a CloudFront-style ``403``
  with an XML body (``<Error><Code>AccessDenied</Code>…``) and the verification
  error's class in ``X-Edge-Error-Detail`` for debugging;
* strips CloudFront's query parameters (``Expires``, ``Policy``, ``Signature``,
  ``Key-Pair-Id``, ``Hash-Algorithm``) and ``CloudFront-*`` cookies, sets the origin
  custom headers (``User-Agent: MediaStore-Secret-…`` overwrites the viewer's; without
  one the origin sees ``User-Agent: Amazon CloudFront``), drops ``Authorization`` on
  GET/HEAD/OPTIONS, adds ``Via``, ``X-Amz-Cf-Id`` and ``X-Forwarded-For``;
* forwards over HTTPS (verifying the origin's certificate against a CA bundle) on
  pooled keep-alive connections, streaming both bodies piece by piece: a chunked
  upload goes out chunked as it arrives, a fixed-length one with its length; the
  response is relayed as it comes (chunked responses chunk by chunk). Nothing is
  buffered whole;
* answers ``502`` when the origin cannot be reached and ``504`` when it does not
  answer in time, and otherwise passes the origin's status, headers and body through;
* injects the faults of a ``FaultPlan``.

What it received is in ``LocalEdge.requests`` (viewer side, with the status it
answered), what it sent to the origin in ``LocalEdge.forwarded``, and the faults
it injected in ``LocalEdge.faults_injected`` / ``LocalEdge.fault_log``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import cast
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import urllib3
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ReadTimeoutError

from mediastore_ingest._internal.redact import SECRET_HEADERS, redact_headers
from mediastore_ingest._internal.show import shown, type_name
from mediastore_ingest._internal.validate import (
    check,
    check_callable,
    check_int,
    check_number,
    check_path,
    check_port,
    check_str,
    check_strs,
    instance_of,
    one_line,
    optional,
    parse_http_url,
)
from mediastore_ingest.errors import (
    InvalidInputError,
    LocalStackError,
    MalformedSignatureError,
    RequestBodyError,
    UnknownKeyIdError,
    VerificationError,
)
from mediastore_ingest.server.base import RequestHandler, ServerLimits
from mediastore_ingest.signing.policy import RESERVED_QUERY_PARAMS, Policy
from mediastore_ingest.signing.signer import COOKIE_NAMES
from mediastore_ingest.signing.verifier import PublicKeySource, UrlVerifier
from mediastore_ingest.testing._faults import Fault, FaultKind, FaultPlan
from mediastore_ingest.testing._mediastore import LocalContainer
from mediastore_ingest.testing._oac import OriginAccessControl
from mediastore_ingest.testing._recording import ForwardedRequest
from mediastore_ingest.testing._tls import LocalCA, TLSServer

__all__ = [
    "FORBIDDEN_ORIGIN_HEADERS",
    "INGEST_METHODS",
    "PLAYBACK_METHODS",
    "LocalEdge",
]

logger = logging.getLogger(__name__)

#: Allowed methods of an ingest cache behaviour (CloudFront's widest set).
INGEST_METHODS: tuple[str, ...] = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
#: Allowed methods of a playback cache behaviour.
PLAYBACK_METHODS: tuple[str, ...] = ("GET", "HEAD")
_METHOD_SETS = (
    frozenset(PLAYBACK_METHODS),
    frozenset((*PLAYBACK_METHODS, "OPTIONS")),
    frozenset(INGEST_METHODS),
)

#: Origin custom header names CloudFront refuses (``X-Amz-`` and ``X-Edge-`` prefixes too).
FORBIDDEN_ORIGIN_HEADERS = frozenset(
    {
        "cache-control", "connection", "content-length", "cookie", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range",
        "if-unmodified-since", "max-forwards", "pragma", "proxy-authorization",
        "proxy-connection", "range", "request-range", "te", "trailer",
        "transfer-encoding", "upgrade", "via", "x-real-ip",
    }
)
_FORBIDDEN_PREFIXES = ("x-amz-", "x-edge-")

# Never copied from the viewer to the origin (hop by hop, or set by the edge itself).
_VIEWER_HEADERS_DROPPED = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "expect", "content-length",
        "user-agent", "cookie", "via", "x-amz-cf-id", "x-forwarded-for",
    }
)
# Never copied from the origin's response to the viewer (hop by hop, or re-made here).
_ORIGIN_HEADERS_DROPPED = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length", "server", "date",
    }
)
_PIECE = 64 * 1024
_CF_USER_AGENT = "Amazon CloudFront"
_ONE_LINE = one_line()


class _DropFault(Exception):
    """Raised from the forwarded body to cut the request (a ``drop_request`` fault)."""


class _MissingSignature(MalformedSignatureError):
    """No signed URL parameters and no signed cookies (CloudFront's ``MissingKey``)."""


def _strip_reserved(query: str) -> str:
    if not query:
        return ""
    kept = [p for p in query.split("&") if p and p.partition("=")[0] not in RESERVED_QUERY_PARAMS]
    return "&".join(kept)


def _query_names(query: str) -> set[str]:
    return {p.partition("=")[0] for p in query.split("&") if p} if query else set()


def _header_safe(text: str, limit: int = 300) -> str:
    cleaned = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return cleaned[:limit]


def _check_origin_headers(headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidInputError(
            f"origin_headers must be a mapping of header name -> value, "
            f"not {type_name(headers)}"
        )
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not name.isascii() or ":" in name:
            raise InvalidInputError(f"invalid origin custom header name {shown(name)}")
        lname = name.lower()
        if lname in FORBIDDEN_ORIGIN_HEADERS or lname.startswith(_FORBIDDEN_PREFIXES):
            raise InvalidInputError(
                f"CloudFront does not allow {name!r} as an origin custom header"
            )
        if not _ONE_LINE.test(value):  # the value may be a secret: not shown
            raise InvalidInputError(f"origin custom header {name!r} needs a one-line str value")
        out[name] = value
    return out


def _check_methods(methods: object) -> tuple[str, ...]:
    items = tuple(m.upper() for m in check_strs("allowed_methods", methods))
    if frozenset(items) not in _METHOD_SETS:
        raise InvalidInputError(
            "allowed_methods must be one of CloudFront's sets: GET,HEAD | "
            "GET,HEAD,OPTIONS | GET,HEAD,OPTIONS,PUT,POST,PATCH,DELETE"
        )
    return items


class _EdgeHandler(RequestHandler):
    """Serves one viewer connection of a ``LocalEdge``."""

    server_version = "CloudFront"
    _fault: Fault | None = None

    @property
    def edge(self) -> LocalEdge:
        return cast(LocalEdge, self.owner)

    # Every method CloudFront knows arrives here; the behaviour decides what is allowed.
    def do_GET(self) -> None:
        """Serve a viewer request."""
        self._serve()

    do_HEAD = do_OPTIONS = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET
    do_TRACE = do_CONNECT = do_GET

    # --- responses made by the edge itself -------------------------------------------

    def _edge_headers(self, cf_id: str, cache: str) -> list[tuple[str, str]]:
        edge = self.edge
        return [
            ("X-Cache", cache),
            ("Via", edge.via),
            ("X-Amz-Cf-Pop", edge.pop),
            ("X-Amz-Cf-Id", cf_id),
        ]

    def _send_error(
        self,
        status: int,
        code: str,
        message: str,
        cf_id: str,
        *,
        detail: str | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        ).encode()
        headers = self._edge_headers(cf_id, "Error from cloudfront")
        if detail is not None:
            headers.append(("X-Edge-Error-Detail", _header_safe(detail)))
        headers.extend(extra)
        self.send_body(
            status, body, content_type="text/xml", headers=headers, head=self.command == "HEAD"
        )

    # --- the request path ----------------------------------------------------------------

    def _serve(self) -> None:
        edge = self.edge
        cf_id = edge._new_request_id()
        method = self.command
        host = self.headers.get("Host")
        if host is None or host.lower() not in edge.host_names():
            # CloudFront routes by Host: a request naming another host (or none) never
            # reaches this distribution, so its signature is never checked here.
            self._send_error(
                400, "BadRequest", "The request could not be satisfied: unknown Host.",
                cf_id, detail="UnknownHost",
            )
            return
        if method not in edge.allowed_methods:
            self._send_error(
                403,
                "MethodNotAllowed",
                "This distribution is not configured to allow the HTTP request method "
                "that was used for this request. The distribution supports only "
                + ",".join(edge.allowed_methods)
                + ".",
                cf_id,
                detail="MethodNotAllowed",
            )
            return
        split = urlsplit(self.path)
        if split.scheme or split.netloc or not split.path.startswith("/"):
            self._send_error(400, "BadRequest", "Bad request target", cf_id, detail="BadRequest")
            return
        if edge.require_signature:
            url = f"{edge.scheme}://{host}{self.path}"
            try:
                edge._verify(url, split.query, self.headers.get_all("Cookie") or [], self.peer)
            except VerificationError as exc:
                code, message = _cloudfront_denial(exc)
                logger.debug("LocalEdge %s refused %s %s: %s", edge.name, method, split.path, exc)
                self._send_error(
                    403,
                    code,
                    message,
                    cf_id,
                    detail=(
                        "MissingSignature"
                        if isinstance(exc, _MissingSignature)
                        else type(exc).__name__
                    ),
                    extra=[("X-Edge-Error-Message", _header_safe(str(exc)))],
                )
                return
        query = _strip_reserved(split.query)
        origin_path = edge._origin_prefix + split.path + (f"?{query}" if query else "")
        decided = edge._faults.decide()
        fault = None if decided is None else decided.kind
        self._fault = decided
        if fault is not None and fault.startswith("http_5"):
            status = int(fault[-3:])
            edge._injected(decided)
            extra = []
            if edge.fault_plan.retry_after is not None:
                extra.append(("Retry-After", str(edge.fault_plan.retry_after)))
            self._send_error(
                status,
                {502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}[status],
                "The request could not be satisfied (injected fault).",
                cf_id,
                detail=f"InjectedFault:{fault}",
                extra=extra,
            )
            return
        if fault == "delay":
            edge._injected(decided)
            edge._sleep(edge.fault_plan.delay)
        if fault == "drop_request" and not self.has_body():
            edge._injected(decided)
            edge._record_forward(
                ForwardedRequest(method, origin_path, self.path, (), None, 0, False, fault)
            )
            self.abort_connection()
            return
        self._forward(origin_path, cf_id, fault)

    def _origin_request_headers(self, cf_id: str) -> urllib3.HTTPHeaderDict:
        edge = self.edge
        method = self.command
        out = urllib3.HTTPHeaderDict()
        custom = edge._custom_header_names
        for name, value in self.headers.items():
            lname = name.lower()
            if lname in _VIEWER_HEADERS_DROPPED or lname in custom:
                continue
            # CloudFront forwards Authorization only for DELETE/PATCH/POST/PUT (unless
            # a cache policy includes it).
            if lname == "authorization" and method in ("GET", "HEAD", "OPTIONS"):
                continue
            out.add(name, value)
        kept_cookies = [
            part.strip()
            for header in self.headers.get_all("Cookie") or []
            for part in header.split(";")
            if part.strip() and not part.strip().startswith("CloudFront-")
        ]
        if kept_cookies:
            out.add("Cookie", "; ".join(kept_cookies))
        for name, value in edge.origin_headers.items():
            out.add(name, value)
        if "user-agent" not in custom:
            out.add("User-Agent", _CF_USER_AGENT)
        previous = self.headers.get("X-Forwarded-For")
        out.add("X-Forwarded-For", f"{previous}, {self.peer}" if previous else self.peer)
        out.add("Via", edge.via)
        out.add("X-Amz-Cf-Id", cf_id)
        return out

    def _forward(self, origin_path: str, cf_id: str, fault: FaultKind | None) -> None:
        edge = self.edge
        method = self.command
        headers = self._origin_request_headers(cf_id)
        has_body = self.has_body()
        chunked = has_body and self.is_chunked
        length: int | None = None
        if has_body and not chunked:
            try:
                length = self.content_length()
            except RequestBodyError:
                self._send_error(400, "BadRequest", "Invalid Content-Length", cf_id)
                return
            headers["Content-Length"] = str(length)
        sent = [0]
        drop_at: int | None = None
        if fault == "drop_request":
            plan = edge.fault_plan
            drop_at = plan.drop_after_bytes if length is None else min(
                plan.drop_after_bytes, max((length or 0) - 1, 0)
            )

        def body() -> Generator[bytes, None, None]:
            for piece in self.iter_body():
                if drop_at is not None and sent[0] + len(piece) >= drop_at:
                    part = piece[: drop_at - sent[0]]
                    if part:
                        sent[0] += len(part)
                        yield part
                    raise _DropFault
                sent[0] += len(piece)
                yield piece
            if drop_at is not None:  # chunked body shorter than drop_at: withhold its end
                raise _DropFault

        if edge.origin_access is not None:
            # OAC: CloudFront replaces the viewer's Authorization with its own SigV4
            # signature, over the viewer's declared x-amz-content-sha256.
            for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256",
                         "X-Amz-Security-Token"):
                headers.discard(name)
            headers.update(edge.origin_access.signed_headers(
                method, edge._origin_base + origin_path, self.headers.items()
            ))
        pieces = body() if has_body else None
        # Origin custom headers (the ingest secret...) never show in a repr.
        sent_headers = redact_headers(headers.items(), edge._redacted_header_names)

        def record(status: int | None, applied: FaultKind | None) -> None:
            edge._record_forward(
                ForwardedRequest(
                    method, origin_path, self.path, sent_headers, status, sent[0], chunked, applied
                )
            )

        try:
            response = edge._pool().urlopen(
                method,
                origin_path,
                body=pieces,
                headers=headers,
                chunked=chunked,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                timeout=edge._timeout,
            )
        except _DropFault:
            edge._injected(self._fault)
            record(None, "drop_request")
            self.abort_connection()
            return
        except RequestBodyError as exc:
            record(None, None)
            if exc.reason == "malformed":
                self._send_error(400, "BadRequest", "Malformed request body", cf_id)
            else:
                self.abort_connection()
            return
        except (Urllib3HTTPError, OSError) as exc:
            record(None, None)
            logger.debug("LocalEdge %s: origin request failed: %r", edge.name, exc)
            if isinstance(exc, ReadTimeoutError):
                self._send_error(
                    504, "GatewayTimeout", "CloudFront attempted to establish a connection "
                    "with the origin, but the origin did not respond in time.", cf_id,
                    detail=type(exc).__name__,
                )
            else:
                self._send_error(
                    502, "BadGateway", "CloudFront wasn't able to connect to the origin.",
                    cf_id, detail=type(exc).__name__,
                )
            return
        finally:
            if pieces is not None:
                pieces.close()
        reset = fault == "reset_response"
        record(response.status, fault)
        try:
            self._relay(response, cf_id, reset=reset)
        finally:
            response.release_conn()

    def _relay(self, response: urllib3.BaseHTTPResponse, cf_id: str, *, reset: bool) -> None:
        edge = self.edge
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in _ORIGIN_HEADERS_DROPPED
        ]
        headers += self._edge_headers(cf_id, "Miss from cloudfront")
        declared = response.headers.get("Content-Length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        bodiless = (
            self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        )
        if bodiless or length == 0:
            if reset:
                edge._injected(self._fault)
                response.close()
                self.abort_connection()
                return
            self.send_response(response.status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", declared if declared is not None else "0")
            self.end_headers()
            if not bodiless:
                response.drain_conn()
            return
        cut: int | None = None
        if reset:
            cut = edge.fault_plan.reset_after_bytes
            if length is not None:
                cut = min(cut, length - 1)
        self.send_response(response.status)
        for name, value in headers:
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        write = self.write_body if length is not None else self.write_chunk
        sent = 0
        try:
            for piece in response.stream(_PIECE, decode_content=False):
                if cut is not None and sent + len(piece) >= cut:
                    write(piece[: cut - sent])
                    raise _DropFault
                write(piece)
                sent += len(piece)
            if cut is not None:
                raise _DropFault
        except _DropFault:
            edge._injected(self._fault)
            response.close()
            self.abort_connection()
            return
        except (Urllib3HTTPError, OSError) as exc:
            # The origin (or the viewer) went away mid-body: cut the viewer off too,
            # so the truncation is visible, as CloudFront does.
            logger.debug("LocalEdge %s: relay failed: %r", edge.name, exc)
            response.close()
            self.abort_connection()
            return
        if length is None:
            self.end_chunked()


def _cloudfront_denial(exc: VerificationError) -> tuple[str, str]:
    """CloudFront's error code and message for a verification failure."""
    if isinstance(exc, _MissingSignature):
        return "MissingKey", "Missing Key-Pair-Id query parameter or cookie value"
    if isinstance(exc, UnknownKeyIdError):
        return "InvalidKey", "Unknown Key"
    if isinstance(exc, MalformedSignatureError):
        return "MalformedPolicy", "Malformed Policy"
    return "AccessDenied", "Access denied"


class LocalEdge(TLSServer):
    """A CloudFront distribution (one cache behaviour) in front of one origin.

    ``origin``: a running ``LocalContainer`` (its
    endpoint and CA are used) or an origin URL such as ``https://127.0.0.1:8443``
    (a path in it is the distribution's origin path). ``origin_ca_bundle``: the PEM
    CA file to verify an ``https`` origin with (taken from a container by default).

    ``key_group`` maps trusted key ids to public keys (objects, PEM bytes/text or
    paths); with ``require_signature`` (default) every request needs a valid signed
    URL or signed cookies. The key group can change while the edge serves
    (``set_trusted_keys``, ``add_trusted_key``, ``remove_trusted_key``), as
    a key rotation changes CloudFront's. ``allowed_methods`` is one of CloudFront's three sets
    (``INGEST_METHODS`` by default, ``PLAYBACK_METHODS``).
    ``origin_headers`` are the origin custom headers (e.g.
    ``{"User-Agent": secret.user_agent}``). ``clock`` (epoch seconds) is what the
    verifier calls "now". ``faults`` is a ``FaultPlan`` (none by default): one
    decision per request that passed the method and signature checks, in arrival
    order; ``sleep`` performs ``delay`` faults.

    ``tls=True`` serves HTTPS with a certificate from ``ca`` (a new
    ``LocalCA`` if none). The edge itself binds to loopback only. ``limits``
    are its HTTP front end's (``ServerLimits``: head size, deadlines, caps).
    """

    handler_class = _EdgeHandler

    def __init__(
        self,
        origin: str | LocalContainer,
        *,
        key_group: Mapping[str, PublicKeySource] | None = None,
        require_signature: bool = True,
        allowed_methods: Iterable[str] = INGEST_METHODS,
        origin_headers: Mapping[str, str] | None = None,
        origin_access: OriginAccessControl | None = None,
        origin_ca_bundle: str | None = None,
        clock: Callable[[], float] = time.time,
        faults: FaultPlan | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tls: bool = False,
        ca: LocalCA | None = None,
        name: str = "edge",
        origin_connect_timeout: float = 10.0,
        origin_read_timeout: float = 30.0,
        max_origin_connections: int = 16,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
    ) -> None:
        # Everything that can fail comes before the CA (a temporary directory) is made.
        if not isinstance(origin, (str, LocalContainer)):
            raise InvalidInputError(
                "origin must be an http(s) URL or a LocalContainer (for a LocalBucket, "
                f"pass bucket.origin_url), not {type_name(origin)}"
            )
        if require_signature and not key_group:
            raise InvalidInputError("require_signature=True needs a key_group (key id -> key)")
        if faults is not None and not isinstance(faults, FaultPlan):
            raise InvalidInputError("faults must be a FaultPlan")
        if origin_access is not None and not isinstance(origin_access, OriginAccessControl):
            raise InvalidInputError("origin_access must be an OriginAccessControl")
        check("ca", ca, optional(instance_of(LocalCA)))
        check_number("origin_read_timeout", origin_read_timeout)
        check_number("origin_connect_timeout", origin_connect_timeout)
        if not 1 <= origin_read_timeout <= 60:
            raise InvalidInputError(
                f"origin_read_timeout must be 1-60 s (CloudFront's range), "
                f"not {origin_read_timeout!r}"
            )
        check_int("max_origin_connections", max_origin_connections, minimum=1)
        check_port(port)
        check_str("host", host)
        check_str("name", name)
        check_path("origin_ca_bundle", origin_ca_bundle)
        check_callable("clock", clock)
        check_callable("sleep", sleep)
        self.allowed_methods = _check_methods(allowed_methods)
        self.origin_headers: dict[str, str] = _check_origin_headers(origin_headers)
        self._custom_header_names = frozenset(name.lower() for name in self.origin_headers)
        self._redacted_header_names = SECRET_HEADERS | self._custom_header_names
        self.verifier = UrlVerifier(key_group, clock=clock) if key_group else None
        self._verify_clock = clock
        self._key_group: dict[str, PublicKeySource] = dict(key_group or {})
        self._key_group_lock = threading.RLock()
        super().__init__(host=host, port=port, tls=tls, ca=ca, limits=limits)
        self._origin = origin
        self._origin_ca_bundle = origin_ca_bundle
        self.name = name
        self.require_signature = require_signature
        self.origin_access = origin_access
        self.fault_plan = faults if faults is not None else FaultPlan.none()
        self._faults = self.fault_plan.schedule()
        self._sleep = sleep
        self._timeout = urllib3.Timeout(
            connect=origin_connect_timeout, read=origin_read_timeout
        )
        self._max_connections = max_origin_connections
        self._origin_pool: urllib3.HTTPConnectionPool | None = None
        self._origin_prefix = ""
        self._origin_base = ""
        self._forwarded: list[ForwardedRequest] = []
        self._fault_log: list[Fault] = []
        self._state_lock = threading.Lock()
        self.distribution_id = "E" + secrets.token_hex(6).upper()
        self.via = f"1.1 {secrets.token_hex(16)}.cloudfront.net (CloudFront)"
        self.pop = "LOC50-C1"
        self._aliases: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        return f"LocalEdge(name={self.name!r}, {state})"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalEdge:
        """Connect the origin pool and start serving; returns ``self``."""
        origin = self._origin
        if isinstance(origin, str):
            url, ca_bundle = origin, self._origin_ca_bundle
        else:
            if not origin.running:
                raise LocalStackError("start the origin container before the edge")
            url = origin.endpoint
            ca_bundle = self._origin_ca_bundle or origin.ca_bundle
        split = parse_http_url("origin", url)
        if split.query or split.fragment:
            raise InvalidInputError("the origin URL must not have a query or fragment")
        self._origin_prefix = split.path.rstrip("/")
        self._origin_base = f"{split.scheme}://{split.netloc}"
        pool_kwargs: dict[str, object] = {}
        if split.scheme == "https":
            pool_kwargs = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_bundle}
        self._origin_pool = urllib3.connection_from_url(
            f"{split.scheme}://{split.netloc}",
            maxsize=self._max_connections,
            block=False,
            retries=False,
            timeout=self._timeout,
            **pool_kwargs,
        )
        try:
            super().start()
        except BaseException:
            self._origin_pool.close()
            self._origin_pool = None
            raise
        return self

    def __enter__(self) -> LocalEdge:
        return self.start()

    def stop(self) -> None:
        """Stop serving and close the pooled origin connections."""
        super().stop()
        pool, self._origin_pool = self._origin_pool, None
        if pool is not None:
            pool.close()

    # --- test surface --------------------------------------------------------------------

    @property
    def forwarded(self) -> list[ForwardedRequest]:
        """Every request sent (or begun) to the origin, oldest first."""
        with self._state_lock:
            return list(self._forwarded)

    @property
    def faults_injected(self) -> dict[str, int]:
        """Faults really injected so far, by kind (absent kinds are not listed)."""
        with self._state_lock:
            return dict(Counter(f.kind for f in self._fault_log))

    @property
    def fault_log(self) -> list[Fault]:
        """Every injected fault, in order, with the index of the request it hit."""
        with self._state_lock:
            return list(self._fault_log)

    def clear_requests(self) -> None:
        """Forget the viewer requests and the forwarded ones (not the fault schedule)."""
        super().clear_requests()
        with self._state_lock:
            self._forwarded.clear()

    # --- the key group, changed while running (key rotation) --------------------------------

    @property
    def trusted_key_ids(self) -> tuple[str, ...]:
        """The key ids of the key group, sorted."""
        with self._key_group_lock:
            return tuple(sorted(self._key_group))

    def set_trusted_keys(self, key_group: Mapping[str, PublicKeySource]) -> None:
        """Replace the key group (key id -> public key), as ``UpdateKeyGroup`` does;
        requests arriving afterwards are verified against it. Thread-safe."""
        if not isinstance(key_group, Mapping):
            raise InvalidInputError(
                f"key_group must be a mapping of key id -> public key, not {type_name(key_group)}"
            )
        if self.require_signature and not key_group:
            raise InvalidInputError("an edge that requires signatures needs at least one key")
        with self._key_group_lock:
            # Loaded and checked first: a refused key leaves the key group as it was.
            verifier = UrlVerifier(key_group, clock=self._verify_clock) if key_group else None
            self._key_group = dict(key_group)
            self.verifier = verifier  # one reference swap: a request sees one key group

    def add_trusted_key(self, key_id: str, public_key: PublicKeySource) -> None:
        """Add (or replace) one key of the key group."""
        with self._key_group_lock:
            self.set_trusted_keys({**self._key_group, key_id: public_key})

    def remove_trusted_key(self, key_id: str) -> None:
        """Remove one key from the key group; signatures with it are refused from now."""
        with self._key_group_lock:
            if key_id not in self._key_group:
                raise InvalidInputError(f"key {key_id!r} is not in the key group")
            self.set_trusted_keys({k: v for k, v in self._key_group.items() if k != key_id})

    # --- used by the handler --------------------------------------------------------------

    def host_names(self) -> frozenset[str]:
        """The ``Host`` values this edge answers to (lower-case ``host:port``)."""
        port = self.port
        names = {f"127.0.0.1:{port}", f"localhost:{port}", f"{self.host}:{port}"}
        names |= self._aliases
        if (self.scheme, port) in (("https", 443), ("http", 80)):
            names |= {"127.0.0.1", "localhost", self.host}
        return frozenset(name.lower() for name in names)

    def add_host_name(self, name: str) -> None:
        """Answer to ``Host: name`` too (``host:port``, e.g. a proxy in front of the
        edge, as CloudFront answers to a distribution's alternate domain names)."""
        self._aliases |= {check_str("name", name).lower()}

    def _pool(self) -> urllib3.HTTPConnectionPool:
        pool = self._origin_pool
        if pool is None:
            raise LocalStackError(f"LocalEdge {self.name} is not running")
        return pool

    def _new_request_id(self) -> str:
        return secrets.token_urlsafe(42)

    def _injected(self, fault: Fault | None) -> None:
        if fault is None:
            return
        with self._state_lock:
            self._fault_log.append(fault)

    def _record_forward(self, forwarded: ForwardedRequest) -> None:
        with self._state_lock:
            self._forwarded.append(forwarded)

    def _verify(self, url: str, query: str, cookies: list[str], client_ip: str) -> Policy:
        verifier = self.verifier
        assert verifier is not None
        if _query_names(query) & RESERVED_QUERY_PARAMS:
            return verifier.verify_url(url, client_ip=client_ip)
        cookie_header = "; ".join(cookies)
        names = {part.strip().partition("=")[0] for part in cookie_header.split(";")}
        if names & set(COOKIE_NAMES):
            return verifier.verify_cookies(url, cookie_header, client_ip=client_ip)
        raise _MissingSignature("no signed URL parameters and no signed cookies", url=url)
