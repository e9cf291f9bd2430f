"""AWS Elemental MediaStore containers: path and Content-Type rules, limits, errors.

AWS ended MediaStore on 2025-11-13; the description stays so that existing
containers keep working. Paths are up to 10 folders and a file name of
``A-Z a-z 0-9 _ . - ~`` (at most 900 characters); Content-Types match
``^[\\w\\-\\/\\.\\+]{1,255}$``; an object is at most 25 MB (10 MB with a streaming,
chunked upload) and an upload must finish within 30 s.
"""

from __future__ import annotations

import re

from mediastore_ingest.errors import InvalidContentTypeError, InvalidPathError
from mediastore_ingest.origins.base import Origin, register_origin

__all__ = ["MEDIASTORE", "validate_content_type", "validate_path"]

_PATH_RE = re.compile(r"(?:[A-Za-z0-9_.\-~]+/){0,10}[A-Za-z0-9_.\-~]+\Z")
_CONTENT_TYPE_RE = re.compile(r"[\w\-/.+]{1,255}\Z", re.ASCII)
_MAX_PATH = 900


def validate_path(path: object) -> str:
    """Return ``path`` if MediaStore accepts it as an object path, else raise
    :class:`~mediastore_ingest.errors.InvalidPathError`.

    Up to 10 folders and a file name of ``A-Z a-z 0-9 _ . - ~``, at most 900
    characters, no leading or trailing ``/``, no empty segment.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"object path must be a str, not {type(path).__name__}")
    if len(path) > _MAX_PATH:
        raise InvalidPathError(
            f"object path is {len(path)} characters; MediaStore allows at most {_MAX_PATH}",
            path=path[:80] + "...",
        )
    if not _PATH_RE.match(path):
        hint = ""
        if path.startswith("/"):
            hint = " (no leading '/')"
        elif path.count("/") > 10:
            hint = " (at most 10 folders)"
        elif path.endswith("/") or "//" in path or not path:
            hint = " (empty folder or file name)"
        else:
            hint = " (only letters, digits and _ . - ~ are allowed)"
        raise InvalidPathError(f"invalid object path {path!r}{hint}", path=path)
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidPathError(
            f"invalid object path {path!r} ('.' and '..' are not names)", path=path
        )
    return path


def validate_content_type(content_type: object, *, path: str | None = None) -> str:
    """Return ``content_type`` if MediaStore accepts it, else raise
    :class:`~mediastore_ingest.errors.InvalidContentTypeError`."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE_RE.match(content_type):
        raise InvalidContentTypeError(
            f"invalid Content-Type {content_type!r}: MediaStore accepts 1-255 characters "
            "of letters, digits, _ - / . + (no parameters such as '; charset=')",
            path=path,
        )
    return content_type


#: The MediaStore origin description.
MEDIASTORE = register_origin(
    Origin(
        name="mediastore",
        label="an AWS Elemental MediaStore container",
        validate_path=validate_path,
        validate_content_type=validate_content_type,
        max_object_bytes=25_000_000,
        max_streaming_bytes=10_000_000,
        upload_deadline=30.0,
        requires_content_sha256=False,
        put_options=frozenset({"storage_class", "upload_availability"}),
        sigv4_service="mediastore",
        error_hints={
            "AccessDeniedException": (
                "the container policy refused the request: check that the distribution "
                "adds the User-Agent secret as an origin custom header and that the "
                "policy allows it over HTTPS"
            ),
            "ContainerNotFoundException": "the container does not exist in this region",
            "ObjectNotFoundException": "no object at that path",
        },
    )
)
