"""Sidecar subtitles (SRT or WebVTT) checked and turned into WebVTT, as HLS subtitle renditions need."""

from __future__ import annotations

import re

from infra.errors import InvalidInput

MAX_SUBTITLE_BYTES = 4 * 1024 * 1024
_TIMING = re.compile(
    r"^\s*(?P<a>(?:\d{1,3}:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<b>(?:\d{1,3}:)?\d{1,2}:\d{2}[.,]\d{1,3})(?P<rest>.*)$")


class InvalidSubtitles(InvalidInput):
    code = "INVALID_SUBTITLES"


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    h, m, s = (["0"] * (3 - len(parts)) + parts)
    return int(h) * 3600 + int(m) * 60 + float(s)


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_webvtt(data: bytes) -> tuple[str, int]:
    """Return a sidecar file as WebVTT and its number of cues; raise InvalidSubtitles if it is neither SRT nor WebVTT."""
    if not data.strip():
        raise InvalidSubtitles("the subtitle file is empty")
    if len(data) > MAX_SUBTITLE_BYTES:
        raise InvalidSubtitles(f"a subtitle file may be {MAX_SUBTITLE_BYTES} bytes at most")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1250")  # Polish SRT files from older tools are Windows-1250
    if "\x00" in text:
        raise InvalidSubtitles("the subtitle file is binary, not SRT or WebVTT")
    blocks = re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n").strip())
    cues = []
    for block in blocks:
        lines = [ln for ln in block.split("\n")]
        if lines and lines[0].startswith("WEBVTT"):
            continue
        if lines and lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        at = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if at is None:
            continue
        m = _TIMING.match(lines[at])
        if m is None:
            raise InvalidSubtitles(f"bad cue timing {lines[at].strip()[:80]!r}")
        start, end = _seconds(m["a"]), _seconds(m["b"])
        if end <= start:
            raise InvalidSubtitles(f"a cue ends before it starts: {lines[at].strip()[:80]!r}")
        body = [ln for ln in lines[at + 1:] if ln.strip()]
        if body:
            cues.append(f"{_stamp(start)} --> {_stamp(end)}{m['rest'] if text.startswith('WEBVTT') else ''}\n"
                        + "\n".join(body).replace("-->", "->"))
    if not cues:
        raise InvalidSubtitles("no subtitle cue found: the file is not SRT or WebVTT")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n", len(cues)
