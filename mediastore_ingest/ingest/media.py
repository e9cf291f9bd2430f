"""Media types and Cache-Control rules for live media (pure).

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

from collections.abc import Callable

from mediastore_ingest._internal.validate import check_str

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MANIFEST_EXTENSIONS",
    "MEDIA_TYPES",
    "CacheControlRule",
    "guess_content_type",
    "is_manifest",
    "live_cache_control",
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


CacheControlRule = Callable[[str], "str | None"]


def _extension(path: str) -> str:
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _check_str(name: str, value: object) -> None:
    """Kept for ``relay/relay.py``, which imports it until it checks its arguments
    with the toolkit; nothing in this package uses it. Delete it then."""
    check_str(name, value, empty=True)


def guess_content_type(path: str, default: str = DEFAULT_CONTENT_TYPE) -> str:
    """The Content-Type for ``path`` from its extension (``default`` if unknown)."""
    check_str("path", path, empty=True)
    check_str("default", default, empty=True)
    return MEDIA_TYPES.get(_extension(path), default)


def is_manifest(path: str) -> bool:
    """True for ``.m3u8``, ``.m3u`` and ``.mpd`` paths."""
    check_str("path", path, empty=True)
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
    check_str("manifest", manifest, empty=True)
    check_str("segment", segment, empty=True)
    return manifest if is_manifest(path) else segment
