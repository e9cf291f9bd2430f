"""Object paths, media types and Cache-Control rules for live media (pure).

Content types follow the registrations players check: HLS playlists are
``application/vnd.apple.mpegurl`` (the IANA-registered type RFC 8216 §4 names, and
what Apple's tools and hls.js/ExoPlayer/AVPlayer expect; ``application/x-mpegURL`` is
the older unregistered alias, accepted but not preferred), DASH manifests
``application/dash+xml`` (ISO/IEC 23009-1 Annex C), MPEG-TS segments ``video/MP2T``
(RFC 3555), ISO BMFF media segments ``video/iso.segment`` (IANA), CMAF tracks
``video/mp4`` / ``audio/mp4`` and WebVTT ``text/vtt``. MediaStore stores whatever
``Content-Type`` it is given (checked against ``^[\\w\\-\\/\\.\\+]{1,255}$``) and serves
it back, so the choice made at ingest is what every player sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mediastore_ingest.errors import InvalidContentTypeError, InvalidInputError, InvalidPathError

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MANIFEST_EXTENSIONS",
    "MEDIA_TYPES",
    "CacheControlRule",
    "guess_content_type",
    "live_cache_control",
    "validate_content_type",
    "validate_path",
    "validate_s3_content_type",
    "validate_s3_key",
]

#: The type used when the extension is unknown.
DEFAULT_CONTENT_TYPE = "application/octet-stream"

#: Extension (lower case, with the dot) → Content-Type.
MEDIA_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m3u": "audio/mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/MP2T",
    ".m2ts": "video/MP2T",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".cmfv": "video/mp4",
    ".cmfa": "audio/mp4",
    ".cmft": "application/mp4",
    ".cmfi": "video/mp4",
    ".mp4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ac3": "audio/ac3",
    ".ec3": "audio/eac3",
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt",
    ".webvtt": "text/vtt",
    ".ttml": "application/ttml+xml",
    ".dfxp": "application/ttml+xml",
    ".key": "application/octet-stream",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".webm": "video/webm",
    ".bin": "application/octet-stream",
}

#: Extensions of manifests (playlists), which change on every segment.
MANIFEST_EXTENSIONS = frozenset({".m3u8", ".m3u", ".mpd"})

_PATH_RE = re.compile(r"(?:[A-Za-z0-9_.\-~]+/){0,10}[A-Za-z0-9_.\-~]+\Z")
_CONTENT_TYPE_RE = re.compile(r"[\w\-/.+]{1,255}\Z", re.ASCII)
_MAX_PATH = 900

CacheControlRule = Callable[[str], "str | None"]


def _extension(path: str) -> str:
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


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


_S3_KEY_MAX_BYTES = 1024


def validate_s3_key(path: object) -> str:
    """Return ``path`` if it is an S3 object key this client sends unambiguously
    through CloudFront, else raise :class:`~mediastore_ingest.errors.InvalidPathError`.

    1-1024 bytes of UTF-8, no control characters, no leading ``/``, no empty,
    ``.`` or ``..`` segment (clients and CloudFront normalise those away, so the key
    stored would not be the key signed). Everything else is percent-encoded on the
    wire.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"object key must be a str, not {type(path).__name__}")
    size = len(path.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= _S3_KEY_MAX_BYTES:
        raise InvalidPathError(
            f"object key is {size} bytes of UTF-8; S3 allows 1-{_S3_KEY_MAX_BYTES}",
            path=path[:80],
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in path):
        raise InvalidPathError(f"object key {path!r} has a control character", path=path)
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidPathError(
            f"invalid object key {path!r} (no leading '/', empty, '.' or '..' segment)",
            path=path,
        )
    return path


def validate_s3_content_type(content_type: object, *, path: str | None = None) -> str:
    """Return ``content_type`` if it is a valid header value for S3 (parameters such
    as ``; codecs=...`` allowed), else raise
    :class:`~mediastore_ingest.errors.InvalidContentTypeError`."""
    if (
        not isinstance(content_type, str)
        or not 0 < len(content_type) <= 255
        or not content_type.isascii()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in content_type)
        or "/" not in content_type
    ):
        raise InvalidContentTypeError(f"invalid Content-Type {content_type!r}", path=path)
    return content_type


def _check_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a str, not {type(value).__name__}")


def guess_content_type(path: str, default: str = DEFAULT_CONTENT_TYPE) -> str:
    """The Content-Type for ``path`` from its extension (``default`` if unknown)."""
    _check_str("path", path)
    _check_str("default", default)
    return MEDIA_TYPES.get(_extension(path), default)


def is_manifest(path: str) -> bool:
    """True for ``.m3u8``, ``.m3u`` and ``.mpd`` paths."""
    _check_str("path", path)
    return _extension(path) in MANIFEST_EXTENSIONS


def live_cache_control(
    path: str,
    *,
    manifest: str = "max-age=1",
    segment: str = "max-age=31536000",
) -> str | None:
    """A Cache-Control rule for live streams: manifests are re-read by players every
    target duration, so they get ``manifest`` (``max-age=1``); segments never change
    once written (new ones get new names), so they get ``segment`` (a year).
    Pass it as ``IngestConfig(cache_control=live_cache_control)``."""
    _check_str("manifest", manifest)
    _check_str("segment", segment)
    return manifest if is_manifest(path) else segment
