"""What the local servers record for tests to assert on.

``StoredObject`` is an object's metadata as a local origin stored it (the
bytes come from ``read``); ``ForwardedRequest`` is a request a
``LocalEdge`` sent to its origin. The server side of
each request is a ``RecordedRequest``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import attrs

from mediastore_ingest._internal.redact import redact_headers, target_repr
from mediastore_ingest._internal.show import type_name
from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.testing._faults import FaultKind

__all__ = ["ForwardedRequest", "StoredObject"]


@attrs.frozen
class StoredObject:
    """What a local origin holds at one path (metadata; the bytes via ``read``)."""

    path: str
    size: int
    content_type: str
    cache_control: str | None
    etag: str
    content_sha256: str
    last_modified: datetime.datetime
    storage_class: str = "TEMPORAL"
    upload_availability: str = "STANDARD"
    #: Other headers stored with the object and sent back on GET/HEAD (an S3
    #: bucket's ``x-amz-meta-*``, ``Content-Encoding`` ...); empty for MediaStore.
    headers: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The metadata as a JSON-ready dict (for the on-disk store)."""
        extra: dict[str, Any] = {"headers": [list(h) for h in self.headers]} if self.headers else {}
        return extra | {
            "path": self.path,
            "size": self.size,
            "content_type": self.content_type,
            "cache_control": self.cache_control,
            "etag": self.etag,
            "content_sha256": self.content_sha256,
            "last_modified": self.last_modified.timestamp(),
            "storage_class": self.storage_class,
            "upload_availability": self.upload_availability,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StoredObject:
        """Inverse of ``to_json``; ``InvalidInputError`` for anything else."""
        try:
            if not isinstance(document, Mapping):
                raise TypeError(f"a JSON object is needed, not {type_name(document)}")
            cache_control = document.get("cache_control")
            if cache_control is not None and not isinstance(cache_control, str):
                raise TypeError("cache_control is not a str")
            return cls(
                path=str(document["path"]),
                size=int(document["size"]),
                content_type=str(document["content_type"]),
                cache_control=cache_control,
                etag=str(document["etag"]),
                content_sha256=str(document["content_sha256"]),
                last_modified=datetime.datetime.fromtimestamp(
                    float(document["last_modified"]), datetime.timezone.utc
                ),
                storage_class=str(document.get("storage_class", "TEMPORAL")),
                upload_availability=str(document.get("upload_availability", "STANDARD")),
                headers=tuple((str(k), str(v)) for k, v in document.get("headers", ())),
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise InvalidInputError(f"not a stored object's metadata: {exc!r:.200}") from exc


@attrs.frozen
class ForwardedRequest:
    """A request the edge sent to the origin.

    ``path`` is the origin request target (CloudFront's query parameters removed),
    ``headers`` what the origin was sent (in order), ``status`` the origin's status
    (``None`` when no answer came: unreachable origin or a ``drop_request`` fault),
    ``body_bytes`` the request body bytes forwarded, ``chunked`` whether they went
    out with ``Transfer-Encoding: chunked``, ``fault`` the fault injected, if any.

    The ``repr`` (what pytest prints when an assertion fails) never shows a secret:
    the values of ``User-Agent`` (the ingest secret), ``Authorization``, ``Cookie``,
    ``X-Amz-Security-Token`` and the edge's origin custom headers are ``str``
    objects whose ``repr`` is ``'<redacted>'`` (they compare and print as the value),
    and the signature in ``viewer_path`` is shown as ``Signature=<redacted>``.
    """

    method: str
    path: str
    viewer_path: str = attrs.field(repr=target_repr)
    headers: tuple[tuple[str, str], ...] = attrs.field(converter=redact_headers)
    status: int | None
    body_bytes: int
    chunked: bool
    fault: FaultKind | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)
