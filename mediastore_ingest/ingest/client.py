"""``IngestClient``: signed PUT / HEAD / GET / DELETE / list of live media objects.

One request path for every operation: validate (with the origin's rules) → build the
URL once → sign it (or not) → send exactly that string through the transport inside
the one retry loop → turn a non-2xx answer into a typed error.
"""

from __future__ import annotations

import datetime as _dt
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal
from urllib.parse import quote

from mediastore_ingest._internal.show import shown
from mediastore_ingest._internal.validate import (
    Validator,
    check,
    check_callable,
    check_header_value,
    instance_of,
    int_in,
    optional,
)
from mediastore_ingest.errors import IngestError, InvalidInputError, InvalidPathError
from mediastore_ingest.ingest._body import BodySource, in_memory, make_body
from mediastore_ingest.ingest._retry import RetryableResponse, parse_retry_after, run_with_retries
from mediastore_ingest.ingest.auth import RequestAuth
from mediastore_ingest.ingest.batch import known_size, put_many
from mediastore_ingest.ingest.config import IngestConfig, connection_settings
from mediastore_ingest.ingest.limits import SizeLimit
from mediastore_ingest.ingest.media import guess_content_type
from mediastore_ingest.ingest.models import (
    ListItem,
    ObjectInfo,
    ObjectStream,
    PutOutcome,
    PutRequest,
    PutResult,
    list_item,
    object_info,
    str_or_none,
)
from mediastore_ingest.ingest.progress import PutFuture, Subscriber, Subscribers
from mediastore_ingest.ingest.status import json_object, listing_object, status_error
from mediastore_ingest.ingest.transports.base import (
    BodyReadError,
    Request,
    Response,
    Transport,
    raise_original,
    trusted_headers,
)
from mediastore_ingest.ingest.transports.botocore import BotocoreTransport
from mediastore_ingest.origins import Origin, get_origin, origin_names
from mediastore_ingest.signing.policy import CustomPolicy, normalize_url
from mediastore_ingest.signing.signer import UrlSigner

__all__ = ["IngestClient"]

logger = logging.getLogger(__name__)

_STORAGE_CLASSES = {"TEMPORAL"}
_AVAILABILITIES = {"STANDARD", "STREAMING"}
_TRANSPORT = optional(
    Validator("a Transport (with handle(request))", lambda v: callable(getattr(v, "handle", None)))
)


def _check_option(name: str, value: str | None, allowed: set[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise InvalidInputError(f"{name} must be one of {sorted(allowed)}, not {shown(value)}")
    return value.upper()


def _refuse_put_options(origin: Origin, item: PutRequest) -> None:
    """Refuse the PUT options ``origin`` does not take (before any request)."""
    given = [
        name
        for name, value in (
            ("storage_class", item.storage_class),
            ("upload_availability", item.upload_availability),
        )
        if value is not None and name not in origin.put_options
    ]
    if not given:
        return
    takers = " or ".join(
        other.label for other in map(get_origin, origin_names()) if set(given) <= other.put_options
    )
    one = len(given) == 1
    raise InvalidInputError(
        f"{' and '.join(given)} {'is an option' if one else 'are options'} of "
        f"{takers or 'other origins'}; {origin.label} "
        f"{'does not take it' if one else 'takes neither'}"
        + ("" if origin.streams else " (nor streaming uploads)")
    )


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
    * ``auth="url"`` with ``policy`` (a wildcard
      [`CustomPolicy`][mediastore_ingest.signing.policy.CustomPolicy]): that policy
      is reused for every URL and re-signed with a fresh expiry (``url_expiry``) when
      it gets close to expiring (the signer caches it, so reuse costs nothing);
    * ``auth="cookie"``: the same wildcard policy (``base_url + "/*"`` unless given)
      sent as a ``Cookie:`` header of CloudFront signed cookies.

    ``signer=None`` sends unsigned requests (a signing relay in front, or an origin
    whose policy allows them). ``clock`` (epoch seconds), ``sleep`` and ``rng`` are
    injected for tests. ``subscribers`` receive progress events: each is a
    [`Subscriber`][mediastore_ingest.ingest.Subscriber] (s3transfer's shape), such as
    [`ProgressLine`][mediastore_ingest.ingest.ProgressLine].

    Thread safety: one client may be shared by threads. ``put``, ``put_many``,
    ``get``, ``head``, ``delete`` and ``list`` may be called at once from several
    threads: the client keeps no per-request state, the connection pool and the
    re-signing of a wildcard policy are locked, and the settings are immutable.
    ``close`` must not race with requests still running.
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
        subscribers: Sequence[Subscriber] = (),
    ) -> None:
        check("base_url", base_url, instance_of(str))
        try:
            base = normalize_url(base_url)
        except ValueError as exc:
            raise InvalidInputError(f"invalid base_url {base_url!r}: {exc}") from exc
        if "?" in base:
            raise InvalidInputError("base_url must not have a query string")
        # normalize_url already gives the form urllib3 sends unchanged (upper-case
        # escapes, no raw brackets), so what is signed is what goes on the wire.
        self._base = base.rstrip("/")
        self.config = config if config is not None else IngestConfig()
        check("config", self.config, instance_of(IngestConfig))
        self._auth = RequestAuth(
            base=self._base,
            signer=signer,
            auth=auth,
            policy=policy,
            url_expiry=url_expiry,
            margin=self.config.policy_renew_margin,
            clock=clock,
        )
        check_callable("sleep", sleep)
        check_callable("rng", rng)
        check("transport", transport, _TRANSPORT)
        self._subscribers = Subscribers(subscribers)
        self._origin = get_origin(self.config.origin)
        self._sends_sha256 = self.config.sends_content_sha256
        self._owns_transport = transport is None
        self._transport: Transport = (
            transport if transport is not None else self.config.make_transport()
        )
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

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
        for name in ("signer", "policy", "auth", "transport"):
            if name in kwargs:
                raise InvalidInputError(
                    f"direct mode signs with SigV4 (botocore); {name}= does not apply"
                )
        cfg = config if config is not None else IngestConfig()
        check("config", cfg, instance_of(IngestConfig))
        transport = BotocoreTransport.create(
            container_endpoint,
            session=session,
            client=client,
            region_name=region_name,
            origin=cfg.origin,
            user_agent=cfg.user_agent,
            **connection_settings(cfg),
        )
        return cls(container_endpoint, config=cfg, transport=transport, **kwargs)

    def __repr__(self) -> str:
        return f"IngestClient({self._base!r}, auth={self._auth.mode})"

    @property
    def base_url(self) -> str:
        """The base URL objects are addressed under (no trailing slash)."""
        return self._base

    def url_for(self, path: str) -> str:
        """The unsigned URL of object ``path`` (validated)."""
        return self._base + "/" + quote(self._origin.validate_path(path), safe="/~")

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
        fixed = trusted_headers(tuple(headers))  # built once, shared by every attempt
        auth = self._auth
        transport = self._transport
        key_id = auth.signer.key_id if auth.signer is not None else None

        def attempt(number: int) -> Response:
            nonlocal sent
            signed_url, extra = auth.apply(url)
            # {**headers, **extra}: extra (a Cookie) is never among the fixed headers
            request_headers = (
                trusted_headers(fixed.items() + tuple(extra.items())) if extra else fixed
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
            error = status_error(
                method, path, response, content, origin=self._origin, key_id=key_id
            )
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
        """Upload ``body`` to ``path``; return a
        [`PutResult`][mediastore_ingest.ingest.PutResult].

        ``body``: bytes-like; a ``str``, which is the content itself, sent as UTF-8 (a
        manifest; never a file name); a file path as an ``os.PathLike`` such as
        ``pathlib.Path``; a binary file object (sent from its current offset); or an
        iterable of bytes (sent ``Transfer-Encoding: chunked``).
        ``content_type`` defaults to one guessed from the extension;
        ``cache_control`` to the config's rule; ``storage_class`` is ``"TEMPORAL"``;
        ``upload_availability`` ``"standard"`` or ``"streaming"`` (chunked, readable
        while it is being written). Path and content type are checked before any
        request is sent, and so is the size against the origin's limit
        (`Origin.size_limit`): a body of known size over it raises
        [`ObjectTooLargeError`][mediastore_ingest.errors.ObjectTooLargeError] before
        sending, a streamed one is stopped when it passes the limit (nothing is stored).
        Neither is retried.
        """
        request = PutRequest(
            path,
            body,
            content_type=content_type,
            cache_control=cache_control,
            storage_class=storage_class,
            upload_availability=upload_availability,
        )
        subs = self._subscribers
        future = subs.queued(request, known_size(request.body)) if subs else None
        return self._put(request, subs, future)

    def _put(self, item: PutRequest, subs: Subscribers, future: PutFuture | None) -> PutResult:
        if future is None:
            return self._put_checked(item, None, None)
        try:
            result = self._put_checked(item, subs, future)
        except BaseException as exc:
            subs.done(future, None, exc)
            raise
        subs.done(future, result, None)
        return result

    def _put_checked(
        self, item: PutRequest, subs: Subscribers | None, future: PutFuture | None
    ) -> PutResult:
        origin = self._origin
        path = origin.validate_path(item.path)
        content_type = origin.validate_content_type(
            item.content_type if item.content_type is not None else guess_content_type(path),
            path=path,
        )
        _refuse_put_options(origin, item)
        cache_control = item.cache_control
        if cache_control is None and self.config.cache_control is not None:
            cache_control = self.config.cache_control(path)
        check_header_value("cache_control", cache_control)
        storage_class = _check_option("storage_class", item.storage_class, _STORAGE_CLASSES)
        availability = _check_option(
            "upload_availability", item.upload_availability, _AVAILABILITIES
        )
        if availability == "STREAMING" and not origin.streams:
            raise InvalidInputError(f"{origin.label} takes no streaming uploads")
        limit = SizeLimit(origin, path, streaming=availability == "STREAMING")
        body = make_body(
            item.body, buffer_limit=self.config.retry_buffer_limit, size_limit=limit
        )
        if self._sends_sha256 or not origin.streams:
            # The hash goes in a header, before the body, and an origin that takes no
            # chunked upload needs the length first: read the body once if it fits.
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
        if self._sends_sha256:
            headers.append(("x-amz-content-sha256", body.sha256_hex()))

        report: Callable[[int], None] | None = None
        if subs and future is not None:
            progress, tracked = subs.progress, future

            def report(n: int) -> None:
                progress(tracked, path, n)

        response, attempts, sent, elapsed = self._exchange(
            "PUT", url, path, headers, body=body, report=report
        )
        doc = json_object(response.read()) or {}
        logger.debug("PUT %s: %d bytes, %d attempt(s)", path, sent, attempts)
        return PutResult(
            path=path,
            status=response.status,
            etag=str_or_none(doc.get("ETag")) or response.headers.get("ETag"),
            content_sha256=str_or_none(doc.get("ContentSHA256")),
            storage_class=str_or_none(doc.get("StorageClass")),
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
        subscribers: Sequence[Subscriber] = (),
    ) -> list[PutOutcome]:
        """Upload many objects with up to ``max_concurrency`` in flight; return one
        [`PutOutcome`][mediastore_ingest.ingest.PutOutcome] per item, in order.
        ``items`` is consumed lazily (at most ``2 * max_concurrency`` are waiting at
        any time), so a long generator keeps memory bounded. One failing item never
        stops or hides the others. ``subscribers`` are added to the client's for
        these uploads."""
        subs = self._subscribers.extended(subscribers)

        def put(request: PutRequest, future: PutFuture | None) -> PutResult:
            return self._put(request, subs, future)

        return put_many(put, items, max_concurrency=max_concurrency, subscribers=subs)

    # --- HEAD / GET / DELETE / list ----------------------------------------------------

    def head(self, path: str) -> ObjectInfo:
        """The object's metadata (``HEAD``); ObjectNotFoundError if absent."""
        path = self._origin.validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("HEAD", url, path, self._base_headers())
        response.read()
        return object_info(path, response.headers)

    def get(self, path: str) -> bytes:
        """The object's bytes; ObjectNotFoundError if absent."""
        path = self._origin.validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("GET", url, path, self._base_headers())
        return response.read()

    def get_stream(self, path: str) -> ObjectStream:
        """Start a download; iterate the returned
        [`ObjectStream`][mediastore_ingest.ingest.ObjectStream] for the bytes (retries
        cover only the start of the response)."""
        path = self._origin.validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("GET", url, path, self._base_headers(), stream=True)
        return ObjectStream(object_info(path, response.headers), response)

    def delete(self, path: str) -> None:
        """Delete the object; ObjectNotFoundError if absent."""
        path = self._origin.validate_path(path)
        url = self._base + "/" + quote(path, safe="/~")
        response, _, _, _ = self._exchange("DELETE", url, path, self._base_headers())
        response.read()

    def list(self, path: str = "", *, page_size: int | None = None) -> Iterator[ListItem]:
        """The items of folder ``path`` (``""`` for the root), following
        ``NextToken`` pages (MediaStore ``ListItems``, where the origin allows it).
        An answer that is not a JSON object raises
        [`IngestError`][mediastore_ingest.errors.IngestError].

        A listing is a request to the root of the distribution
        (``GET /?Path=<folder>``), not to the folder: a client whose wildcard
        ``policy`` covers only a channel (``…/live/ch1/*``) cannot sign it, and is
        refused here with [`InvalidInputError`][mediastore_ingest.errors.InvalidInputError]
        saying so; list with a client whose policy covers ``base_url + "/*"`` or that
        has no ``policy=``."""
        if not isinstance(path, str):
            raise InvalidPathError(f"folder path must be a str, not {type(path).__name__}")
        folder = path.strip("/")
        if folder:
            self._origin.validate_path(folder)
        check("page_size", page_size, optional(int_in(1, 1000)))
        target = "/?Path=" + quote(folder, safe="")
        policy = self._auth.uncovered(self._base + target)
        if policy is not None:
            raise InvalidInputError(
                f"list({path!r}) cannot be signed with this client's policy: a listing is a "
                f"request to the root of the distribution (GET {target}), which the policy's "
                f"Resource {policy.resource!r} does not cover; list with a client whose policy "
                "covers the whole distribution (base_url + '/*') or that has no policy= (a "
                "canned signed URL per request)"
            )
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
            parsed = listing_object(content)
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
                    item = list_item(raw)
                    if item is not None:
                        yield item
            next_token = doc.get("NextToken")
            if not isinstance(next_token, str) or not next_token:
                return
            token = next_token
