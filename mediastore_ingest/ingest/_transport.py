"""The one HTTP seam of the ingest client: :class:`Transport`, its request and
response values, the default :class:`Urllib3Transport` and :class:`MockTransport`.

A transport sends one request and returns one response; it never retries, never
follows redirects and never signs. Every failure of the network below it (urllib3,
``ssl``, ``socket``, ``http.client``) leaves it as a
:class:`~mediastore_ingest.errors.TransportError` carrying the object path.
"""

from __future__ import annotations

import http.client
import logging
import math
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NoReturn, Protocol, runtime_checkable

import attrs
import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from mediastore_ingest.errors import InvalidInputError, TransportError

__all__ = [
    "Headers",
    "MockTransport",
    "Request",
    "Response",
    "Transport",
    "Urllib3Transport",
]

logger = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
# What urllib3 makes of ``retries=False, redirect=False`` on every call, made once.
_NO_RETRIES = urllib3.util.Retry(False, redirect=False)

BodyType = bytes | Iterable[bytes] | None


class Headers:
    """An ordered, case-insensitive, read-only multi-map of HTTP headers."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        given: object = items  # checked: callers pass anything
        if isinstance(given, Mapping):
            pairs: Iterable[object] = given.items()
        elif isinstance(given, Iterable) and not isinstance(given, (str, bytes, bytearray)):
            pairs = given
        else:
            raise InvalidInputError(
                f"headers must be a mapping or (name, value) pairs, not {type(items).__name__}"
            )
        out: list[tuple[str, str]] = []
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                # Only the type: a header item may hold the ingest secret.
                raise InvalidInputError(
                    "headers must be a mapping or (name, value) pairs; got an item of type "
                    f"{type(pair).__name__}"
                    + (f" with {len(pair)} elements" if isinstance(pair, (tuple, list)) else "")
                )
            out.append((str(pair[0]), str(pair[1])))
        self._items: tuple[tuple[str, str], ...] = tuple(out)

    @classmethod
    def _of(cls, items: tuple[tuple[str, str], ...]) -> Headers:
        """Internal: wrap pairs already known to be ``(str, str)`` without copying."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (case-insensitive), or ``default``."""
        lname = name.lower()
        for key, value in self._items:
            if key.lower() == lname:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        lname = name.lower()
        return [v for k, v in self._items if k.lower() == lname]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> tuple[tuple[str, str], ...]:
        """The (name, value) pairs, in order."""
        return self._items

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        shown = [(k, "<redacted>" if k.lower() == "cookie" else v) for k, v in self._items]
        return f"Headers({shown!r})"


def _headers(value: object) -> Headers:
    if isinstance(value, Headers):
        return value
    return Headers(value)  # type: ignore[arg-type]  # it checks what it is given


def _redact_url(url: str) -> str:
    base, q, query = url.partition("?")
    if not q:
        return url
    kept = [p for p in query.split("&") if p.partition("=")[0] not in ("Signature", "Policy")]
    return base + "?" + "&".join(kept)


@attrs.frozen
class Request:
    """One HTTP request as the transport must send it.

    ``url`` is sent exactly as given (it is what was signed). ``body`` is ``None``,
    ``bytes`` or an iterable of byte chunks; the framing header (``Content-Length``
    or ``Transfer-Encoding: chunked``) is already in ``headers``. ``path`` is the
    object path, for error messages. ``stream`` asks for a response whose body is
    read lazily.
    """

    method: str
    url: str = attrs.field(repr=_redact_url)
    headers: Headers = attrs.field(factory=Headers, converter=_headers)
    body: BodyType = attrs.field(default=None, repr=False, eq=False)
    path: str | None = None
    stream: bool = False

    @property
    def chunked(self) -> bool:
        """True when the body is sent with ``Transfer-Encoding: chunked``."""
        return (self.headers.get("Transfer-Encoding") or "").lower() == "chunked"


class Response:
    """A response: ``status``, ``headers`` and a body read with :meth:`read` or
    :meth:`iter_bytes` (exactly once). Close it (or use ``with``) when streaming."""

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        content: bytes | Iterable[bytes] = b"",
        *,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else _headers(headers)
        self._content = content
        self._consumed = False
        self._on_close = on_close

    def iter_bytes(self) -> Iterator[bytes]:
        """Yield the body in pieces as it arrives."""
        if self._consumed:
            raise InvalidInputError("the response body was already read")
        self._consumed = True
        try:
            if isinstance(self._content, bytes):
                if self._content:
                    yield self._content
            else:
                for piece in self._content:
                    if piece:
                        yield piece
        finally:
            self.close()

    def read(self) -> bytes:
        """The whole body."""
        return b"".join(self.iter_bytes())

    def close(self) -> None:
        """Release the connection (idempotent)."""
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status}]>"


@runtime_checkable
class Transport(Protocol):
    """What the ingest client needs from HTTP: send one request, get one response.

    Implementations raise :class:`~mediastore_ingest.errors.TransportError` for
    every connection-level failure and return non-2xx responses as responses.
    """

    def handle(self, request: Request) -> Response:
        """Send ``request`` and return the response (body unread if ``stream``)."""
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...


class MockTransport:
    """A transport that calls ``handler(request) -> Response`` instead of the network
    (httpx's ``MockTransport``). Iterable request bodies are consumed before the
    handler runs, so it sees ``request.body`` as ``bytes``; the handler may raise
    :class:`~mediastore_ingest.errors.TransportError` to simulate a failure."""

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self._handler = handler

    def handle(self, request: Request) -> Response:
        """Materialise the body and call the handler."""
        body = request.body
        if body is not None and not isinstance(body, bytes):
            try:
                body = b"".join(bytes(piece) for piece in body)
            except BodyReadError as exc:
                raise_original(exc)
            request = attrs.evolve(request, body=body)
        return self._handler(request)

    def close(self) -> None:
        """Nothing to release."""


def _timeout(name: str, value: object) -> float:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not math.isfinite(value) or not value > 0
    ):
        raise InvalidInputError(f"{name} must be a finite number > 0, not {value!r}")
    return float(value)


def load_ca_bundle(ca_bundle: object) -> ssl.SSLContext:
    """A verifying TLS context that trusts the system CAs and the PEM file
    ``ca_bundle``; :class:`~mediastore_ingest.errors.InvalidInputError` when the file
    cannot be read or holds no certificate."""
    if not isinstance(ca_bundle, str) or not ca_bundle or "\0" in ca_bundle:
        raise InvalidInputError(f"ca_bundle must be the path of a PEM file, not {ca_bundle!r}")
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise InvalidInputError(
            f"cannot load ca_bundle {ca_bundle!r} (a PEM file of CA certificates): "
            f"{_describe(exc)}"
        ) from exc


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


class Urllib3Transport:
    """The default transport: urllib3 connection pools with keep-alive.

    TLS is verified unless ``verify=False``; ``ca_bundle`` adds a CA file (the local
    stack's); ``proxy_url`` sends everything through an HTTP(S) proxy;
    ``max_pool_connections`` bounds the connections kept per host (set it to the
    upload concurrency). Timeouts are in seconds.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 10,
        verify: bool = True,
        ca_bundle: str | None = None,
        proxy_url: str | None = None,
    ) -> None:
        self._timeout = urllib3.Timeout(
            connect=_timeout("connect_timeout", connect_timeout),
            read=_timeout("read_timeout", read_timeout),
        )
        if (
            isinstance(max_pool_connections, bool) or not isinstance(max_pool_connections, int)
            or max_pool_connections < 1
        ):
            raise InvalidInputError(
                f"max_pool_connections must be an int >= 1, not {max_pool_connections!r}"
            )
        if not isinstance(verify, bool):
            raise InvalidInputError(f"verify must be True or False, not {verify!r}")
        if proxy_url is not None and not isinstance(proxy_url, str):
            raise InvalidInputError(
                f"proxy_url must be a str or None, not {type(proxy_url).__name__}"
            )
        kwargs: dict[str, object] = {
            "num_pools": 16,
            "maxsize": max_pool_connections,
            "block": False,
            "retries": False,
        }
        if verify:
            kwargs["cert_reqs"] = "CERT_REQUIRED"
            if ca_bundle is not None:
                kwargs["ssl_context"] = load_ca_bundle(ca_bundle)
        else:
            kwargs["cert_reqs"] = "CERT_NONE"
            kwargs["assert_hostname"] = False
        self._pool: urllib3.PoolManager
        self._proxied = bool(proxy_url)
        if proxy_url:
            try:
                self._pool = urllib3.ProxyManager(proxy_url, **kwargs)  # type: ignore[arg-type]
            except (Urllib3HTTPError, ValueError) as exc:
                # urllib3's message repeats the URL with its credentials: not shown,
                # and not chained.
                problem: str | None = type(exc).__name__
            else:
                problem = None
            if problem is not None:
                raise InvalidInputError(
                    f"invalid proxy_url {_redact_proxy(proxy_url)!r} ({problem})"
                )
        else:
            self._pool = urllib3.PoolManager(**kwargs)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        # The pool of the origin used last (an ingest client talks to one origin), so
        # a request does not pay for parsing its URL and looking the pool up again.
        self._last: tuple[str, HTTPConnectionPool] | None = None

    def __repr__(self) -> str:
        return f"Urllib3Transport(timeout={self._timeout!r})"

    def _route(self, url: str) -> tuple[urllib3.PoolManager | HTTPConnectionPool, str]:
        """The pool to send ``url`` through and the request target to give it.

        Without a proxy: the origin's connection pool and the path with its query
        (what ``PoolManager.urlopen`` would pick, without parsing the URL every time).
        Through a proxy: the proxy manager and the absolute URL (it decides between
        absolute form and a CONNECT tunnel)."""
        if self._proxied:
            return self._pool, url
        start = url.find("://")
        cut = url.find("/", start + 3) if start >= 0 else -1
        origin, target = (url, "/") if cut < 0 else (url[:cut], url[cut:])
        target = target.partition("#")[0]
        last = self._last
        if last is not None and last[0] == origin:
            return last[1], target
        parsed = urllib3.util.parse_url(origin)
        pool = self._pool.connection_from_host(parsed.host, port=parsed.port, scheme=parsed.scheme)
        self._last = (origin, pool)
        return pool, target

    def handle(self, request: Request) -> Response:
        """Send ``request`` through the pool; translate failures to TransportError."""
        headers = dict(request.headers.items())
        try:
            pool, target = self._route(request.url)
            raw = pool.urlopen(
                request.method,
                target,
                body=request.body,
                headers=headers,
                chunked=request.chunked,
                retries=_NO_RETRIES,
                redirect=False,
                # a whole answer is read inside urlopen, which then releases the
                # connection itself; a streamed one is read by the caller
                preload_content=not request.stream,
                decode_content=False,
                timeout=self._timeout,
                assert_same_host=False,
            )
        except BodyReadError as exc:
            raise_original(exc)
        except (Urllib3HTTPError, OSError, http.client.HTTPException, ValueError) as exc:
            raise self._error(request, exc) from exc
        response_headers = Headers._of(tuple(raw.headers.items()))
        if not request.stream:
            return Response(raw.status, response_headers, raw.data)

        def release() -> None:
            try:
                raw.release_conn()
            except Exception:  # pragma: no cover - defensive
                logger.debug("releasing a connection failed", exc_info=True)

        def pieces() -> Iterator[bytes]:
            try:
                while True:
                    piece = raw.read(_READ_CHUNK)
                    if not piece:
                        return
                    yield piece
            except (Urllib3HTTPError, OSError, http.client.HTTPException) as exc:
                raw.close()
                raise self._error(request, exc) from exc

        return Response(raw.status, response_headers, pieces(), on_close=release)

    @staticmethod
    def _error(request: Request, exc: BaseException) -> TransportError:
        where = request.path if request.path is not None else _redact_url(request.url)
        return TransportError(
            f"{request.method} {where}: {type(exc).__name__}: {_describe(exc)}", path=request.path
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._last = None
        self._pool.clear()


class BodyReadError(Exception):
    """Internal: reading the caller's body failed (its iterable or file raised).

    Raised by the body readers of this package so a transport can tell "the body
    broke" from "the network broke"; transports re-raise ``original`` with
    :func:`raise_original`: an :class:`~mediastore_ingest.errors.InvalidInputError`
    (a file that failed, a stream of non-bytes) or the caller's own exception."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def raise_original(exc: BodyReadError) -> NoReturn:
    """Raise what ``exc`` wraps, keeping its own cause (not the wrapper)."""
    original = exc.original
    raise original from original.__cause__


def _redact_proxy(url: str) -> str:
    """``url`` without its user information (proxy URLs may carry credentials)."""
    scheme, sep, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    return f"{scheme}://***@{host}"  # the user name too: it may be a token
