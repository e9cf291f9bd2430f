"""Media types and the live Cache-Control rule."""

from __future__ import annotations

import pytest

from mediastore_ingest.errors import (
    InvalidContentTypeError,
)
from mediastore_ingest.ingest import (
    MEDIA_TYPES,
    guess_content_type,
    live_cache_control,
    validate_content_type,
)


def test_content_types_are_all_valid_for_mediastore() -> None:
    for ext, ctype in MEDIA_TYPES.items():
        assert validate_content_type(ctype) == ctype
        assert guess_content_type("live/x" + ext.upper()) == ctype
    assert guess_content_type("live/.hidden") == "application/octet-stream"
    assert guess_content_type("live.d/noext") == "application/octet-stream"
    with pytest.raises(InvalidContentTypeError):
        validate_content_type("text/html; charset=utf-8")
    with pytest.raises(InvalidContentTypeError):
        validate_content_type(None)


def test_live_cache_control() -> None:
    assert live_cache_control("a/index.m3u8") == "max-age=1"
    assert live_cache_control("a/manifest.MPD") == "max-age=1"
    assert live_cache_control("a/seg1.ts") == "max-age=31536000"
    assert live_cache_control("a/seg1.ts", segment="max-age=60") == "max-age=60"
    assert live_cache_control("a.m3u8") == "max-age=1"
    assert guess_content_type("a.ts") == "video/MP2T"
