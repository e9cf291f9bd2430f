"""``IngestClient``: signed PUT / HEAD / GET / DELETE / list of live media objects.

One request path for every operation: validate → build the URL once → sign it (or
not) → send exactly that string through the :class:`~._transport.Transport` inside the
one retry loop (:func:`~._retry.run_with_retries`) → translate the status.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal
from urllib.parse import quote

import attrs

from mediastore_ingest.errors import (
    AccessDeniedError,
    HTTPStatusError,
    IngestError,
    InvalidInputError,
    InvalidPathError,
    ObjectNotFoundError,
)
from mediastore_ingest.ingest._body import BodySource, in_memory, make_body
from mediastore_ingest.ingest._media import (
    CacheControlRule,
    guess_content_type,
)
from mediastore_ingest.ingest._progress import Subscribers
from mediastore_ingest.ingest._retry import (
    RetryableResponse,
    RetryPolicy,
    parse_retry_after,
    run_with_retries,
)
from mediastore_ingest.ingest._transport import (
    BodyReadError,
    Headers,
    Request,
    Response,
    Transport,
    Urllib3Transport,
    raise_original,
)
from mediastore_ingest.origins import (
    validate_content_type,
    validate_path,
    validate_s3_content_type,
    validate_s3_key,
)
from mediastore_ingest.signing.policy import MAX_EPOCH, CustomPolicy, normalize_url
from mediastore_ingest.signing.signer import UrlSigner

__all__ = [
    "IngestClient",
    "IngestConfig",
    "ListItem",
    "ObjectInfo",
    "ObjectStream",
    "PutOutcome",
    "PutRequest",
    "PutResult",
]

logger = logging.getLogger(__name__)


def _default_user_agent() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"mediastore-ingest/{version('mediastore-ingest')}"
        except PackageNotFoundError:
            return "mediastore-ingest"
    except ImportError:  # pragma: no cover
        return "mediastore-ingest"


DEFAULT_USER_AGENT = _default_user_agent()
MiB = 1024 * 1024


def _positive_number(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not math.isfinite(value) or not value > 0
    ):
        raise InvalidInputError(f"{attribute.name} must be a finite number > 0, not {value!r}")


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{attribute.name} must be an int >= 1, not {value!r}")


def _non_negative_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{attribute.name} must be an int >= 0, not {value!r}")


def _header_value(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n\0"):
        raise InvalidInputError(f"{attribute.name} must be a one-line header value")


def _origin(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    if value not in ("mediastore", "s3"):
        raise InvalidInputError(f"origin must be 'mediastore' or 's3', not {value!r}")


def _bool(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{attribute.name} must be True or False, not {value!r}")


def _optional_path(value: object) -> str | None:
    """``ca_bundle``: None, or a file path (``os.PathLike`` accepted, kept as str)."""
    if value is None:
        return None
    path = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(path, str) or not path:
        raise InvalidInputError(f"ca_bundle must be the path of a PEM file or None, not {value!r}")
    return path


def _optional_str(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not isinstance(value, str):
        # The type only: a proxy URL given as bytes may carry a password.
        raise InvalidInputError(
            f"{attribute.name} must be a str or None, not {type(value).__name__}"
        )


def _retry_policy(instance: object, attribute: attrs.Attribute[RetryPolicy], value: object) -> None:
    if not isinstance(value, RetryPolicy):
        raise InvalidInputError(f"retry must be a RetryPolicy, not {type(value).__name__}")


def _optional_rule(
    instance: object, attribute: attrs.Attribute[CacheControlRule | None], value: object
) -> None:
    if value is not None and not callable(value):
        raise InvalidInputError(
            "cache_control must be a rule path -> Cache-Control (e.g. live_cache_control) "
            f"or None, not {value!r}"
        )


@attrs.frozen
class IngestConfig:
    """Connection and retry settings of an :class:`IngestClient` (like botocore's
    ``Config``). Timeouts are seconds; ``ca_bundle`` is a PEM file of extra CAs (the
    local stack's); ``verify=False`` turns TLS verification off (never in
    production). ``retry_buffer_limit`` is how many bytes of a streamed (generator)
    body are kept so it can be re-sent. ``cache_control`` is an optional rule
    ``path -> Cache-Control`` applied when ``put`` gets none (e.g.
    :func:`~mediastore_ingest.ingest.live_cache_control`). ``content_sha256`` adds
    ``x-amz-content-sha256`` (hex SHA-256 of the body), which an S3 origin behind
    Origin Access Control requires for PUT. ``origin`` picks the origin's rules:
    ``"mediastore"`` (default: MediaStore paths and Content-Types, storage class and
    streaming uploads available) or ``"s3"`` (an S3 bucket behind OAC: S3 keys, any
    Content-Type, ``x-amz-content-sha256`` on every PUT; bodies that fit in
    ``retry_buffer_limit`` are read once and sent from memory; no chunked or
    streaming uploads, which S3 behind CloudFront cannot take). A wildcard policy is
    re-signed when it has less than ``policy_renew_margin`` seconds left.
    """

    @property
    def sends_content_sha256(self) -> bool:
        """True when every PUT carries ``x-amz-content-sha256``."""
        return self.content_sha256 or self.origin == "s3"

    connect_timeout: float = attrs.field(default=10.0, validator=_positive_number)
    read_timeout: float = attrs.field(default=60.0, validator=_positive_number)
    max_pool_connections: int = attrs.field(default=10, validator=_positive_int)
    ca_bundle: str | None = attrs.field(default=None, converter=_optional_path)
    verify: bool = attrs.field(default=True, validator=_bool)
    proxy_url: str | None = attrs.field(default=None, validator=_optional_str)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_retry_policy)
    user_agent: str = attrs.field(default=DEFAULT_USER_AGENT, validator=_header_value)
    retry_buffer_limit: int = attrs.field(default=32 * MiB, validator=_non_negative_int)
    cache_control: CacheControlRule | None = attrs.field(default=None, validator=_optional_rule)
    content_sha256: bool = attrs.field(default=False, validator=_bool)
    origin: Literal["mediastore", "s3"] = attrs.field(default="mediastore", validator=_origin)
    policy_renew_margin: float = attrs.field(default=60.0, validator=_positive_number)

    def make_transport(self) -> Urllib3Transport:
        """The default transport for these settings."""
        return Urllib3Transport(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.max_pool_connections,
            verify=self.verify,
            ca_bundle=self.ca_bundle,
            proxy_url=self.proxy_url,
        )


@attrs.frozen
class PutResult:
    """What a successful ``put`` did.

    ``etag``, ``content_sha256`` and ``storage_class`` come from the origin's JSON
    answer when it sent one. ``bytes_sent`` is the body size of the successful
    attempt, ``attempts`` how many were made, ``elapsed`` seconds from first byte
    to answer, ``retried_body`` whether the body was sent more than once, and
    ``url_signed`` whether the request carried a CloudFront signature (URL or
    cookies). ``url`` is the object URL without any signature.
    """

    path: str
    status: int
    etag: str | None
    content_sha256: str | None
    bytes_sent: int
    attempts: int
    elapsed: float
    retried_body: bool
    url_signed: bool
    url: str
    storage_class: str | None = None


@attrs.frozen
class ObjectInfo:
    """An object's metadata from ``HEAD`` (MediaStore ``DescribeObject``)."""

    path: str
    size: int | None
    content_type: str | None
    etag: str | None
    last_modified: _dt.datetime | None
    cache_control: str | None


@attrs.frozen
class ListItem:
    """One entry of a folder listing: an ``OBJECT`` or a ``FOLDER``."""

    name: str
    type: str
    etag: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    last_modified: _dt.datetime | None = None


@attrs.frozen
class PutRequest:
    """One item for :meth:`IngestClient.put_many` (the arguments of ``put``)."""

    path: str
    body: object = attrs.field(repr=False, eq=False)
    content_type: str | None = None
    cache_control: str | None = None
    storage_class: str | None = None
    upload_availability: str | None = None


@attrs.frozen
class PutOutcome:
    """The result of one :meth:`IngestClient.put_many` item: ``result`` on
    success, ``error`` (the exception) on failure."""

    path: str
    result: PutResult | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the upload succeeded."""
        return self.error is None

    def unwrap(self) -> PutResult:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class ObjectStream:
    """An object being downloaded: ``info`` now, the bytes as they arrive.

    Iterate it (or call :meth:`read`), then close it (or use ``with``)."""

    def __init__(self, info: ObjectInfo, response: Response) -> None:
        self.info = info
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return self._response.iter_bytes()

    def read(self) -> bytes:
        """The rest of the object."""
        return self._response.read()

    def close(self) -> None:
        """Release the connection."""
        self._response.close()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- signing -------------------------------------------------------------------------


class _Auth:
    """Turns an unsigned URL into (URL to send, extra headers)."""

    def __init__(
        self,
        *,
        base: str,
        signer: UrlSigner | None,
        auth: str,
        policy: CustomPolicy | None,
        url_expiry: int,
        margin: float,
        clock: Callable[[], float],
    ) -> None:
        self.signer = signer
        self.cookie = auth == "cookie"
        self._expiry = url_expiry
        self._margin = min(margin, url_expiry / 2)
        self._clock = clock
        self._lock = threading.Lock()
        if signer is not None and policy is None and self.cookie:
            policy = CustomPolicy(base + "/*", int(clock()) + url_expiry)
        self._policy = policy

    def current_policy(self) -> CustomPolicy:
        """The wildcard policy, renewed when it has less than the margin left."""
        with self._lock:
            assert self._policy is not None
            now = int(self._clock())
            if self._policy.expires - now < self._margin:
                self._policy = attrs.evolve(self._policy, expires=now + self._expiry)
            return self._policy

    def apply(self, url: str) -> tuple[str, dict[str, str]]:
        signer = self.signer
        if signer is None:
            return url, {}
        if self.cookie:
            return url, {"Cookie": signer.cookie_header(self.current_policy())}
        if self._policy is not None:
            return signer.sign_url(url, policy=self.current_policy()), {}
        return signer.sign_url(url, expires=int(self._clock()) + self._expiry), {}


# --- helpers -------------------------------------------------------------------------


def _error_code(response: Response, body: bytes) -> tuple[str | None, str]:
    code = response.headers.get("x-amzn-ErrorType")
    message = ""
    text = body[:4096].decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        doc = _json_document(text)
        if doc is not None:
            raw = doc.get("__type") or doc.get("code") or doc.get("Code")
            if isinstance(raw, str):
                code = raw
            msg = doc.get("Message") or doc.get("message")
            if isinstance(msg, str):
                message = msg
    elif "<Code>" in text:
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
        if "<Message>" in text:
            message = text.split("<Message>", 1)[1].split("</Message>", 1)[0]
    else:
        message = text.strip().splitlines()[0] if text.strip() else ""
    if code is not None:
        code = code.split(":", 1)[0].rpartition("#")[2] or None
    return code, message[:200]


def _status_error(
    method: str, path: str | None, response: Response, body: bytes
) -> HTTPStatusError:
    code, message = _error_code(response, body)
    status = response.status
    what = f"{method} {path or '/'}: HTTP {status}"
    if code:
        what += f" {code}"
    if message:
        what += f": {message}"
    cls: type[HTTPStatusError] = HTTPStatusError
    if status == 403:
        cls = AccessDeniedError
    elif status == 404:
        cls = ObjectNotFoundError
    return cls(what, path=path, status=status, code=code)


def _int_or_none(value: str | None) -> int | None:
    """A non-negative decimal header value; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None
    return int(text)


def _http_date(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _epoch_date(value: object) -> _dt.datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
        except (OverflowError, ValueError, OSError):  # 1e300, NaN, out of the platform's range
            return None
    if isinstance(value, str):
        return _http_date(value)
    return None


_STORAGE_CLASSES = {"TEMPORAL"}
_AVAILABILITIES = {"STANDARD", "STREAMING"}


def _check_option(name: str, value: str | None, allowed: set[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise InvalidInputError(
            f"{name} must be one of {sorted(allowed)}, not {value!r}"
        )
    return value.upper()


class _Counter:
    """Wraps an attempt's pieces: counts bytes and reports progress."""

    def __init__(
        self, pieces: Iterator[bytes], report: Callable[[int], None] | None
    ) -> None:
        self._pieces = pieces
        self._report = report
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        report = self._report
        for piece in self._pieces:
            yield piece
            n = len(piece)
            self.sent += n
            if report is not None:
                report(n)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


# --- the client ----------------------------------------------------------------------


class IngestClient:
    """Publishes media objects through a CloudFront ingest distribution (or
    straight to an origin).

    ``base_url`` is the distribution (``https://d1.cloudfront.net``, optionally with
    a path prefix). With a ``signer``, each request is authorised by CloudFront:

    * ``auth="url"``, no ``policy``: a canned signed URL per request, valid for
      ``url_expiry``;
    * ``auth="url"`` with ``policy`` (a wildcard :class:`CustomPolicy`): that policy
      is reused for every URL and re-signed with a fresh expiry (``url_expiry``) when
      it gets close to expiring (the signer caches it, so reuse costs nothing);
    * ``auth="cookie"``: the same wildcard policy (``base_url + "/*"`` unless given)
      sent as a ``Cookie:`` header of CloudFront signed cookies.

    ``signer=None`` sends unsigned requests (a signing relay in front, or an origin
    whose policy allows them). ``clock`` (epoch seconds), ``sleep`` and ``rng`` are
    injected for tests. ``subscribers`` receive progress events (see
    :mod:`~mediastore_ingest.ingest._progress`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        signer: UrlSigner | None = None,
        auth: Literal["url", "cookie"] = "url",
        policy: CustomPolicy | None = None,
        url_expiry: _dt.timedelta | int = _dt.timedelta(minutes=5),
        config: IngestConfig | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        subscribers: Sequence[object] = (),
    ) -> None:
        if not isinstance(base_url, str):
            raise InvalidInputError("base_url must be a str")
        try:
            base = normalize_url(base_url)
        except ValueError as exc:
            raise InvalidInputError(f"invalid base_url {base_url!r}: {exc}") from exc
        if "?" in base:
            raise InvalidInputError("base_url must not have a query string")
        # normalize_url already gives the form urllib3 sends unchanged (upper-case
        # escapes, no raw brackets), so what is signed is what goes on the wire.
        self._base = base.rstrip("/")
        if auth not in ("url", "cookie"):
            raise InvalidInputError(f"auth must be 'url' or 'cookie', not {auth!r}")
        if signer is not None and not isinstance(signer, UrlSigner):
            raise InvalidInputError("signer must be a UrlSigner or None")
        if policy is not None and not isinstance(policy, CustomPolicy):
            raise InvalidInputError("policy must be a CustomPolicy (a wildcard resource) or None")
        if policy is not None and signer is None:
            raise InvalidInputError("policy= needs a signer")
        if auth == "cookie" and signer is None:
            raise InvalidInputError("auth='cookie' needs a signer")
        expiry = (
            int(url_expiry.total_seconds())
            if isinstance(url_expiry, _dt.timedelta)
            else url_expiry
        )
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 1:
            raise InvalidInputError(f"url_expiry must be at least one second, not {url_expiry!r}")
        for name, function in (("clock", clock), ("sleep", sleep), ("rng", rng)):
            if not callable(function):
                raise InvalidInputError(f"{name} must be callable, not {function!r}")
        now = clock()
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise InvalidInputError(f"clock must return epoch seconds, not {now!r:.40}")
        if now + expiry > MAX_EPOCH:
            raise InvalidInputError(
                f"url_expiry of {expiry} seconds reaches past the last time a CloudFront "
                "policy can name (2038-01-19T03:14:07Z)"
            )
        self.config = config if config is not None else IngestConfig()
        if not isinstance(self.config, IngestConfig):
            raise InvalidInputError("config must be an IngestConfig")
        if transport is not None and not callable(getattr(transport, "handle", None)):
            raise InvalidInputError(
                f"transport must be a Transport (with handle(request)), not {transport!r}"
            )
        self._subscribers = Subscribers(subscribers)
        self._owns_transport = transport is None
        self._transport: Transport = (
            transport if transport is not None else self.config.make_transport()
        )
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._auth = _Auth(
            base=self._base,
            signer=signer,
            auth=auth,
            policy=policy,
            url_expiry=expiry,
            margin=self.config.policy_renew_margin,
            clock=clock,
        )

    # --- construction helpers ------------------------------------------------------

    @classmethod
    def direct(
        cls,
        container_endpoint: str,
        *,
        session: Any = None,
        client: Any = None,
        region_name: str | None = None,
        config: IngestConfig | None = None,
        **kwargs: Any,
    ) -> IngestClient:
        """A client that talks to the container directly with botocore's
        ``mediastore-data`` client (SigV4 with the caller's credentials), for use
        inside the origin's region. Give a botocore ``session`` (a client is made for
        ``container_endpoint`` with botocore's own retries off, since this client
        retries) or a ready ``client``. Same API and errors as the edge client."""
        from mediastore_ingest.ingest._direct import BotocoreTransport

        for name in ("signer", "policy", "auth", "transport"):
            if name in kwargs:
                raise InvalidInputError(
                    f"direct mode signs with SigV4 (botocore); {name}= does not apply"
                )
        cfg = config if config is not None else IngestConfig()
        transport = BotocoreTransport.create(
            container_endpoint, session=session, client=client, region_name=region_name, config=cfg
        )
        return cls(container_endpoint, config=cfg, transport=transport, **kwargs)

    def __repr__(self) -> str:
        mode = "unsigned" if self._auth.signer is None else (
            "cookie" if self._auth.cookie else "url"
        )
        return f"IngestClient({self._base!r}, auth={mode})"

    @property
    def base_url(self) -> str:
        """The base URL objects are addressed under (no trailing slash)."""
        return self._base

    def url_for(self, path: str) -> str:
        """The unsigned URL of object ``path`` (validated)."""
        return self._base + "/" + quote(validate_path(path), safe="/~")

    def close(self) -> None:
        """Release the transport's connections (if this client made it)."""
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> IngestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one request path ------------------------------------------------------------

    def _base_headers(self) -> list[tuple[str, str]]:
        return [("User-Agent", self.config.user_agent)]

    def _exchange(
        self,
        method: str,
        url: str,
        path: str | None,
        headers: list[tuple[str, str]],
        *,
        body: BodySource | None = None,
        stream: bool = False,
        report: Callable[[int], None] | None = None,
    ) -> tuple[Response, int, int, float]:
        """Send with retries; return (2xx response, attempts, bytes sent, elapsed)."""
        sent = 0
        started = time.monotonic()
        fixed = Headers._of(tuple(headers))  # built once, shared by every attempt
        auth = self._auth
        transport = self._transport

        def attempt(number: int) -> Response:
            nonlocal sent
            signed_url, extra = auth.apply(url)
            # {**headers, **extra}: extra (a Cookie) is never among the fixed headers
            request_headers = (
                Headers._of(fixed.items() + tuple(extra.items())) if extra else fixed
            )
            counter: _Counter | None = None
            if body is not None:
                counter = _Counter(body.open(), report)
            sent = 0
            request = Request(
                method,
                signed_url,
                request_headers,
                body=iter(counter) if counter is not None else None,
                path=path,
                stream=stream,
            )
            try:
                response = transport.handle(request)
            except BodyReadError as exc:  # a transport that did not unwrap it itself
                raise_original(exc)
            finally:
                if counter is not None:
                    sent = counter.sent
                    counter.close()
            if 200 <= response.status < 300:
                return response
            content = response.read()
            error = _status_error(method, path, response, content)
            if self.config.retry.is_retryable(error):
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), now=self._clock()
                )
                raise RetryableResponse(error, retry_after)
            raise error

        def on_retry(number: int, error: IngestError, wait: float) -> None:
            if report is not None and sent:
                report(-sent)

        response, attempts = run_with_retries(
            attempt,
            policy=self.config.retry,
            path=path,
            sleep=self._sleep,
            rng=self._rng,
            body=body,
            on_retry=on_retry,
        )
        return response, attempts, sent, time.monotonic() - started

    # --- PUT -----------------------------------------------------------------------------

    def put(
        self,
        path: str,
        body: object,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        storage_class: str | None = None,
        upload_availability: str | None = None,
    ) -> PutResult:
        """Upload ``body`` to ``path``; return a :class:`PutResult`.

        ``body``: bytes-like, a file path, a binary file object (sent from its current
        offset), or an iterable of bytes (sent ``Transfer-Encoding: chunked``).
        ``content_type`` defaults to one guessed from the extension;
        ``cache_control`` to the config's rule; ``storage_class`` is ``"TEMPORAL"``;
        ``upload_availability`` ``"standard"`` or ``"streaming"`` (chunked, readable
        while it is being written). Path and content type are checked before any
        request is sent.
        """
        request = PutRequest(
            path,
            body,
            content_type=content_type,
            cache_control=cache_control,
            storage_class=storage_class,
            upload_availability=upload_availability,
        )
        return self._put(request, self._subscribers, queued=False)

    def _put(self, item: PutRequest, subs: Subscribers, *, queued: bool) -> PutResult:
        if not subs:
            return self._put_checked(item, None)
        if not queued:
            subs.queued(path=item.path, size=_known_size(item.body))
        try:
            result = self._put_checked(item, subs)
        except BaseException as exc:
            subs.done(path=item.path, result=None, exception=exc)
            raise
        subs.done(path=item.path, result=result, exception=None)
        return result

    def _put_checked(self, item: PutRequest, subs: Subscribers | None) -> PutResult:
        s3 = self.config.origin == "s3"
        path = (validate_s3_key if s3 else validate_path)(item.path)
        content_type = (validate_s3_content_type if s3 else validate_content_type)(
            item.content_type if item.content_type is not None else guess_content_type(path),
            path=path,
        )
        if s3 and (item.storage_class is not None or item.upload_availability is not None):
            raise InvalidInputError(
                "storage_class and upload_availability are MediaStore options; an S3 origin "
                "behind CloudFront takes neither (and no streaming uploads)"
            )
        cache_control = item.cache_control
        if cache_control is None and self.config.cache_control is not None:
            cache_control = self.config.cache_control(path)
        if cache_control is not None and (
            not isinstance(cache_control, str) or any(c in cache_control for c in "\r\n\0")
        ):
            raise InvalidInputError(f"invalid Cache-Control {cache_control!r}")
        storage_class = _check_option("storage_class", item.storage_class, _STORAGE_CLASSES)
        availability = _check_option(
            "upload_availability", item.upload_availability, _AVAILABILITIES
        )
        body = make_body(item.body, buffer_limit=self.config.retry_buffer_limit)
        if self.config.sends_content_sha256:
            # The hash goes in a header, before the body: read the body once if it fits.
            body = in_memory(body, limit=self.config.retry_buffer_limit)
        url = self._base + "/" + quote(path, safe="/~")
        headers = self._base_headers()
        headers.append(("Content-Type", content_type))
        if cache_control:
            headers.append(("Cache-Control", cache_control))
        if storage_class:
            headers.append(("x-amz-storage-class", storage_class))
        if availability:
            headers.append(("x-amz-upload-availability", availability))
        if body.size is None or availability == "STREAMING":
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(body.size)))
        if self.config.sends_content_sha256:
            headers.append(("x-amz-content-sha256", body.sha256_hex()))

        report: Callable[[int], None] | None = None
        if subs:
            progress = subs.progress

            def report(n: int) -> None:
                progress(path=path, bytes_transferred=n)

        response, attempts, sent, elapsed = self._exchange(
            "PUT", url, path, headers, body=body, report=report
        )
        doc = _json_object(response.read())
        logger.debug("PUT %s: %d bytes, %d attempt(s)", path, sent, attempts)
        return PutResult(
            path=path,
            status=response.status,
            etag=_str_or_none(doc.get("ETag")) or response.headers.get("ETag"),
            content_sha256=_str_or_none(doc.get("ContentSHA256")),
            storage_class=_str_or_none(doc.get("StorageClass")),
            bytes_sent=sent,
            attempts=attempts,
            elapsed=elapsed,
            retried_body=body.retried,
            url_signed=self._auth.signer is not None,
            url=url,
        )

    # --- many PUTs -----------------------------------------------------------------------

    def put_many(
        self,
        items: Iterable[PutRequest | tuple[str, object]],
        *,
        max_concurrency: int = 8,
        subscribers: Sequence[object] = (),
    ) -> list[PutOutcome]:
        """Upload many objects with up to ``max_concurrency`` in flight; return one
        :class:`PutOutcome` per item, in order. ``items`` is consumed lazily (at most
        ``2 * max_concurrency`` are waiting at any time), so a long generator keeps
        memory bounded. One failing item never stops or hides the others."""
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or (
            max_concurrency < 1
        ):
            raise InvalidInputError(f"max_concurrency must be an int >= 1, not {max_concurrency!r}")
        if isinstance(items, (str, bytes, bytearray, PutRequest)) or not isinstance(
            items, Iterable
        ):
            raise InvalidInputError(
                "items must be an iterable of PutRequest or (path, body) tuples, "
                f"not {type(items).__name__}"
            )
        subs = self._subscribers.extended(subscribers)
        slots = threading.BoundedSemaphore(2 * max_concurrency)
        entries: list[tuple[str, Future[PutResult] | BaseException]] = []

        def release(_: Future[PutResult]) -> None:
            slots.release()

        executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="ingest-put")
        try:
            for item in items:
                try:
                    request = _as_put_request(item)
                except InvalidInputError as exc:
                    entries.append((repr(item)[:80], exc))
                    continue
                if subs:
                    subs.queued(path=request.path, size=_known_size(request.body))
                slots.acquire()
                future = executor.submit(self._put, request, subs, queued=True)
                future.add_done_callback(release)
                entries.append((request.path, future))
        finally:
            executor.shutdown(wait=True, cancel_futures=False)
        outcomes: list[PutOutcome] = []
        for path, entry in entries:
            if isinstance(entry, BaseException):
                outcomes.append(PutOutcome(path=path, error=entry))
                continue
            error = entry.exception()
            if error is None:
                outcomes.append(PutOutcome(path=path, result=entry.result()))
            else:
                outcomes.append(PutOutcome(path=path, error=error))
        return outcomes

    # --- HEAD / GET / DELETE / list ----------------------------------------------------

    def head(self, path: str) -> ObjectInfo:
        """The object's metadata (``HEAD``); ObjectNotFoundError if absent."""
        path = validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("HEAD", url, path, self._base_headers())
        response.read()
        return _info(path, response)

    def get(self, path: str) -> bytes:
        """The object's bytes; ObjectNotFoundError if absent."""
        path = validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("GET", url, path, self._base_headers())
        return response.read()

    def get_stream(self, path: str) -> ObjectStream:
        """Start a download; iterate the returned :class:`ObjectStream` for the
        bytes (retries cover only the start of the response)."""
        path = validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("GET", url, path, self._base_headers(), stream=True)
        return ObjectStream(_info(path, response), response)

    def delete(self, path: str) -> None:
        """Delete the object; ObjectNotFoundError if absent."""
        path = validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("DELETE", url, path, self._base_headers())
        response.read()

    def list(self, path: str = "", *, page_size: int | None = None) -> Iterator[ListItem]:
        """The items of folder ``path`` (``""`` for the root), following
        ``NextToken`` pages (MediaStore ``ListItems``, where the origin allows it).
        An answer that is not a JSON object raises
        :class:`~mediastore_ingest.errors.IngestError`."""
        if not isinstance(path, str):
            raise InvalidPathError(f"folder path must be a str, not {type(path).__name__}")
        folder = path.strip("/")
        if folder:
            validate_path(folder)
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int)
            or not 1 <= page_size <= 1000
        ):
            raise InvalidInputError("page_size must be an int from 1 to 1000")
        return self._list_pages(folder, page_size)

    def _list_pages(self, folder: str, page_size: int | None) -> Iterator[ListItem]:
        token: str | None = None
        while True:
            query = "Path=" + quote(folder, safe="")
            if page_size is not None:
                query += f"&MaxResults={page_size}"
            if token is not None:
                query += "&NextToken=" + quote(token, safe="")
            url = self._base + "/?" + query
            response, _, _, _ = self._exchange("GET", url, folder or None, self._base_headers())
            content = response.read()
            parsed = _json_document(content)
            if parsed is None and content.strip():
                raise IngestError(
                    f"GET listing of {folder or '/'!r}: HTTP {response.status} answer is not a "
                    f"JSON object ({len(content)} bytes)",
                    path=folder or None,
                )
            doc = parsed or {}
            items = doc.get("Items")
            if isinstance(items, list):
                for raw in items:
                    if isinstance(raw, dict) and isinstance(raw.get("Name"), str):
                        yield ListItem(
                            name=raw["Name"],
                            type=str(raw.get("Type", "OBJECT")),
                            etag=_str_or_none(raw.get("ETag")),
                            content_type=_str_or_none(raw.get("ContentType")),
                            content_length=_int_value(raw.get("ContentLength")),
                            last_modified=_epoch_date(raw.get("LastModified")),
                        )
            next_token = doc.get("NextToken")
            if not isinstance(next_token, str) or not next_token:
                return
            token = next_token


def _as_put_request(item: object) -> PutRequest:
    if isinstance(item, PutRequest):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return PutRequest(item[0], item[1])
    raise InvalidInputError(
        f"put_many items must be PutRequest or (path, body) tuples, not {type(item).__name__}"
    )


def _known_size(body: object) -> int | None:
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    return None


def _json_document(content: bytes | str) -> dict[str, Any] | None:
    """The JSON object in ``content``; None when there is none."""
    if not content:
        return None
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason
        return None
    return doc if isinstance(doc, dict) else None


def _json_object(content: bytes) -> dict[str, Any]:
    """The JSON object in ``content``; ``{}`` when empty or not a JSON object."""
    return _json_document(content) or {}


def _int_value(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _info(path: str, response: Response) -> ObjectInfo:
    h = response.headers
    return ObjectInfo(
        path=path,
        size=_int_or_none(h.get("Content-Length")),
        content_type=h.get("Content-Type"),
        etag=h.get("ETag"),
        last_modified=_http_date(h.get("Last-Modified")),
        cache_control=h.get("Cache-Control"),
    )

