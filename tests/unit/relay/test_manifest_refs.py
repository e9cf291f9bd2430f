"""What a manifest names (mediastore_ingest.ingest.manifests): HLS media and master
playlists, LL-HLS parts and hints, DASH templates, timelines, lists; resolution of
relative, root-relative and absolute references; what cannot be read."""

from __future__ import annotations

import re

import pytest

from mediastore_ingest.ingest.manifests import (
    MAX_LISTED,
    MAX_MANIFEST_BYTES,
    ManifestRefs,
    manifest_references,
    resolve_reference,
)

FFMPEG_HLS = b"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1.000000,
index0.ts
#EXTINF:1.000000,
index1.ts
#EXT-X-ENDLIST
"""

FFMPEG_MPD = b"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3.0S">
  <Period id="0" start="PT0.0S">
    <AdaptationSet id="0" contentType="video">
      <Representation id="0" mimeType="video/mp4" bandwidth="200000">
        <SegmentTemplate timescale="12800" initialization="init-stream$RepresentationID$.m4s"
            media="chunk-stream$RepresentationID$-$Number%05d$.m4s" startNumber="1">
          <SegmentTimeline><S t="0" d="12800" r="2" /></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""


@pytest.mark.parametrize(
    ("base", "ref", "root", "expected"),
    [
        ("live/index.m3u8", "seg1.ts", "", "live/seg1.ts"),
        ("live/1080p/index.m3u8", "../720p/seg1.ts", "", "live/720p/seg1.ts"),
        ("ch1/live/index.m3u8", "/live/seg1.ts", "ch1/", "ch1/live/seg1.ts"),
        ("ch1/live/index.m3u8", "/live/seg1.ts", "", "live/seg1.ts"),
        ("live/index.m3u8", "seg%201.ts?token=x#frag", "", "live/seg 1.ts"),
        ("index.m3u8", "seg1.ts", "", "seg1.ts"),
        ("live/index.m3u8", "./a/./b/../seg.ts", "", "live/a/seg.ts"),
        ("live/index.m3u8", "../../escape.ts", "", None),
        ("live/index.m3u8", "https://cdn.example/seg1.ts", "", None),
        ("live/index.m3u8", "//cdn.example/seg1.ts", "", None),
        ("live/index.m3u8", "data:text/plain,abc", "", None),
        ("live/index.m3u8", "skd://key-id", "", None),
        ("live/index.m3u8", "", "", None),
    ],
)
def test_resolve_reference(base: str, ref: str, root: str, expected: str | None) -> None:
    assert resolve_reference(base, ref, root=root) == expected


def test_ffmpeg_hls_media_playlist() -> None:
    refs = manifest_references("ch1/live/index.m3u8", FFMPEG_HLS)
    assert refs == ManifestRefs(kind="hls-media",
                                required=("ch1/live/index0.ts", "ch1/live/index1.ts"))


def test_ll_hls_parts_map_key_gap_and_hints() -> None:
    playlist = b"""#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-PART-INF:PART-TARGET=1.0
#EXT-X-MAP:URI="init.mp4"
#EXT-X-KEY:METHOD=AES-128,URI="../keys/k1.bin",IV=0x1
#EXTINF:4,
/abs/seg1.mp4
#EXT-X-GAP
#EXTINF:4,
seg2.mp4
#EXT-X-KEY:METHOD=NONE
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://remote-key"
#EXT-X-PART:DURATION=1,URI="seg3.part0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=1,URI="seg3.part1.mp4",GAP=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg3.part2.mp4"
#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=3
http://cdn.example/x.ts
"""
    refs = manifest_references("ch1/live/1080p/index.m3u8", playlist, root="ch1/")
    assert refs is not None
    assert refs.kind == "hls-media"
    assert refs.required == ("ch1/live/1080p/init.mp4", "ch1/live/keys/k1.bin",
                             "ch1/abs/seg1.mp4", "ch1/live/1080p/seg3.part0.mp4")
    # the preload hint names a part that does not exist yet: never waited for
    assert refs.hints == ("ch1/live/1080p/seg3.part2.mp4",)
    assert refs.independent == ("ch1/live/720p/index.m3u8",)
    assert refs.external == 2  # skd:// and http://


def test_master_playlist_variants_are_not_waited_for() -> None:
    master = b"""#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AUDIO="a"
v720/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="v720/iframes.m3u8"
"""
    refs = manifest_references("live/master.m3u8", master)
    assert refs is not None
    assert refs.kind == "hls-master"
    assert refs.required == ()
    assert set(refs.independent) == {"live/audio/index.m3u8", "live/v720/index.m3u8",
                                     "live/v720/iframes.m3u8"}


def test_a_media_playlist_naming_a_playlist_does_not_wait_for_it() -> None:
    refs = manifest_references("live/a.m3u8", b"#EXTM3U\n#EXTINF:1,\nother.m3u8\nseg.ts\n")
    assert refs is not None
    assert refs.required == ("live/seg.ts",)
    assert refs.independent == ("live/other.m3u8",)


def test_ffmpeg_dash_template_with_timeline() -> None:
    refs = manifest_references("ch1/live/manifest.mpd", FFMPEG_MPD)
    assert refs == ManifestRefs(kind="dash", required=(
        "ch1/live/init-stream0.m4s", "ch1/live/chunk-stream0-00001.m4s",
        "ch1/live/chunk-stream0-00002.m4s", "ch1/live/chunk-stream0-00003.m4s",
    ))


def test_dash_time_template_inheritance_and_base_urls() -> None:
    mpd = b"""<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic">
  <BaseURL>media/</BaseURL>
  <Period>
    <AdaptationSet>
      <BaseURL>video/</BaseURL>
      <SegmentTemplate timescale="1000" media="$RepresentationID$/t$Time$.m4s"
          initialization="$RepresentationID$/init.mp4">
        <SegmentTimeline><S t="1000" d="2000" r="1"/><S d="1000"/><S t="9000" d="500" r="-1"/>
          <S t="10000" d="500"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="hd" bandwidth="5000000"/>
    </AdaptationSet>
    <AdaptationSet>
      <BaseURL>https://elsewhere.example/</BaseURL>
      <Representation id="remote"><SegmentList><SegmentURL media="x.m4s"/></SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>"""
    refs = manifest_references("live/x.mpd", mpd)
    assert refs is not None
    d = "live/media/video/hd/"
    assert refs.required == (d + "init.mp4", d + "t1000.m4s", d + "t3000.m4s",
                             d + "t5000.m4s", d + "t9000.m4s", d + "t9500.m4s",
                             d + "t10000.m4s")
    assert refs.external == 1


def test_dash_dynamic_duration_template_becomes_a_pattern() -> None:
    mpd = b"""<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"><Period>
<AdaptationSet><SegmentTemplate media="$RepresentationID$/seg-$Number%03d$.m4s"
 initialization="$RepresentationID$/init.mp4" duration="2" timescale="1"/>
<Representation id="v1"/></AdaptationSet></Period></MPD>"""
    refs = manifest_references("live/x.mpd", mpd)
    assert refs is not None
    assert refs.required == ("live/v1/init.mp4",)
    (pattern,) = refs.patterns
    assert re.fullmatch(pattern, "live/v1/seg-017.m4s")
    assert not re.fullmatch(pattern, "live/v2/seg-017.m4s")
    assert refs.matches("live/v1/seg-5.m4s")


def test_dash_static_duration_template_is_counted() -> None:
    mpd = b"""<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT5S">
<Period><AdaptationSet><Representation id="a">
<SegmentTemplate media="s$Number$.m4s" duration="2" startNumber="0"/></Representation>
</AdaptationSet></Period></MPD>"""
    refs = manifest_references("x.mpd", mpd)
    assert refs is not None
    assert refs.required == ("s0.m4s", "s1.m4s", "s2.m4s")


def test_dash_segment_list_and_segment_base() -> None:
    mpd = b"""<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet>
<Representation id="a"><SegmentList><Initialization sourceURL="a/init.mp4"/>
<SegmentURL media="a/1.m4s"/><SegmentURL media="a/2.m4s"/></SegmentList></Representation>
<Representation id="b"><BaseURL>b/whole.mp4</BaseURL><SegmentBase indexRange="0-99"/>
</Representation>
<Representation id="c"/>
</AdaptationSet></Period></MPD>"""
    refs = manifest_references("live/x.mpd", mpd)
    assert refs is not None
    assert refs.required == ("live/a/init.mp4", "live/a/1.m4s", "live/a/2.m4s",
                             "live/b/whole.mp4")


def test_a_huge_timeline_becomes_a_pattern() -> None:
    mpd = (b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet>'
           b'<Representation id="a"><SegmentTemplate media="s$Number$.m4s">'
           b'<SegmentTimeline><S d="1" r="' + str(MAX_LISTED * 10).encode() + b'"/>'
           b"</SegmentTimeline></SegmentTemplate></Representation></AdaptationSet>"
           b"</Period></MPD>")
    refs = manifest_references("x.mpd", mpd)
    assert refs is not None
    assert refs.required == ()
    assert refs.patterns == (r"s[0-9]+\.m4s",)


@pytest.mark.parametrize(
    "data",
    [
        b"not a playlist",
        b"\xff\xfe#EXTM3U",  # not UTF-8
        b"<NotAnMPD/>",
        b"<MPD><unclosed>",
        b'<!DOCTYPE MPD [<!ENTITY a "aaaa">]><MPD>&a;</MPD>',  # no DTDs
        b"#EXTM3U\n" + b"#" * MAX_MANIFEST_BYTES,
    ],
)
def test_what_cannot_be_read_is_none(data: bytes) -> None:
    assert manifest_references("live/x.m3u8", data) is None


def test_a_bom_and_leading_space_are_accepted() -> None:
    refs = manifest_references("a/i.m3u8", b"\xef\xbb\xbf\n #EXTM3U\nseg.ts\n")
    assert refs is not None
    assert refs.required == ("a/seg.ts",)
