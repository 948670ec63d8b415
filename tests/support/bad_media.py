"""Bad media made from good: real ffmpeg output, mutated byte-wise the ways uploads go wrong."""

from __future__ import annotations

import random
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

from streaming.ffmpeg import ffmpeg_exe

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf"}
TS_PACKET = 188


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, offset, size) of every box, depth first (containers opened)."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8:
            return
        yield kind, pos, size
        if kind in _CONTAINERS:
            yield from boxes(data, pos + 8, pos + size)
        pos += size


def box_at(data: bytes, kind: bytes, nth: int = 0) -> tuple[int, int]:
    """Return (offset, size) of the nth box of a type."""
    return [(pos, size) for k, pos, size in boxes(data) if k == kind][nth]


def put_u32(data: bytes, pos: int, value: int) -> bytes:
    """Return data with a big-endian 32-bit value written at pos."""
    return data[:pos] + struct.pack(">I", value) + data[pos + 4:]


def retype(data: bytes, kind: bytes, new: bytes, nth: int = 0) -> bytes:
    """Return data with the nth box of a type renamed (its bytes kept: a box that went missing)."""
    pos, _ = box_at(data, kind, nth)
    return data[:pos + 4] + new + data[pos + 8:]


def without_trak(init: bytes, handler: bytes) -> bytes:
    """Return an init segment without its track of a handler ('vide'/'soun') and that track's trex."""
    for kind, pos, size in boxes(init):
        if kind != b"trak":
            continue
        inner = {k: p for k, p, _ in boxes(init, pos + 8, pos + size)}
        if init[inner[b"hdlr"] + 16:inner[b"hdlr"] + 20] == handler:
            track_id = struct.unpack_from(">I", init, inner[b"tkhd"] + 20)[0]
            break
    else:
        raise ValueError(f"no {handler!r} track")
    trex, trex_size = next((p, s) for k, p, s in boxes(init)
                           if k == b"trex" and struct.unpack_from(">I", init, p + 12)[0] == track_id)
    out = init[:pos] + init[pos + size:trex] + init[trex + trex_size:]
    for kind, removed in ((b"moov", size + trex_size), (b"mvex", trex_size)):
        at, old = box_at(out, kind)
        out = put_u32(out, at, old - removed)
    return out


def first_trun_sizes_at(segment: bytes) -> int:
    """Return where the first trun's first per-sample size field is."""
    pos, _ = box_at(segment, b"trun")
    flags = int.from_bytes(segment[pos + 9:pos + 12], "big")
    assert flags & 0x200, "the sample's trun carries per-sample sizes"
    return pos + 16 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0) + (4 if flags & 0x100 else 0)


def ts_pid(packet: bytes) -> int:
    """Return the PID of a transport packet."""
    return (packet[1] & 0x1F) << 8 | packet[2]


def ts_without(data: bytes, pids: set[int]) -> bytes:
    """Return a transport stream with every packet of some PIDs left out."""
    return b"".join(data[i:i + TS_PACKET] for i in range(0, len(data), TS_PACKET)
                    if ts_pid(data[i:i + TS_PACKET]) not in pids)


def ts_pmt_pid(data: bytes) -> int:
    """Return the PMT PID the first PAT names (good input only)."""
    at = next(i for i in range(0, len(data), TS_PACKET) if ts_pid(data[i:i + 4]) == 0)
    section = at + 5 + data[at + 4]
    return (data[section + 10] & 0x1F) << 8 | data[section + 11]


def ts_noise(data: bytes, seed: int = 19) -> bytes:
    """Return as many packets of random payload behind valid sync bytes (what sniffing let through)."""
    rng = random.Random(seed)
    return b"".join(b"\x47" + rng.randbytes(TS_PACKET - 1) for _ in range(len(data) // TS_PACKET))


def make_ts(out: Path, *, video: bool = True, audio: bool = True, seconds: float = 2.0) -> Path:
    """Encode a short MPEG-TS HLS test pattern (1.92 s segments) into out; return its first segment."""
    out.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate=48000:duration={seconds}"]
    if video:
        args += ["-c:v", "libx264", "-preset", "veryfast", "-g", "48", "-keyint_min", "48", "-sc_threshold", "0"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    args += ["-f", "hls", "-hls_time", "1.92", "-hls_segment_type", "mpegts",
             "-hls_segment_filename", str(out / "seg_%d.ts"), str(out / "index.m3u8")]
    proc = subprocess.run(args, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
    return out / "seg_0.ts"
