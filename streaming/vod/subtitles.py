"""Sidecar subtitles (SRT or WebVTT) checked and turned into WebVTT, as HLS subtitle renditions need."""

from __future__ import annotations

import re

from infra.errors import InvalidInput

MAX_SUBTITLE_BYTES = 4 * 1024 * 1024
MAX_CUES = 20_000  # a three-hour film has about 2,000
_STAMP = r"(?:\d{1,3}:)?[0-5]?\d:[0-5]\d[.,]\d{1,3}"
_TIMING = re.compile(rf"^\s*(?P<a>{_STAMP})\s*-->\s*(?P<b>{_STAMP})(?P<rest>.*)$")
# WebVTT cue settings (https://www.w3.org/TR/webvtt1/#cue-settings); anything else on the timing line is dropped.
_SETTING = re.compile(r"^(?:vertical:(?:rl|lr)|line:-?\d{1,3}(?:\.\d+)?%?(?:,(?:start|center|end))?"
                      r"|position:\d{1,3}(?:\.\d+)?%(?:,(?:line-left|center|line-right))?|size:\d{1,3}(?:\.\d+)?%"
                      r"|align:(?:start|center|end|left|right)|region:[A-Za-z0-9_-]{1,40})$")
# Text never holds C0 controls but tab, line feed, form feed and carriage return: such bytes are binary.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


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


def decode_text(data: bytes) -> str:
    """Return a sidecar file's text: UTF-8 (or UTF-16 with its byte order mark), else Windows-1250
    (Polish SRT files from older tools); raise InvalidSubtitles for bytes that are not text."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("cp1250")
    except UnicodeDecodeError as err:
        raise InvalidSubtitles("the subtitle file is not text (neither UTF-8 nor Windows-1250)",
                               offset=err.start) from err
    bad = _BINARY.search(text)
    if bad is not None:
        raise InvalidSubtitles("the subtitle file is binary, not SRT or WebVTT", offset=bad.start())
    return text


def cue_settings(rest: str) -> str:
    """Return the valid WebVTT cue settings of what follows a timing, space-separated ("" for none)."""
    kept = [item for item in rest.split()[:8] if _SETTING.match(item)]
    return " " + " ".join(kept) if kept else ""


def to_webvtt(data: bytes) -> tuple[str, int]:
    """Return a sidecar file as WebVTT and its number of cues; raise InvalidSubtitles if it is neither SRT nor WebVTT."""
    if not data.strip():
        raise InvalidSubtitles("the subtitle file is empty")
    if len(data) > MAX_SUBTITLE_BYTES:
        raise InvalidSubtitles(f"a subtitle file may be {MAX_SUBTITLE_BYTES} bytes at most")
    text = decode_text(data)
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
            settings = cue_settings(m["rest"]) if text.startswith("WEBVTT") else ""
            cues.append(f"{_stamp(start)} --> {_stamp(end)}{settings}\n" + "\n".join(body).replace("-->", "->"))
            if len(cues) > MAX_CUES:
                raise InvalidSubtitles(f"a subtitle file may hold {MAX_CUES} cues at most")
    if not cues:
        raise InvalidSubtitles("no subtitle cue found: the file is not SRT or WebVTT")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n", len(cues)
