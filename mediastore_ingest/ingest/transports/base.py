"""What every transport shares: [`Request`][mediastore_ingest.ingest.Request],
[`Response`][mediastore_ingest.ingest.Response],
[`Headers`][mediastore_ingest.ingest.Headers] and the
[`Transport`][mediastore_ingest.ingest.Transport] protocol.

A transport sends one request and returns one response; it never retries, never
follows redirects and never signs. Every failure of the network below it leaves it
as a [`TransportError`][mediastore_ingest.errors.TransportError] carrying the object
path.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NoReturn, Protocol, runtime_checkable

import attrs

from mediastore_ingest._internal.redact import redact_headers, target_repr
from mediastore_ingest.errors import InvalidInputError

__all__ = [
    "BodyReadError",
    "BodyType",
    "Headers",
    "Request",
    "Response",
    "Transport",
    "as_headers",
    "describe_error",
    "load_ca_bundle",
    "raise_original",
    "trusted_headers",
]

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
        return f"Headers({list(redact_headers(self._items))!r})"


def trusted_headers(items: tuple[tuple[str, str], ...]) -> Headers:
    """Wrap pairs already known to be ``(str, str)`` without checking or copying them
    (the client's own headers, a transport's parsed answer)."""
    headers = Headers.__new__(Headers)
    headers._items = items
    return headers


def as_headers(value: object) -> Headers:
    """``value`` as `Headers` (checked unless it is one already)."""
    if isinstance(value, Headers):
        return value
    return Headers(value)  # type: ignore[arg-type]  # it checks what it is given


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
    url: str = attrs.field(repr=target_repr)
    headers: Headers = attrs.field(factory=Headers, converter=as_headers)
    body: BodyType = attrs.field(default=None, repr=False, eq=False)
    path: str | None = None
    stream: bool = False

    @property
    def chunked(self) -> bool:
        """True when the body is sent with ``Transfer-Encoding: chunked``."""
        return (self.headers.get("Transfer-Encoding") or "").lower() == "chunked"


class Response:
    """A response: ``status``, ``headers`` and a body read with `read()` or
    `iter_bytes()` (exactly once). Close it (or use ``with``) when streaming."""

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        content: bytes | Iterable[bytes] = b"",
        *,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else as_headers(headers)
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

    Implementations raise [`TransportError`][mediastore_ingest.errors.TransportError] for
    every connection-level failure and return non-2xx responses as responses.
    """

    def handle(self, request: Request) -> Response:
        """Send ``request`` and return the response (body unread if ``stream``)."""
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...


class BodyReadError(Exception):
    """Internal: reading the caller's body failed (its iterable or file raised).

    Raised by the body readers of this package so a transport can tell "the body
    broke" from "the network broke"; transports re-raise ``original`` with
    `raise_original`: an [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError]
    (a file that failed, a stream of non-bytes) or the caller's own exception."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def raise_original(exc: BodyReadError) -> NoReturn:
    """Raise what ``exc`` wraps, keeping its own cause (not the wrapper)."""
    original = exc.original
    raise original from original.__cause__


def load_ca_bundle(ca_bundle: object) -> ssl.SSLContext:
    """A verifying TLS context that trusts the system CAs and the PEM file
    ``ca_bundle``; [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError] when the file
    cannot be read or holds no certificate."""
    if not isinstance(ca_bundle, str) or not ca_bundle or "\0" in ca_bundle:
        raise InvalidInputError(f"ca_bundle must be the path of a PEM file, not {ca_bundle!r}")
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise InvalidInputError(
            f"cannot load ca_bundle {ca_bundle!r} (a PEM file of CA certificates): "
            f"{describe_error(exc)}"
        ) from exc


def describe_error(exc: BaseException) -> str:
    """An exception's message for an error of ours: at most 300 characters."""
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."

