"""The default transport: urllib3 connection pools with keep-alive.

Failures of the network below it (urllib3, ``ssl``, ``socket``, ``http.client``)
become [`TransportError`][mediastore_ingest.errors.TransportError]. The pools it makes log
their request lines through urllib3's loggers with signatures and policies redacted.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator

import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from mediastore_ingest._internal.redact import RedactingFilter, redact_query, redact_userinfo
from mediastore_ingest._internal.validate import (
    check,
    check_int,
    instance_of,
    is_bool,
    number,
    optional,
)
from mediastore_ingest.errors import InvalidInputError, TransportError
from mediastore_ingest.ingest.transports.base import (
    BodyReadError,
    Request,
    Response,
    describe_error,
    raise_original,
    trusted_headers,
)
from mediastore_ingest.ingest.transports.tls import resuming_context

__all__ = ["Urllib3Transport"]

logger = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
# What urllib3 makes of ``retries=False, redirect=False`` on every call, made once.
_NO_RETRIES = urllib3.util.Retry(False, redirect=False)

# urllib3 logs each request line ("PUT /live/a.ts?...&Signature=... HTTP/1.1") at DEBUG
# on these loggers; the filter rewrites those lines with the credentials redacted.
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager")
_filter_lock = threading.Lock()


def redact_urllib3_logs() -> None:
    """Put a `RedactingFilter` on urllib3's
    loggers, once (calling it again changes nothing)."""
    with _filter_lock:
        for name in _URLLIB3_LOGGERS:
            pool_logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in pool_logger.filters):
                pool_logger.addFilter(RedactingFilter())


class Urllib3Transport:
    """The default transport: urllib3 connection pools with keep-alive.

    TLS is verified unless ``verify=False``; ``ca_bundle`` adds a CA file (the local
    stack's); ``proxy_url`` sends everything through an HTTP(S) proxy;
    ``max_pool_connections`` bounds the connections kept per host (set it to the
    upload concurrency). Timeouts are in seconds. A connection re-opened to a
    server resumes its TLS session (`mediastore_ingest.ingest.transports.tls`); urllib3
    already sets ``TCP_NODELAY`` and never sends ``Expect: 100-continue``.
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
            connect=float(check("connect_timeout", connect_timeout, number())),
            read=float(check("read_timeout", read_timeout, number())),
        )
        check_int("max_pool_connections", max_pool_connections, minimum=1)
        check("verify", verify, is_bool())
        # the type only: a proxy URL given as bytes may carry a password
        check("proxy_url", proxy_url, optional(instance_of(str)))
        kwargs: dict[str, object] = {
            "num_pools": 16,
            "maxsize": max_pool_connections,
            "block": False,
            "retries": False,
        }
        if verify:
            kwargs["cert_reqs"] = "CERT_REQUIRED"
            kwargs["ssl_context"] = resuming_context(ca_bundle)
        else:
            kwargs["cert_reqs"] = "CERT_NONE"
            kwargs["assert_hostname"] = False
            kwargs["ssl_context"] = resuming_context(verify=False)
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
                    f"invalid proxy_url {redact_userinfo(proxy_url)!r} ({problem})"
                )
        else:
            self._pool = urllib3.PoolManager(**kwargs)  # type: ignore[arg-type]
        redact_urllib3_logs()
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
        response_headers = trusted_headers(tuple(raw.headers.items()))
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
        where = request.path if request.path is not None else redact_query(request.url)
        # urllib3's messages may repeat the request target or a proxy URL
        problem = redact_userinfo(redact_query(describe_error(exc)))
        return TransportError(
            f"{request.method} {where}: {type(exc).__name__}: {problem}", path=request.path
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._last = None
        self._pool.clear()

