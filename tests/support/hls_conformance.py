"""RFC 8216 (HLS) conformance checks applied to every playlist the tests fetch from the origin."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import m3u8

COMMON_TAGS = {"EXTM3U", "EXT-X-VERSION", "EXT-X-INDEPENDENT-SEGMENTS", "EXT-X-START", "EXT-X-DEFINE"}
MEDIA_TAGS = {  # 4.3.2 / 4.3.3, plus rfc8216bis (GAP, BITRATE, low-latency tags)
    "EXTINF", "EXT-X-BYTERANGE", "EXT-X-DISCONTINUITY", "EXT-X-KEY", "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME", "EXT-X-DATERANGE", "EXT-X-GAP", "EXT-X-BITRATE", "EXT-X-PART",
    "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE", "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY", "EXT-X-PART-INF", "EXT-X-SERVER-CONTROL",
    "EXT-X-SKIP", "EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT",
}
MASTER_TAGS = {  # 4.3.4
    "EXT-X-MEDIA", "EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF", "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY", "EXT-X-CONTENT-STEERING",
}
# Segment-scoped tags that are meaningless unless a URI line follows them.
_SEGMENT_TAGS = {"EXT-X-DISCONTINUITY", "EXT-X-PROGRAM-DATE-TIME", "EXT-X-GAP", "EXT-X-BYTERANGE", "EXT-X-BITRATE"}

_INT = re.compile(r"\d+")  # 4.2 decimal-integer
_DEC = re.compile(r"\d+(\.\d+)?")  # 4.2 decimal-floating-point (non-negative)
_PDT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)")
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]*)(,|$)')
_PDT_SAME = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


class ConformanceError(AssertionError):
    """A fetched playlist broke one or more conformance rules."""

    def __init__(self, url: str, violations: list[Violation], text: str):
        self.url, self.violations, self.text = url, list(violations), text
        lines = [f"{url}: {len(violations)} HLS conformance violation(s):"]
        lines += [f"  [{v.rule}] {v.message}" for v in violations]
        super().__init__("\n".join(lines + ["--- playlist ---", text]))


@dataclass
class _Segment:
    uri: str
    duration: float
    line: int
    discontinuity: bool = False
    gap: bool = False
    byterange: str | None = None
    pdt: datetime | None = None  # explicit EXT-X-PROGRAM-DATE-TIME
    effective_pdt: datetime | None = None  # explicit or carried forward from the last one
    dsn: int = 0  # discontinuity sequence number (4.3.3.3)
    map_uri: str | None = None  # the EXT-X-MAP that applies to it
    key: str | None = None  # the EXT-X-KEY that applies to it (its attribute list), None when clear


@dataclass
class _Media:
    target: int | None = None
    msn: int = 0
    dsn: int = 0
    ptype: str | None = None
    endlist: bool = False
    segments: list[_Segment] = field(default_factory=list)
    maps: list[tuple[str, int]] = field(default_factory=list)  # (uri, line)
    skipped: int = 0  # EXT-X-SKIP SKIPPED-SEGMENTS of a delta update (rfc8216bis 4.4.5.2)
    skip_until: float | None = None  # EXT-X-SERVER-CONTROL CAN-SKIP-UNTIL

    @property
    def first_seq(self) -> int:
        """The media sequence number of the first segment listed (after any skipped ones)."""
        return self.msn + self.skipped


def _attrs(value: str) -> dict[str, str] | None:
    """Parse a 4.2 attribute-list; None if malformed or an attribute repeats."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        m = _ATTR.match(value, pos)
        if not m or not m.group(2) or m.group(1) in out:
            return None
        out[m.group(1)] = m.group(2)
        pos = m.end()
        if m.group(3) == "," and pos == len(value):
            return None
    return out


def _unquote(v: str | None) -> str | None:
    return v[1:-1] if v and len(v) >= 2 and v[0] == v[-1] == '"' else None


def _lines(text: str, out: list[Violation]) -> tuple[list[tuple[int, str]], int]:
    """Checks shared by both playlist kinds; returns non-blank (number, line) pairs and the version."""
    # Project policy: the origin emits bare LF, although 4.1 would tolerate CRLF.
    if "\r" in text:
        out.append(Violation("4.1-newline", "playlist contains CR characters; lines must end with LF only"))
    if text and not text.endswith("\n"):
        out.append(Violation("4.1-newline", "last line is not terminated by LF"))
    raw = text.split("\n")
    if raw and raw[0].rstrip("\r") != "#EXTM3U":  # also catches a BOM (4.1)
        out.append(Violation("4.3.1.1-extm3u", f"first line must be exactly #EXTM3U, got {raw[0][:40]!r}"))
        raw[0] = raw[0].lstrip("\ufeff")
    try:
        m3u8.loads(text)
    except Exception as e:  # noqa: BLE001 - any parser failure is the finding
        out.append(Violation("m3u8-parse", f"m3u8.loads failed: {type(e).__name__}: {e}"))
    result, versions = [], []
    for n, line in enumerate(raw, 1):
        line = line.rstrip("\r")
        if not line:
            continue
        if line != line.strip():
            out.append(Violation("4.1-whitespace", f"line {n}: leading/trailing whitespace"))
            line = line.strip()
        if line.startswith("#EXT"):
            name, _, value = line[1:].partition(":")
            if name not in COMMON_TAGS | MEDIA_TAGS | MASTER_TAGS:
                out.append(Violation("4.1-unknown-tag", f"line {n}: unknown tag {name}"))
            if name == "EXT-X-VERSION":
                versions.append(value)
        result.append((n, line))
    if len(versions) > 1:
        out.append(Violation("4.3.1.2-version", f"EXT-X-VERSION appears {len(versions)} times"))
    if any(not _INT.fullmatch(v) for v in versions):
        out.append(Violation("4.3.1.2-version", f"EXT-X-VERSION is not an integer: {versions}"))
    return result, int(versions[0]) if versions and _INT.fullmatch(versions[0]) else 1


def _uri_ok(base: str, uri: str) -> bool:
    b, r = urlsplit(base), urlsplit(urljoin(base, uri))
    if b.scheme in ("http", "https"):
        return r.scheme in ("http", "https") and r.hostname == b.hostname
    # A path-only base (test clients) can only stay on the same origin via relative URIs.
    return not r.scheme and not r.netloc


def _parse_media(text: str, out: list[Violation]) -> _Media:
    pl = _Media()
    lines, version = _lines(text, out)
    targets, msns, dsns, ptypes = [], [], [], []
    pending: dict = {}
    pending_tags: list[str] = []
    open_map: int | None = None
    current_map = current_key = None
    skips: list[int] = []
    iframes = seen_segment = seen_disc = False
    for n, line in lines:
        if line.startswith("#"):
            if not line.startswith("#EXT"):
                continue  # comment
            name, _, value = line[1:].partition(":")
            if name in MASTER_TAGS:
                out.append(Violation("4.3.4-mixed", f"line {n}: master playlist tag {name} in a media playlist"))
            elif name in _SEGMENT_TAGS:
                pending_tags.append(name)
            if name == "EXTINF":
                if "duration" in pending:
                    out.append(Violation("4.3.2.1-extinf", f"line {n}: second EXTINF before a URI line"))
                dur = value.split(",", 1)[0]
                if not _DEC.fullmatch(dur) or float(dur) <= 0:
                    out.append(Violation("4.3.2.1-extinf", f"line {n}: duration {dur!r} is not a positive decimal"))
                    dur = "0"
                pending["duration"] = float(dur)
                seen_segment = True
            elif name == "EXT-X-TARGETDURATION":
                targets.append(value)
            elif name in ("EXT-X-MEDIA-SEQUENCE", "EXT-X-DISCONTINUITY-SEQUENCE"):
                rule = "4.3.3.2-media-sequence" if name == "EXT-X-MEDIA-SEQUENCE" else "4.3.3.3-discontinuity-sequence"
                (msns if name == "EXT-X-MEDIA-SEQUENCE" else dsns).append(value)
                # 4.3.3.2/4.3.3.3: before the first segment; DSN also before any EXT-X-DISCONTINUITY.
                if seen_segment or (seen_disc and rule.startswith("4.3.3.3")):
                    out.append(Violation(rule, f"line {n}: {name} too late (4.3.3.2/4.3.3.3 ordering)"))
                if not _INT.fullmatch(value):
                    out.append(Violation(rule, f"line {n}: {name} {value!r} is not a non-negative integer"))
            elif name == "EXT-X-DISCONTINUITY":
                pending["discontinuity"] = seen_disc = True
            elif name == "EXT-X-PROGRAM-DATE-TIME":
                try:
                    if not _PDT.fullmatch(value):
                        raise ValueError
                    pending["pdt"] = datetime.fromisoformat(value)
                except ValueError:
                    out.append(Violation("4.3.2.6-pdt-format", f"line {n}: {value!r} is not ISO 8601 with a time zone"))
            elif name == "EXT-X-GAP":
                pending["gap"] = True
            elif name == "EXT-X-BYTERANGE":
                pending["byterange"] = value
            elif name == "EXT-X-MAP":
                uri = _unquote((_attrs(value) or {}).get("URI"))
                if uri is None:
                    out.append(Violation("4.3.2.5-map", f"line {n}: EXT-X-MAP without a quoted URI attribute"))
                else:
                    pl.maps.append((uri, n))
                open_map, current_map = n, uri
            elif name == "EXT-X-KEY":
                current_key = None if value == "METHOD=NONE" else value
            elif name == "EXT-X-SKIP":
                skipped = (_attrs(value) or {}).get("SKIPPED-SEGMENTS", "")
                if seen_segment or not _INT.fullmatch(skipped):
                    out.append(Violation("4.4.5.2-skip", f"line {n}: EXT-X-SKIP must come before every segment "
                                         f"and carry an integer SKIPPED-SEGMENTS, got {value!r}"))
                skips.append(int(skipped) if _INT.fullmatch(skipped) else 0)
            elif name == "EXT-X-SERVER-CONTROL":
                until = (_attrs(value) or {}).get("CAN-SKIP-UNTIL")
                if until is not None:
                    if not _DEC.fullmatch(until):
                        out.append(Violation("4.4.3.8-server-control", f"line {n}: CAN-SKIP-UNTIL {until!r}"))
                    else:
                        pl.skip_until = float(until)
            elif name == "EXT-X-PLAYLIST-TYPE":
                ptypes.append(value)
            elif name == "EXT-X-ENDLIST":
                pl.endlist = True
            elif name == "EXT-X-I-FRAMES-ONLY":
                iframes = True
            continue
        seen_segment = True
        if "duration" not in pending:
            out.append(Violation("4.3.2.1-uri-without-extinf", f"line {n}: URI {line!r} has no EXTINF"))
        pl.segments.append(_Segment(uri=line, duration=pending.get("duration", 0.0), line=n,
                                    discontinuity=pending.get("discontinuity", False), gap=pending.get("gap", False),
                                    byterange=pending.get("byterange"), pdt=pending.get("pdt"),
                                    map_uri=current_map, key=current_key))
        pending, pending_tags, open_map = {}, [], None
    if "duration" in pending:
        out.append(Violation("4.3.2.1-extinf", "last EXTINF is not followed by a URI line"))
    elif pending_tags:
        out.append(Violation("4.3.2-dangling-tag", f"{', '.join(pending_tags)} at the end apply to no segment"))
    if open_map is not None:
        out.append(Violation("4.3.2.5-map", f"line {open_map}: EXT-X-MAP is not followed by any segment"))

    if len(targets) != 1 or not _INT.fullmatch(targets[0]):
        out.append(Violation("4.3.3.1-targetduration", f"need exactly one integer EXT-X-TARGETDURATION, got {targets}"))
    else:
        pl.target = int(targets[0])
        for s in pl.segments:
            if math.floor(s.duration + 0.5) > pl.target:  # 4.3.3.1: rounded to the nearest integer
                out.append(Violation("4.3.3.1-extinf-over-target",
                                     f"line {s.line}: EXTINF {s.duration} exceeds target duration {pl.target}"))
    for vals, rule, attr in ((msns, "4.3.3.2-media-sequence", "msn"), (dsns, "4.3.3.3-discontinuity-sequence", "dsn")):
        if len(vals) > 1:
            out.append(Violation(rule, f"tag appears {len(vals)} times"))
        if vals and _INT.fullmatch(vals[0]):
            setattr(pl, attr, int(vals[0]))
    if len(ptypes) > 1 or any(p not in ("EVENT", "VOD") for p in ptypes):
        out.append(Violation("4.3.3.5-playlist-type", f"EXT-X-PLAYLIST-TYPE must be one EVENT or VOD, got {ptypes}"))
    pl.ptype = ptypes[0] if ptypes else None
    if pl.ptype == "VOD" and not pl.endlist:
        out.append(Violation("4.3.3.5-vod-endlist", "VOD playlist without EXT-X-ENDLIST"))
    if pl.maps and not iframes and version < 6:  # section 7
        out.append(Violation("7-version", f"EXT-X-MAP needs EXT-X-VERSION >= 6, playlist declares {version}"))
    if pl.skip_until is not None and pl.target and pl.skip_until < 6 * pl.target:
        out.append(Violation("4.4.3.8-server-control",
                             f"CAN-SKIP-UNTIL {pl.skip_until} is under six target durations ({6 * pl.target})"))
    if skips:
        pl.skipped = skips[0]
        if len(skips) > 1:
            out.append(Violation("4.4.5.2-skip", f"EXT-X-SKIP appears {len(skips)} times"))
        if version < 9:
            out.append(Violation("4.4.5.2-skip", f"EXT-X-SKIP needs EXT-X-VERSION >= 9, playlist declares {version}"))
        if pl.skip_until is None:
            out.append(Violation("6.2.5.1-delta", "a delta update without CAN-SKIP-UNTIL in EXT-X-SERVER-CONTROL"))
        if pl.endlist:
            out.append(Violation("6.2.5.1-delta", "a delta update of a playlist with EXT-X-ENDLIST"))

    _check_timeline(pl, out)
    seen: set[tuple[str, str | None]] = set()
    for s in pl.segments:
        key = (s.uri, s.byterange)  # byte-range segments legitimately share a URI
        if not s.gap and key in seen:
            out.append(Violation("origin-duplicate-uri", f"line {s.line}: segment URI {s.uri!r} repeated"))
        seen.add(key)
    return pl


def _check_timeline(pl: _Media, out: list[Violation]) -> None:
    """Assign discontinuity numbers and effective PDTs; check PDT continuity (4.3.2.6)."""
    dsn, expected, span, last = pl.dsn, None, 0.0, None
    for s in pl.segments:
        dsn += s.discontinuity
        s.dsn = dsn
        if s.pdt is None:
            expected = None if s.discontinuity else expected
            s.effective_pdt = expected
            if expected is not None:
                expected, span = expected + timedelta(seconds=s.duration), span + s.duration
            continue
        if last is not None and (s.pdt < last or (s.pdt == last and not s.discontinuity)):
            out.append(Violation("4.3.2.6-pdt-backwards",
                                 f"line {s.line}: PDT {s.pdt.isoformat()} not after {last.isoformat()}"))
        if expected is not None and not s.discontinuity:
            drift = abs((s.pdt - expected).total_seconds())
            if drift > max(0.05, 0.01 * span):
                out.append(Violation("4.3.2.6-pdt-continuity", f"line {s.line}: PDT {s.pdt.isoformat()} is "
                                     f"{drift:.3f}s off the previous PDT + EXTINF"))
        s.effective_pdt = last = s.pdt
        expected, span = s.pdt + timedelta(seconds=s.duration), s.duration


def _media(text: str, base_url: str | None) -> tuple[list[Violation], _Media]:
    out: list[Violation] = []
    pl = _parse_media(text, out)
    if base_url is not None:
        for uri, n in [(s.uri, s.line) for s in pl.segments] + pl.maps:
            if not _uri_ok(base_url, uri):
                out.append(Violation("origin-uri-host", f"line {n}: {uri!r} does not resolve under {base_url}"))
    return out, pl


def check_media(text: str, *, base_url: str | None = None) -> list[Violation]:
    """Check one media playlist text against the media-playlist rules."""
    return _media(text, base_url)[0]


def segment_urls(text: str, base_url: str) -> list[str]:
    """Absolute, de-duplicated EXT-X-MAP and segment URLs of a media playlist, skipping GAP segments."""
    pl = _parse_media(text, [])
    items = sorted([(n, u) for u, n in pl.maps] + [(s.line, s.uri) for s in pl.segments if not s.gap])
    return list(dict.fromkeys(urljoin(base_url, u) for _, u in items))


def check_master(text: str, *, base_url: str | None = None) -> list[Violation]:
    """Check one master playlist text against the master-playlist rules."""
    out: list[Violation] = []
    stream_inf: int | None = None  # line of an EXT-X-STREAM-INF still waiting for its URI
    variants, seen, others = 0, set(), []
    for n, line in _lines(text, out)[0]:
        if not line.startswith("#"):
            if stream_inf is None:
                out.append(Violation("4.3.4.2-orphan-uri", f"line {n}: {line!r} without EXT-X-STREAM-INF"))
            elif line in seen:
                out.append(Violation("origin-duplicate-uri", f"line {n}: variant URI {line!r} repeated"))
            seen.add(line)
            others.append((line, n))
            stream_inf = None
            continue
        if not line.startswith("#EXT"):
            continue
        if stream_inf is not None:
            out.append(Violation("4.3.4.2-stream-inf-uri", f"line {stream_inf}: EXT-X-STREAM-INF not followed by a URI"))
            stream_inf = None
        name, _, value = line[1:].partition(":")
        if name in MEDIA_TAGS:
            out.append(Violation("4.3.4-mixed", f"line {n}: media playlist tag {name} in a master playlist"))
        elif name in ("EXT-X-MEDIA", "EXT-X-I-FRAME-STREAM-INF"):
            uri = _unquote((_attrs(value) or {}).get("URI"))
            if uri:
                others.append((uri, n))
        elif name == "EXT-X-STREAM-INF":
            variants += 1
            stream_inf = n
            out.extend(_check_stream_inf(n, value))
    if stream_inf is not None:
        out.append(Violation("4.3.4.2-stream-inf-uri", f"line {stream_inf}: EXT-X-STREAM-INF not followed by a URI"))
    if not variants:
        out.append(Violation("4.3.4.2-stream-inf", "master playlist has no EXT-X-STREAM-INF"))
    if base_url is not None:
        for uri, n in others:
            if not _uri_ok(base_url, uri):
                out.append(Violation("origin-uri-host", f"line {n}: {uri!r} does not resolve under {base_url}"))
    return out


def _check_stream_inf(n: int, value: str) -> list[Violation]:
    """4.3.4.2 attributes; AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE are mandatory by origin policy."""
    a = _attrs(value)
    if a is None:
        return [Violation("4.3.4.2-stream-inf", f"line {n}: malformed attribute list {value!r}")]
    out = []
    bw, avg = a.get("BANDWIDTH", ""), a.get("AVERAGE-BANDWIDTH", "")
    if not _INT.fullmatch(bw) or int(bw) <= 0:
        out.append(Violation("4.3.4.2-bandwidth", f"line {n}: BANDWIDTH {bw!r} is not a positive integer"))
    if not _INT.fullmatch(avg) or (_INT.fullmatch(bw) and int(avg) > int(bw)):
        out.append(Violation("4.3.4.2-average-bandwidth",
                             f"line {n}: AVERAGE-BANDWIDTH {avg!r} missing or above BANDWIDTH"))
    if not _unquote(a.get("CODECS")):
        out.append(Violation("4.3.4.2-codecs", f"line {n}: CODECS missing or not a quoted string"))
    if not re.fullmatch(r"\d+x\d+", a.get("RESOLUTION", "")):
        out.append(Violation("4.3.4.2-resolution", f"line {n}: RESOLUTION {a.get('RESOLUTION')!r} is not WxH"))
    if not _DEC.fullmatch(a.get("FRAME-RATE", "")):
        out.append(Violation("4.3.4.2-frame-rate", f"line {n}: FRAME-RATE {a.get('FRAME-RATE')!r} is not a decimal"))
    return out


def _reload_rules(old_text: str, old: _Media, text: str, new: _Media) -> list[Violation]:
    """6.2.1: a reload may only append, drop head segments, bump sequence numbers, or add ENDLIST.

    Segments are matched by media sequence number, so a delta update (whose listed segments start
    at EXT-X-MEDIA-SEQUENCE + SKIPPED-SEGMENTS) is held to the same rules as a full playlist.
    """
    if old.endlist:
        return [] if text == old_text else [Violation("6.2.1-endlist", "playlist changed after EXT-X-ENDLIST")]
    out = []
    if new.target != old.target:
        out.append(Violation("6.2.1-targetduration", f"EXT-X-TARGETDURATION changed {old.target} -> {new.target}"))
    if new.ptype != old.ptype:
        out.append(Violation("6.2.1-playlist-type", f"EXT-X-PLAYLIST-TYPE changed {old.ptype} -> {new.ptype}"))
    k = new.msn - old.msn
    if k < 0:
        out.append(Violation("6.2.1-media-sequence", f"EXT-X-MEDIA-SEQUENCE decreased {old.msn} -> {new.msn}"))
    j0 = new.first_seq - old.first_seq
    if 0 < j0 < len(old.segments) and new.segments and not new.skipped:
        was, now = old.segments[j0], new.segments[0]
        if (was.uri, was.duration) != (now.uri, now.duration):
            out.append(Violation("6.2.1-head-removal",
                                 f"first segment {now.uri!r} should be {was.uri!r} after removing {k}"))
    if new.first_seq + len(new.segments) < old.first_seq + len(old.segments):
        out.append(Violation("6.2.1-head-removal", "segments disappeared from the end of the playlist"))
    for i, s in enumerate(new.segments):
        msn = new.first_seq + i
        j = msn - old.first_seq
        if not 0 <= j < len(old.segments):
            continue
        o = old.segments[j]
        if o.uri != s.uri:
            out.append(Violation("6.2.1-msn-uri", f"media sequence {msn} was {o.uri!r}, now {s.uri!r}"))
            continue
        pdt_moved = o.effective_pdt and s.effective_pdt and abs(o.effective_pdt - s.effective_pdt) > _PDT_SAME
        if o.duration != s.duration or o.discontinuity != s.discontinuity or o.gap != s.gap or pdt_moved:
            out.append(Violation("6.2.1-segment-changed",
                                 f"media sequence {msn} ({s.uri!r}) changed EXTINF/PDT/discontinuity/gap"))
        if o.dsn != s.dsn and not (old.skipped or new.skipped):
            # A delta's listed segments count discontinuities from the skipped ones too, which it
            # does not show: check_delta compares those against the full playlist instead.
            out.append(Violation("6.2.1-discontinuity-sequence",
                                 f"media sequence {msn} had discontinuity number {o.dsn}, now {s.dsn}"))
    removed_discs = sum(s.discontinuity for s in old.segments)
    if not (old.skipped or new.skipped) and k >= len(old.segments) and new.dsn < old.dsn + removed_discs:
        out.append(Violation("6.2.1-discontinuity-sequence",
                             f"all {removed_discs} discontinuities removed but DSN went {old.dsn} -> {new.dsn}"))
    if old.ptype == "EVENT":  # 4.3.3.5: EVENT playlists are append-only
        key = lambda s: (s.uri, s.duration, s.discontinuity, s.gap, s.byterange)  # noqa: E731
        overlap = [(old.segments[new.first_seq + i - old.first_seq], s) for i, s in enumerate(new.segments)
                   if 0 <= new.first_seq + i - old.first_seq < len(old.segments)]
        if k != 0 or any(key(o) != key(n) for o, n in overlap) or (
                new.first_seq + len(new.segments) < old.first_seq + len(old.segments)):
            out.append(Violation("6.2.1-event-append", "EVENT playlist did not just append segments"))
    return out


def check_delta(full_text: str, delta_text: str) -> list[Violation]:
    """Check a Playlist Delta Update against the full playlist of the same moment (rfc8216bis 6.2.5.1).

    The delta keeps the full playlist's sequence numbers, lists exactly its last segments with
    the same EXTINF, PDT, discontinuities, EXT-X-MAP and EXT-X-KEY, and skips only segments that
    end at least CAN-SKIP-UNTIL seconds before the end of the playlist.
    """
    out, full = _media(full_text, None)
    found, delta = _media(delta_text, None)
    out += found
    if full.skip_until is None:
        return out + [Violation("6.2.5.1-delta", "the full playlist offers no delta updates (no CAN-SKIP-UNTIL)")]
    for attr in ("msn", "dsn", "target", "ptype", "skip_until", "endlist"):
        if getattr(full, attr) != getattr(delta, attr):
            out.append(Violation("6.2.5.1-delta", f"{attr} differs: full {getattr(full, attr)!r}, "
                                 f"delta {getattr(delta, attr)!r}"))
    n = delta.skipped
    kept = full.segments[n:]
    fields = lambda s: (s.uri, s.duration, s.discontinuity, s.gap, s.pdt, s.map_uri, s.key)  # noqa: E731
    if [fields(s) for s in kept] != [fields(s) for s in delta.segments]:
        out.append(Violation("6.2.5.1-delta", f"the segments after the {n} skipped are not the full playlist's"))
    if n and sum(s.duration for s in kept) + 1e-6 < full.skip_until:
        out.append(Violation("6.2.5.1-skip-boundary", f"skipped {n} segments, leaving "
                             f"{sum(s.duration for s in kept):.3f}s, under CAN-SKIP-UNTIL {full.skip_until}"))
    return out


class PlaylistHistory:
    """Remembers successive reloads of each media playlist URL and checks reload rules."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, _Media]] = {}

    def check(self, url: str, text: str) -> list[Violation]:
        """Run check_media plus the cross-reload rules against the previous text seen for url."""
        out, pl = _media(text, url)
        if url in self._last:
            out += _reload_rules(*self._last[url], text, pl)
        self._last[url] = (text, pl)
        return out

    def assert_ok(self, url: str, text: str) -> None:
        """Raise ConformanceError if check() reports any violation."""
        violations = self.check(url, text)
        if violations:
            raise ConformanceError(url, violations, text)


def assert_conformant(url: str, text: str, history: PlaylistHistory | None = None) -> None:
    """Check a fetched playlist as master or media (through history if given); raise ConformanceError."""
    if any(line.startswith("#EXT-X-STREAM-INF") for line in text.splitlines()):
        violations = check_master(text, base_url=url)
    elif history is not None:
        return history.assert_ok(url, text)
    else:
        violations = check_media(text, base_url=url)
    if violations:
        raise ConformanceError(url, violations, text)
