"""What ingest accepts as media: fMP4 init and media segments and MPEG-TS, checked as bytes.

Every pushed segment and init segment passes here before anything is stored, so a file that
players would choke on (cut uploads, lying box sizes, sync bytes around noise, a rendition
without its video) is refused with a code of its own (streaming/ingest/errors.py) and never reaches
the store or the timeline. Everything here is a pure function of the bytes and of what the
rendition declares (``Expect``); it reads only headers and sample tables, never sample data,
so a push pays a fraction of what hashing the segment costs (docs/benchmarks.md).

Box layout: ISO/IEC 14496-12 (ISOBMFF) and ISO/IEC 23000-19 (CMAF); transport stream:
ISO/IEC 13818-1 (PAT, PMT, PES).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from streaming.ingest.errors import (
    MediaMalformed,
    MediaTruncated,
    NotMedia,
    TrackMismatch,
    TsNoProgram,
)

# Every box type is four printable characters (ISO/IEC 14496-12 4.2; "©xyz" in udta aside).
_BOX_TYPE = re.compile(rb"[\x20-\x7e\xa9]{4}")
# Boxes whose payload is nothing but boxes (the parts of an init or a fragment we walk).
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf",
                         b"edts", b"dinf"})
# Top-level boxes a media segment may carry besides its moof+mdat fragments.
_SEGMENT_EXTRAS = frozenset({b"styp", b"sidx", b"ssix", b"prft", b"emsg", b"free", b"skip", b"uuid"})
_INIT_EXTRAS = frozenset({b"free", b"skip", b"uuid", b"meta", b"udta", b"pdin", b"prft"})

TS_PACKET = 188
_SYNC = 0x47
VIDEO_STREAM_TYPES = {0x1B: "H.264", 0x24: "HEVC", 0xDB: "H.264 (SAMPLE-AES)"}
AUDIO_STREAM_TYPES = {0x0F: "AAC", 0x11: "AAC (LATM)", 0x03: "MPEG-1 audio", 0x04: "MPEG-2 audio",
                      0x81: "AC-3", 0x87: "E-AC-3", 0xCF: "AAC (SAMPLE-AES)", 0xC1: "AC-3 (SAMPLE-AES)",
                      0xC2: "E-AC-3 (SAMPLE-AES)"}


@dataclass(frozen=True, slots=True)
class Expect:
    """The tracks a rendition's media must carry."""

    video: bool
    audio: bool
    audio_only: bool = False

    @classmethod
    def for_track(cls, *, audio_track: bool, demuxed_audio: bool) -> "Expect":
        """Return what a channel track carries: a demuxed audio track one audio track, a
        video rendition video, and audio too when the channel has no demuxed audio tracks."""
        if audio_track:
            return cls(video=False, audio=True, audio_only=True)
        return cls(video=True, audio=not demuxed_audio)


def _kids(data: bytes, start: int, end: int, where: str) -> list[tuple[bytes, int, int]]:
    """Return (type, payload start, end) of the boxes that exactly fill [start, end).

    A box running past the end of the file is a cut upload (MEDIA_TRUNCATED); one running
    past its parent, or bytes left over inside a parent, are sizes that lie (MEDIA_MALFORMED).
    """
    out = []
    pos = start
    total = len(data)
    while pos < end:
        if pos + 8 > end:
            if end == total:
                raise MediaTruncated(f"{where}: the file ends inside a box header at byte {pos}")
            raise MediaMalformed(f"{where}: {end - pos} stray bytes at byte {pos}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        if not _BOX_TYPE.fullmatch(kind):
            raise MediaMalformed(f"{where}: bytes at {pos} are not a box (type {kind!r}): a size before "
                                 f"them lies")
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise (MediaTruncated if end == total else MediaMalformed)(
                    f"{where}: box {_name(kind)} cut inside its 64-bit size")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0 and end == total:
            size = end - pos  # "to the end of the file": only the last top-level box
        if size < header:
            raise MediaMalformed(f"{where}: box {_name(kind)} at byte {pos} claims {size} bytes")
        if pos + size > end:
            if end == total:
                raise MediaTruncated(f"{where}: box {_name(kind)} at byte {pos} claims {size} bytes, "
                                     f"the file has {end - pos} left")
            raise MediaMalformed(f"{where}: box {_name(kind)} at byte {pos} runs past its parent")
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def _one(boxes: list[tuple[bytes, int, int]], kind: bytes, where: str) -> tuple[int, int]:
    found = [(s, e) for k, s, e in boxes if k == kind]
    if len(found) != 1:
        raise MediaMalformed(f"{where}: {len(found)} {_name(kind)} boxes, one expected")
    return found[0]


def _field(data: bytes, fmt: str, pos: int, end: int, where: str) -> tuple:
    if pos + struct.calcsize(fmt) > end:
        raise MediaMalformed(f"{where}: box too short for its fields")
    return struct.unpack_from(fmt, data, pos)


# -- fMP4 init segment -------------------------------------------------------------------

def check_init(data: bytes, expect: Expect) -> dict[int, list]:
    """Check an fMP4 init segment; return {track_id: [timescale, trex default duration, handler]}.

    It must be ``ftyp`` then one whole ``moov`` (``mvhd``, a ``trak`` per track with
    ``tkhd``/``mdia``/``mdhd``/``hdlr``/``minf``/``stbl``/``stsd`` and a sample entry, and
    ``mvex`` with a ``trex`` per track), holding the tracks ``expect`` asks for.
    """
    if len(data) < 8 or data[4:8] != b"ftyp":
        raise NotMedia("not an fMP4 initialisation segment (it must start with ftyp)")
    top = _kids(data, 0, len(data), "init segment")
    for kind, _s, _e in top[1:]:
        if kind not in _INIT_EXTRAS and kind != b"moov":
            raise MediaMalformed(f"init segment: unexpected top-level box {_name(kind)}")
    ms, me = _one(top, b"moov", "init segment")
    moov = _kids(data, ms, me, "moov")
    _one(moov, b"mvhd", "moov")
    tracks: dict[int, list] = {}
    for kind, s, e in moov:
        if kind == b"trak":
            track_id, timescale, handler = _check_trak(data, s, e)
            if track_id in tracks:
                raise MediaMalformed(f"moov: track {track_id} appears twice")
            tracks[track_id] = [timescale, 0, handler]
    if not tracks:
        raise TrackMismatch("init segment has no tracks")
    mvex = [(s, e) for k, s, e in moov if k == b"mvex"]
    if len(mvex) != 1:
        raise MediaMalformed("moov: no mvex: not a fragmented MP4 init segment")
    extended: set[int] = set()
    for kind, s, e in _kids(data, *mvex[0], "mvex"):
        if kind == b"trex":
            track_id, _index, duration = _field(data, ">III", s + 4, e, "trex")
            if track_id not in tracks:
                raise MediaMalformed(f"mvex: trex for track {track_id}, which moov does not have")
            tracks[track_id][1] = duration
            extended.add(track_id)
    missing = sorted(set(tracks) - extended)
    if missing:
        raise MediaMalformed(f"mvex: no trex for track(s) {missing}")
    _check_kinds([h for _ts, _d, h in tracks.values()], expect, "init segment")
    return tracks


def _check_trak(data: bytes, start: int, end: int) -> tuple[int, int, str]:
    trak = _kids(data, start, end, "trak")
    ts, te = _one(trak, b"tkhd", "trak")
    version = data[ts] if ts < te else 0
    track_id = _field(data, ">I", ts + (20 if version == 1 else 12), te, "tkhd")[0]
    if track_id == 0:
        raise MediaMalformed("tkhd: track id 0")
    where = f"track {track_id}"
    mdia = _kids(data, *_one(trak, b"mdia", where), where)
    hs, he = _one(mdia, b"mdhd", where)
    timescale = _field(data, ">I", hs + (20 if data[hs] == 1 else 12), he, "mdhd")[0]
    if timescale == 0:
        raise MediaMalformed(f"{where}: mdhd timescale 0")
    ds, de = _one(mdia, b"hdlr", where)
    handler = _field(data, ">4s", ds + 8, de, "hdlr")[0].decode("latin-1")
    minf = _kids(data, *_one(mdia, b"minf", where), where)
    stbl = _kids(data, *_one(minf, b"stbl", where), where)
    ss, se = _one(stbl, b"stsd", where)
    (count,) = _field(data, ">I", ss + 4, se, "stsd")
    entries = _kids(data, ss + 8, se, f"{where} stsd")
    if count < 1 or len(entries) != count:
        raise MediaMalformed(f"{where}: stsd declares {count} sample entries, holds {len(entries)}")
    return track_id, timescale, handler


def _check_kinds(handlers: list[str], expect: Expect, where: str) -> None:
    video = handlers.count("vide")
    audio = handlers.count("soun")
    if expect.audio_only and (video or audio != 1):
        raise TrackMismatch(f"{where}: an audio track's media must hold one audio track and no video, "
                            f"found {video} video and {audio} audio")
    if expect.video and not video:
        raise TrackMismatch(f"{where}: the rendition declares video, the media has no video track")
    if expect.audio and not audio:
        raise TrackMismatch(f"{where}: the rendition carries the channel's audio, the media has no audio track")


# -- fMP4 media segment ------------------------------------------------------------------

def check_fmp4_segment(data: bytes) -> frozenset[int]:
    """Check an fMP4 media segment's boxes; return the track ids its fragments carry.

    Optional ``styp``/``sidx``/``prft``/``emsg``, then one or more ``moof`` + ``mdat``; every
    ``traf`` has ``tfhd`` and ``tfdt``, and every ``trun``'s samples lie inside the ``mdat``
    that follows its ``moof``.
    """
    if len(data) < 8 or data[4:8] not in _SEGMENT_EXTRAS | {b"moof"}:
        raise NotMedia("not an fMP4 media segment (styp, sidx, prft, emsg or moof expected first)")
    top = _kids(data, 0, len(data), "segment")
    track_ids: set[int] = set()
    fragments = 0
    i = 0
    while i < len(top):
        kind, s, e = top[i]
        if kind == b"moof":
            if i + 1 >= len(top) or top[i + 1][0] != b"mdat":
                raise MediaMalformed(f"segment: moof at byte {s - 8} is not followed by its mdat")
            _, ds, de = top[i + 1]
            track_ids |= _check_moof(data, s, e, ds, de)
            fragments += 1
            i += 2
            continue
        if kind not in _SEGMENT_EXTRAS:
            raise MediaMalformed(f"segment: unexpected top-level box {_name(kind)}")
        i += 1
    if not fragments:
        raise MediaMalformed("segment: no moof/mdat fragment")
    return frozenset(track_ids)


def _check_moof(data: bytes, start: int, end: int, mdat_start: int, mdat_end: int) -> set[int]:
    moof_at = start - 8
    kids = _kids(data, start, end, "moof")
    _one(kids, b"mfhd", "moof")
    trafs = [(s, e) for k, s, e in kids if k == b"traf"]
    if not trafs:
        raise MediaMalformed("moof: no traf")
    ids: set[int] = set()
    next_data = moof_at  # where a traf's data starts when nothing says (ISO 14496-12 8.8.7.1)
    for s, e in trafs:
        track_id, next_data = _check_traf(data, s, e, moof_at, next_data, mdat_start, mdat_end)
        if track_id in ids:
            raise MediaMalformed(f"moof: two trafs for track {track_id}")
        ids.add(track_id)
    return ids


def _check_traf(data: bytes, start: int, end: int, moof_at: int, implicit_base: int,
                mdat_start: int, mdat_end: int) -> tuple[int, int]:
    kids = _kids(data, start, end, "traf")
    hs, he = _one(kids, b"tfhd", "traf")
    (word, track_id) = _field(data, ">II", hs, he, "tfhd")
    flags = word & 0xFFFFFF
    where = f"traf of track {track_id}"
    pos = hs + 8
    if flags & 0x01:
        base = _field(data, ">Q", pos, he, "tfhd")[0]
        pos += 8
    else:
        base = moof_at if flags & 0x020000 else implicit_base
    pos += 4 if flags & 0x02 else 0
    pos += 4 if flags & 0x08 else 0
    default_size = _field(data, ">I", pos, he, "tfhd")[0] if flags & 0x10 else None
    _one(kids, b"tfdt", where)
    runs = [(s, e) for k, s, e in kids if k == b"trun"]
    if not runs and not flags & 0x010000:  # duration-is-empty: a fragment with no samples
        raise MediaMalformed(f"{where}: no trun")
    cursor = base
    for s, e in runs:
        cursor = _check_trun(data, s, e, base, cursor, default_size, mdat_start, mdat_end, where)
    return track_id, cursor


def _check_trun(data: bytes, start: int, end: int, base: int, cursor: int, default_size: int | None,
                mdat_start: int, mdat_end: int, where: str) -> int:
    word, count = _field(data, ">II", start, end, "trun")
    flags = word & 0xFFFFFF
    pos = start + 8
    if flags & 0x01:
        cursor = base + _field(data, ">i", pos, end, "trun")[0]
        pos += 4
    pos += 4 if flags & 0x04 else 0
    per_sample = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    stride = len(per_sample)
    if pos + 4 * stride * count != end:
        raise MediaMalformed(f"{where}: trun holds {end - pos} bytes for {count} samples of {4 * stride}")
    if flags & 0x200:
        table = struct.unpack_from(f">{stride * count}I", data, pos)
        size = sum(table[per_sample.index(0x200)::stride])
    elif default_size is not None:
        size = default_size * count
    else:
        return cursor  # sizes come from the init's trex: the bounds are not known here
    if cursor < 0 or cursor + size > len(data):
        raise MediaMalformed(f"{where}: trun data at bytes {cursor}..{cursor + size} lies outside the file")
    if cursor < mdat_start or cursor + size > mdat_end:
        raise MediaMalformed(f"{where}: trun samples need bytes {cursor}..{cursor + size}, its mdat payload "
                             f"is {mdat_start}..{mdat_end}")
    return cursor + size


def check_segment_tracks(track_ids: frozenset[int], init_timing: dict[int, list]) -> None:
    """Refuse a media segment whose fragments name a track the track's current init lacks."""
    if not init_timing:
        return  # no init yet: an encoder may push its first init just after its first segment
    unknown = sorted(t for t in track_ids if t not in init_timing)
    if unknown:
        raise TrackMismatch(f"segment carries track(s) {unknown}; the current init segment has "
                            f"{sorted(init_timing)}")


# -- MPEG-TS ---------------------------------------------------------------------------------

def check_ts_segment(data: bytes, expect: Expect) -> None:
    """Check an MPEG-TS segment: whole 188-byte packets with sync bytes, a PAT and the PMT it
    names, the elementary streams ``expect`` asks for, and a PES starting on each of them."""
    if not data or data[0] != _SYNC:
        raise NotMedia("not an MPEG-TS segment (no sync byte at its start)")
    whole = len(data) - len(data) % TS_PACKET
    if data[0:whole:TS_PACKET].count(_SYNC) != whole // TS_PACKET:
        bad = next(i for i in range(0, whole, TS_PACKET) if data[i] != _SYNC)
        raise MediaMalformed(f"MPEG-TS: packet at byte {bad} has no sync byte")
    if whole != len(data):
        # A cut upload: the last packet's PES data is corrupt, and a real muxer writes whole packets.
        raise MediaTruncated(f"MPEG-TS: {len(data) % TS_PACKET} bytes of a partial packet at the end")
    pmt_pid = None
    streams: dict[int, int] | None = None
    needed: set[int] = set()
    started: set[int] = set()
    for at in range(0, whole, TS_PACKET):
        b1, b2, b3 = data[at + 1], data[at + 2], data[at + 3]
        if not b1 & 0x40:  # only packets starting a section or a PES matter here
            continue
        pid = (b1 & 0x1F) << 8 | b2
        payload = at + 4
        if b3 & 0x20:
            payload += 1 + data[at + 4]
        if not b3 & 0x10 or payload >= at + TS_PACKET:
            continue
        if pid == 0 and pmt_pid is None:
            pmt_pid = _pat_pmt_pid(data, payload, at + TS_PACKET)
        elif pid == pmt_pid and streams is None:
            streams = _pmt_streams(data, payload, at + TS_PACKET)
            needed = _needed_pids(streams, expect)
        elif pid in needed and data[payload:payload + 3] == b"\x00\x00\x01":
            started.add(pid)
            if started == needed:
                return
    if pmt_pid is None:
        raise TsNoProgram("MPEG-TS: no program association table (PAT on PID 0)")
    if streams is None:
        raise TsNoProgram(f"MPEG-TS: no program map table on PID {pmt_pid}, where the PAT points")
    missing = sorted(needed - started)
    raise TrackMismatch(f"MPEG-TS: no PES starts on PID(s) {missing} the PMT declares")


def _section(data: bytes, payload: int, packet_end: int, table_id: int) -> tuple[int, int]:
    """Return (start, end) of a PSI section's body (after the 8-byte header, before the CRC)."""
    start = payload + 1 + data[payload]  # pointer_field
    if start + 3 > packet_end or data[start] != table_id:
        return -1, -1
    length = (data[start + 1] & 0x0F) << 8 | data[start + 2]
    end = start + 3 + length
    if length < 9 or end > packet_end or _crc32_mpeg(data[start:end]) != 0:
        return -1, -1
    return start + 8, end - 4


def _pat_pmt_pid(data: bytes, payload: int, packet_end: int) -> int | None:
    s, e = _section(data, payload, packet_end, 0x00)
    for pos in range(s, e - 3, 4) if s >= 0 else ():
        program = data[pos] << 8 | data[pos + 1]
        if program:  # program 0 points at the network information table
            return (data[pos + 2] & 0x1F) << 8 | data[pos + 3]
    return None


def _pmt_streams(data: bytes, payload: int, packet_end: int) -> dict[int, int] | None:
    s, e = _section(data, payload, packet_end, 0x02)
    if s < 0:
        return None
    pos = s + 4 + ((data[s + 2] & 0x0F) << 8 | data[s + 3])  # after PCR PID and program info
    out: dict[int, int] = {}
    while pos + 5 <= e:
        kind, pid = data[pos], (data[pos + 1] & 0x1F) << 8 | data[pos + 2]
        out[pid] = kind
        pos += 5 + ((data[pos + 3] & 0x0F) << 8 | data[pos + 4])
    return out


def _needed_pids(streams: dict[int, int], expect: Expect) -> set[int]:
    video = [pid for pid, kind in streams.items() if kind in VIDEO_STREAM_TYPES]
    audio = [pid for pid, kind in streams.items() if kind in AUDIO_STREAM_TYPES]
    found = {pid: f"0x{kind:02x}" for pid, kind in streams.items()}
    if expect.audio_only and (video or len(audio) != 1):
        raise TrackMismatch(f"MPEG-TS: an audio track's segment must hold one audio stream and no video; "
                            f"the PMT lists {found}")
    if expect.video and not video:
        raise TrackMismatch(f"MPEG-TS: the rendition declares video; the PMT lists no video stream ({found})")
    if expect.audio and not audio:
        raise TrackMismatch(f"MPEG-TS: the rendition carries the channel's audio; the PMT lists no audio "
                            f"stream ({found})")
    return set(video[:1] if expect.video else ()) | set(audio[:1] if expect.audio else ())


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = (c << 1) ^ 0x04C11DB7 if c & 0x80000000 else c << 1
        table.append(c & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc32_mpeg(section: bytes) -> int:
    """Return the MPEG-2 CRC-32 of a PSI section; 0 when the section ends with its right CRC."""
    crc = 0xFFFFFFFF
    for byte in section:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc
