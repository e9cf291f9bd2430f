"""The values the ingest client takes and returns, and how they are read from an
origin's answer (headers, ``ListItems`` entries)."""

from __future__ import annotations

import datetime as _dt
import email.utils
from collections.abc import Iterator, Mapping

import attrs

from mediastore_ingest.ingest.transports.base import Headers, Response

__all__ = [
    "ListItem",
    "ObjectInfo",
    "ObjectStream",
    "PutOutcome",
    "PutRequest",
    "PutResult",
    "list_item",
    "object_info",
    "str_or_none",
]


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
    """One item for [`IngestClient.put_many`][mediastore_ingest.ingest.IngestClient.put_many]
    (the arguments of ``put``)."""

    path: str
    body: object = attrs.field(repr=False, eq=False)
    content_type: str | None = None
    cache_control: str | None = None
    storage_class: str | None = None
    upload_availability: str | None = None


@attrs.frozen
class PutOutcome:
    """The result of one
    [`IngestClient.put_many`][mediastore_ingest.ingest.IngestClient.put_many] item:
    ``result`` on success, ``error`` (the exception) on failure."""

    path: str
    result: PutResult | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the upload succeeded."""
        return self.error is None

    @property
    def attempts(self) -> int:
        """The requests made for this item: the result's, or the error's (a 403 tried
        once is 1); 0 when none was sent (refused before sending)."""
        if self.result is not None:
            return self.result.attempts
        attempts = getattr(self.error, "attempts", None)
        return attempts if isinstance(attempts, int) else 0

    def unwrap(self) -> PutResult:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class ObjectStream:
    """An object being downloaded: ``info`` now, the bytes as they arrive.

    Iterate it (or call ``read()``), then close it (or use ``with``)."""

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


# --- reading an answer ---------------------------------------------------------------


def str_or_none(value: object) -> str | None:
    """``value`` if it is a str (a field of a JSON answer), else ``None``."""
    return value if isinstance(value, str) else None


def _int_value(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def object_info(path: str, headers: Headers) -> ObjectInfo:
    """The metadata a ``HEAD`` or ``GET`` answer gives of object ``path``."""
    return ObjectInfo(
        path=path,
        size=_int_or_none(headers.get("Content-Length")),
        content_type=headers.get("Content-Type"),
        etag=headers.get("ETag"),
        last_modified=_http_date(headers.get("Last-Modified")),
        cache_control=headers.get("Cache-Control"),
    )


def list_item(raw: object) -> ListItem | None:
    """One entry of a ``ListItems`` answer; ``None`` for an entry without a name."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
        return None
    return ListItem(
        name=raw["Name"],
        type=str(raw.get("Type", "OBJECT")),
        etag=str_or_none(raw.get("ETag")),
        content_type=str_or_none(raw.get("ContentType")),
        content_length=_int_value(raw.get("ContentLength")),
        last_modified=_epoch_date(raw.get("LastModified")),
    )
