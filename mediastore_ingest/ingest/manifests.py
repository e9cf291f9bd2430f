"""What a manifest names: the objects an HLS playlist or a DASH MPD references (pure).

A publisher must not make a manifest visible before the objects it names are stored
(DASH-IF Live Media Ingest: "never the playlist before its segment"). This module
reads a manifest and says which objects those are, resolved to object paths; it does
no I/O and keeps no state, so the relay (and a publisher) can decide what to wait for.

`manifest_references` returns a `ManifestRefs`, or ``None`` for a
manifest it cannot read (not UTF-8, not ``#EXTM3U``, not an ``<MPD>``, an XML
document with a DTD). What each field holds:

``required``
    Objects to store before the manifest. HLS media playlist: every media segment URI
    (not one after ``#EXT-X-GAP``), ``#EXT-X-PART`` URIs (not ``GAP=YES``),
    ``#EXT-X-MAP`` init segments, ``#EXT-X-KEY``/``#EXT-X-SESSION-KEY`` key files that
    are local (relative). DASH: initialization segments and every media segment a
    ``SegmentTemplate`` with a ``SegmentTimeline`` (``$Number$`` or ``$Time$``) lists,
    a ``SegmentList``'s URLs, a ``SegmentBase`` representation's file; a static MPD's
    ``@duration`` template is counted from the presentation duration.
``patterns``
    Regular expressions (to ``fullmatch`` object paths) for templated media that
    cannot be listed: a dynamic MPD's ``@duration`` template (its segment count
    depends on the wall clock), a timeline repeating to the end of the period, or a
    list longer than `MAX_LISTED`.
``hints``
    ``#EXT-X-PRELOAD-HINT`` URIs: the next part, which does not exist yet. Never wait
    for them.
``independent``
    Other manifests, updated on their own: a master playlist's variant and rendition
    playlists, ``#EXT-X-RENDITION-REPORT`` URIs, any reference that is itself a
    manifest. Not waited for (waiting for one another could deadlock).
``external``
    How many references were absolute URLs (another host, ``data:``, ``skd:``):
    nothing a publisher of this path stores.

Resolution: a reference is resolved against the manifest's own path like a relative
URL (``../720p/seg1.ts`` from ``live/1080p/index.m3u8`` is ``live/720p/seg1.ts``); a
root-relative one (``/live/seg1.ts``) against ``root`` (the path prefix the
publisher puts before every object, so ``root + "live/seg1.ts"``). Query strings and
fragments are dropped, percent-escapes decoded; a reference that climbs above the
root of the paths is dropped.
"""

from __future__ import annotations

import contextlib
import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Literal
from urllib.parse import unquote, urlsplit

import attrs

from mediastore_ingest._internal.validate import check_str
from mediastore_ingest.ingest.media import is_manifest

__all__ = [
    "MAX_LISTED",
    "MAX_MANIFEST_BYTES",
    "ManifestKind",
    "ManifestRefs",
    "manifest_references",
    "resolve_reference",
]

#: Manifests larger than this are not parsed (``None``): no live manifest is this big.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: A template lists at most this many segments; past it, a pattern stands for the rest.
MAX_LISTED = 20_000

ManifestKind = Literal["hls-media", "hls-master", "dash"]


@attrs.frozen
class ManifestRefs:
    """What one manifest references (see the module docstring)."""

    kind: ManifestKind
    required: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    independent: tuple[str, ...] = ()
    external: int = 0

    def matches(self, path: str) -> bool:
        """True when ``path`` is required or matches a pattern."""
        return path in self.required or any(re.fullmatch(p, path) for p in self.patterns)


def resolve_reference(base: str, ref: str, *, root: str = "") -> str | None:
    """The object path ``ref`` names from the manifest at object path ``base``;
    ``None`` for an absolute URL, an empty reference or one above the root."""
    check_str("base", base, empty=True)
    check_str("ref", ref, empty=True)
    return _resolve(base, ref, root)


def _resolve(base: str, ref: str, root: str, *, directory: bool = False) -> str | None:
    ref = ref.strip()
    if not ref:
        return None
    try:
        parts = urlsplit(ref)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path or "\0" in path:
        return None
    if path.startswith("/"):
        joined = root.strip("/") + "/" + path.lstrip("/")
    else:
        joined = posixpath.dirname(base) + "/" + path
    result = posixpath.normpath(joined.lstrip("/"))
    if result in ("", ".") or result == ".." or result.startswith("../"):
        return None  # empty, or above the root of the paths
    if directory or path.endswith("/"):
        result += "/"
    return result


def manifest_references(path: str, data: bytes, *, root: str = "") -> ManifestRefs | None:
    """The objects the manifest stored at ``path`` with body ``data`` references;
    ``None`` when it cannot be read (see the module docstring)."""
    check_str("path", path, empty=True)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes")
    if len(data) > MAX_MANIFEST_BYTES:
        return None
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    head = text.lstrip()
    if head.startswith("#EXTM3U"):
        return _hls(path, head, root)
    if head.startswith("<"):
        return _dash(path, text, root)
    return None


# --- HLS --------------------------------------------------------------------------------

_ATTRIBUTE_RE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]*)')


def _attributes(tag_value: str) -> dict[str, str]:
    return {
        name: value[1:-1] if value.startswith('"') else value
        for name, value in _ATTRIBUTE_RE.findall(tag_value)
    }


class _Collector:
    def __init__(self, base: str, root: str) -> None:
        self.base = base
        self.root = root
        self.required: dict[str, None] = {}
        self.patterns: dict[str, None] = {}
        self.hints: dict[str, None] = {}
        self.independent: dict[str, None] = {}
        self.external = 0

    def add(self, ref: str | None, into: dict[str, None], base: str | None = None) -> None:
        if ref is None:
            return
        resolved = _resolve(self.base if base is None else base, ref, self.root)
        if resolved is None:
            with contextlib.suppress(ValueError):
                if urlsplit(ref.strip()).scheme:
                    self.external += 1
            return
        if into is self.required and is_manifest(resolved):
            into = self.independent
        into[resolved] = None

    def refs(self, kind: ManifestKind) -> ManifestRefs:
        for path in self.required:
            self.hints.pop(path, None)
        return ManifestRefs(
            kind=kind,
            required=tuple(self.required),
            patterns=tuple(self.patterns),
            hints=tuple(self.hints),
            independent=tuple(self.independent),
            external=self.external,
        )


_MASTER_TAGS = ("#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA:")


def _hls(path: str, text: str, root: str) -> ManifestRefs:
    lines = [line.strip() for line in text.splitlines()]
    master = any(line.startswith(_MASTER_TAGS) for line in lines)
    found = _Collector(path, root)
    gap = False
    for line in lines:
        if not line:
            continue
        if not line.startswith("#"):
            if not gap:  # after #EXT-X-GAP the segment is absent: nothing to wait for
                found.add(line, found.independent if master else found.required)
            gap = False
            continue
        tag, _, value = line.partition(":")
        attributes = _attributes(value) if value else {}
        uri = attributes.get("URI")
        if tag == "#EXT-X-GAP":
            gap = True
        elif tag in ("#EXT-X-MAP", "#EXT-X-PART"):
            if attributes.get("GAP", "").upper() != "YES":
                found.add(uri, found.required)
        elif tag in ("#EXT-X-KEY", "#EXT-X-SESSION-KEY"):
            if attributes.get("METHOD", "").upper() != "NONE":
                found.add(uri, found.required)
        elif tag == "#EXT-X-PRELOAD-HINT":
            found.add(uri, found.hints)
        elif tag in ("#EXT-X-RENDITION-REPORT", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA"):
            found.add(uri, found.independent)
    return found.refs("hls-master" if master else "hls-media")


# --- DASH -------------------------------------------------------------------------------

_DURATION_RE = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_IDENTIFIER_RE = re.compile(r"\$(RepresentationID|Number|Time|Bandwidth|SubNumber)"
                            r"(?:%0?(\d{1,2})d)?\$|\$\$")
_SEGMENT_ELEMENTS = ("SegmentTemplate", "SegmentList", "SegmentBase")


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in element if _local(c.tag) == name)


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    match = _DURATION_RE.fullmatch(value.strip())
    if match is None:
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    if not parts:
        return None
    return (parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60 + parts.get("s", 0))


def _int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    value = value.strip()
    if not re.fullmatch(r"-?\d{1,18}", value):
        return None
    return int(value)


class _Unresolvable(Exception):
    pass


def _fill(template: str, values: dict[str, str | int]) -> str:
    def one(match: re.Match[str]) -> str:
        name, width = match.group(1), match.group(2)
        if name is None:
            return "$"
        if name not in values:
            raise _Unresolvable(name)
        value = values[name]
        if isinstance(value, int) and width:
            return f"{value:0{int(width)}d}"
        return str(value)

    return _IDENTIFIER_RE.sub(one, template)


_MARK = "MSINUMBERMARK"


def _pattern(found: _Collector, base: str, template: str, values: dict[str, str | int]) -> None:
    """Add the pattern of the paths ``template`` names below ``base`` (numbers and
    times unknown)."""
    marked = _IDENTIFIER_RE.sub(
        lambda m: "$" if m.group(1) is None else (
            str(values[m.group(1)]) if m.group(1) in values else _MARK),
        template,
    )
    resolved = _resolve(base, marked, found.root)
    if resolved is None:
        found.external += 1
        return
    found.patterns[re.escape(resolved).replace(_MARK, "[0-9]+")] = None


def _merged_template(levels: list[ET.Element]) -> tuple[dict[str, str], ET.Element | None]:
    attributes: dict[str, str] = {}
    timeline = None
    for level in levels:
        template = _child(level, "SegmentTemplate")
        if template is None:
            continue
        attributes.update(template.attrib)
        found = _child(template, "SegmentTimeline")
        if found is not None:
            timeline = found
    return attributes, timeline


def _timeline(timeline: ET.Element) -> list[int] | None:
    """The start time of every segment of a SegmentTimeline; None past MAX_LISTED or
    when a repeat runs to the end of the period."""
    entries = list(_children(timeline, "S"))
    times: list[int] = []
    now = 0
    for index, s in enumerate(entries):
        t = _int(s.get("t"), now)
        d = _int(s.get("d"), -1)
        r = _int(s.get("r"), 0)
        if t is None or d is None or r is None or d <= 0:
            return None
        now = t
        if r < 0:
            following = entries[index + 1].get("t") if index + 1 < len(entries) else None
            next_t = _int(following, -1) if following is not None else None
            if next_t is None or next_t <= t:
                return None
            r = math.ceil((next_t - t) / d) - 1
        if len(times) + r + 1 > MAX_LISTED:
            return None
        for _ in range(r + 1):
            times.append(now)
            now += d
    return times


def _base(found: _Collector, base: str | None, element: ET.Element) -> str | None:
    """The base (a file path or a directory ending in "/") below ``element``'s BaseURL;
    None when it is another host."""
    if base is None:
        return None
    url = _child(element, "BaseURL")
    if url is None or not (url.text or "").strip():
        return base
    resolved = _resolve(base, url.text or "", found.root)
    if resolved is None:
        found.external += 1
    return resolved


def _dash(path: str, text: str, root: str) -> ManifestRefs | None:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None  # no DTDs: no entity expansion to worry about
    try:
        mpd = ET.fromstring(text)  # noqa: S314 - no DTD (above), so no entities to expand
    except ET.ParseError:
        return None
    if _local(mpd.tag) != "MPD":
        return None
    found = _Collector(path, root)
    dynamic = mpd.get("type", "static") == "dynamic"
    total = _seconds(mpd.get("mediaPresentationDuration"))
    mpd_base = _base(found, path, mpd)
    try:
        for period in _children(mpd, "Period"):
            period_base = _base(found, mpd_base, period)
            length = _seconds(period.get("duration")) or total
            for adaptation in _children(period, "AdaptationSet"):
                set_base = _base(found, period_base, adaptation)
                representations = list(_children(adaptation, "Representation"))
                for rep in representations:
                    rep_base = _base(found, set_base, rep)
                    if rep_base is None:
                        continue
                    _representation(found, rep_base, [period, adaptation, rep], rep,
                                     None if dynamic else length)
    except _Unresolvable:
        return None
    return found.refs("dash")


def _representation(
    found: _Collector, base: str, levels: list[ET.Element], rep: ET.Element,
    length: float | None,
) -> None:
    values: dict[str, str | int] = {}
    if rep.get("id") is not None:
        values["RepresentationID"] = rep.get("id", "")
    if rep.get("bandwidth") is not None:
        values["Bandwidth"] = rep.get("bandwidth", "")
    nearest = next(
        (_local(c.tag) for level in reversed(levels) for c in level
         if _local(c.tag) in _SEGMENT_ELEMENTS),
        None,
    )
    if nearest == "SegmentTemplate":
        _template(found, base, levels, values, length)
    elif nearest == "SegmentList":
        segment_list = next(
            (found_list for level in reversed(levels)
             if (found_list := _child(level, "SegmentList")) is not None),
            None,
        )
        if segment_list is not None:
            init = _child(segment_list, "Initialization")
            if init is not None and init.get("sourceURL"):
                found.add(init.get("sourceURL"), found.required, base)
            for url in _children(segment_list, "SegmentURL"):
                if url.get("media"):
                    found.add(url.get("media"), found.required, base)
                elif _names_a_file(found, base):
                    found.required[base] = None  # byte ranges of the base file
    elif _names_a_file(found, base):
        found.required[base] = None  # SegmentBase, or one file per representation


def _names_a_file(found: _Collector, base: str) -> bool:
    # A BaseURL naming a file (not a directory; not the MPD itself, when none is given).
    return not base.endswith("/") and base != found.base


def _template(
    found: _Collector, base: str, levels: list[ET.Element], values: dict[str, str | int],
    length: float | None,
) -> None:
    attributes, timeline = _merged_template(levels)
    init = attributes.get("initialization")
    if init:
        found.add(_fill(init, values), found.required, base)
    media = attributes.get("media")
    if not media:
        return
    start = _int(attributes.get("startNumber"), 1)
    scale = _int(attributes.get("timescale"), 1)
    duration = _int(attributes.get("duration"), -1)
    if start is None or scale is None or scale <= 0:
        raise _Unresolvable("startNumber/timescale")
    times: list[int] | None = None
    if timeline is not None:
        times = _timeline(timeline)
    elif duration is not None and duration > 0 and length is not None:
        count = math.ceil(length * scale / duration)
        if count <= MAX_LISTED:
            times = [i * duration for i in range(count)]
    if times is None:
        _pattern(found, base, media, values)
        return
    for offset, time in enumerate(times):
        found.add(_fill(media, {**values, "Number": start + offset, "Time": time}),
                  found.required, base)
