"""A streaming XMLTV reader: programmes come out one by one, memory does not grow with the file.

Pure: bytes in, `GuideProgramme` or `Rejected` out, no database. Built on expat directly
(not ElementTree) for line numbers in the report and constant memory; entity declarations
are refused outright, so no entity expansion (billion laughs) and no external entities.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.parsers import expat
from zoneinfo import ZoneInfo

AGE_RATINGS = ("AL", "7", "12", "16", "18")
RIGHT_ATTRIBUTES = ("catchup", "startover", "recording")
MAX_PROGRAMME_S = 24 * 3600
MAX_TEXT = 4000
# expat holds a start tag (its attributes), a comment or a declaration whole until it ends: one
# larger than this is refused rather than held (text is handed over as it comes, whatever its size).
MAX_TOKEN = 4 * 1024 * 1024
FEED = 1 << 16
SERIES_ID_LENGTH = 200  # catalog.guide.models.Programme.series_id
# Times outside these years are placeholders or typos (0001, 9999), and near the ends of what a
# datetime holds, moving them to UTC overflows; offsets beyond 14 hours exist nowhere.
FIRST_YEAR, LAST_YEAR = 1970, 2199
MAX_OFFSET = dt.timedelta(hours=14)
_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?\s*(?:([+-])(\d{2}):?(\d{2})|(Z|UTC|GMT))?$")
_NUMBER = re.compile(r"[0-9]{1,5}")  # a season or episode number (ASCII digits: "²".isdigit() is true)
_LEAVES = {"title", "sub-title", "desc", "category", "episode-num", "value"}


class GuideError(ValueError):
    """The guide as a whole cannot be read (not well-formed XML, refused constructs)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class GuideProgramme:
    """One programme as the feed describes it, times in UTC (stop may be missing)."""

    line: int
    channel: str
    start: dt.datetime
    stop: dt.datetime | None
    titles: dict[str, str]
    sub_titles: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    season: int | None = None
    episode: int | None = None
    episode_label: str | None = None
    source_programme_id: str | None = None
    age_rating: str | None = None
    rights: dict[str, bool] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The title in the feed's first language."""
        return next(iter(self.titles.values()))

    @property
    def series_id(self) -> str | None:
        """A key shared by the episodes of a series (see docs/epg.md), or None for a one-off."""
        pid = self.source_programme_id
        if pid and len(pid) >= 6 and pid[-4:].isdigit():
            return pid[:-4]
        if self.season is not None or self.episode is not None or self.episode_label:
            return ("title:" + " ".join(self.title.lower().split()))[:SERIES_ID_LENGTH]
        return None


@dataclass(frozen=True)
class Rejected:
    """A programme the import leaves out, and why."""

    line: int
    channel: str | None
    start: str | None
    reason: str
    detail: str


def parse_time(text: str, default_tz: dt.tzinfo) -> dt.datetime:
    """Parse an XMLTV time ("20261025023400 +0200"); no offset means default_tz. Returns UTC."""
    m = _TIME.match(text.strip())
    if m is None:
        raise ValueError(f"not an XMLTV time: {text[:40]!r}")
    y, mo, d, h, mi, s, sign, oh, om, utc = m.groups()
    if not FIRST_YEAR <= int(y) <= LAST_YEAR:
        raise ValueError(f"the year {y} is outside {FIRST_YEAR} to {LAST_YEAR}: {text[:40]!r}")
    naive = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    if sign:
        offset = dt.timedelta(hours=int(oh), minutes=int(om))
        if int(om) >= 60 or offset > MAX_OFFSET:
            raise ValueError(f"the UTC offset {sign}{oh}{om} does not exist: {text[:40]!r}")
        tz: dt.tzinfo = dt.timezone(offset if sign == "+" else -offset)
    elif utc:
        tz = dt.UTC
    else:
        tz = default_tz  # an ambiguous local time (the repeated DST hour) is read as its first pass
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def episode_numbers(system: str, text: str) -> dict:
    """Read one <episode-num>: xmltv_ns (zero-based "season.episode.part"), onscreen, dd_progid."""
    text = text.strip()
    if system == "xmltv_ns":
        parts = [p.split("/")[0].strip() for p in text.split(".")]
        out = {}
        if parts and _NUMBER.fullmatch(parts[0]):
            out["season"] = int(parts[0]) + 1
        if len(parts) > 1 and _NUMBER.fullmatch(parts[1]):
            out["episode"] = int(parts[1]) + 1
        return out
    if system == "onscreen" and text:
        return {"episode_label": text[:40]}
    if system == "dd_progid" and text:
        return {"source_programme_id": text[:64]}
    return {}


def time_zone(name: str) -> dt.tzinfo:
    """Return the time zone a source's offset-less times are read in."""
    return dt.UTC if name.upper() == "UTC" else ZoneInfo(name)


class _Reader:
    """expat handlers that turn XMLTV elements into programmes as they close."""

    def __init__(self, default_tz: dt.tzinfo, channels: dict[str, str] | None) -> None:
        self.tz = default_tz
        self.out: list[GuideProgramme | Rejected] = []
        self.channels = channels  # xmltv channel id -> display name, collected only when asked
        self.current: dict | None = None
        self.channel: str | None = None
        self.text: list[str] | None = None
        self.leaf_attrs: dict = {}
        self.in_rating: str | None = None
        self.parser = expat.ParserCreate()
        p = self.parser
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartElementHandler, p.EndElementHandler = self.start, self.end
        p.CharacterDataHandler = self.chars
        p.EntityDeclHandler = self.refuse_entities
        p.DefaultHandlerExpand = self.other
        p.buffer_text = True
        self.pending = 0  # bytes fed since expat last handed anything over

    def other(self, _data: str) -> None:
        self.pending = 0

    def refuse_entities(self, *_args: object) -> None:
        raise GuideError("entity declarations are not accepted in a guide", self.parser.CurrentLineNumber)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.pending = 0
        if name == "programme":
            self.current = {"line": self.parser.CurrentLineNumber, "attrs": attrs, "titles": {}, "sub_titles": {},
                            "descriptions": {}, "categories": [], "episodes": {}, "rating": None}
        elif name == "channel" and self.current is None:
            self.channel = attrs.get("id")
        elif name == "rating" and self.current is not None:
            self.in_rating = attrs.get("system", "")
        elif name in _LEAVES or (name == "display-name" and self.channel):
            self.text, self.leaf_attrs = [], attrs

    def chars(self, data: str) -> None:
        self.pending = 0
        if self.text is not None and sum(map(len, self.text)) < MAX_TEXT:
            self.text.append(data)

    def end(self, name: str) -> None:
        self.pending = 0
        text = "".join(self.text).strip()[:MAX_TEXT] if self.text is not None else ""
        if name not in ("programme", "channel", "rating"):
            self.text = None
        cur = self.current
        if name == "display-name" and self.channel and cur is None:
            if self.channels is not None:
                self.channels.setdefault(self.channel, text)
        elif name == "channel" and cur is None:
            self.channel = None
        elif cur is None:
            return
        elif name == "programme":
            self.out.append(_programme(cur, self.tz))
            self.current = None
        elif name in ("title", "sub-title", "desc") and text:
            key = {"title": "titles", "sub-title": "sub_titles", "desc": "descriptions"}[name]
            cur[key].setdefault(self.leaf_attrs.get("lang", "und")[:8], text)
        elif name == "category" and text and text not in cur["categories"]:
            cur["categories"].append(text[:60])
        elif name == "episode-num":
            cur["episodes"].update(episode_numbers(self.leaf_attrs.get("system", "xmltv_ns"), text))
        elif name == "value" and self.in_rating is not None and text.upper() in AGE_RATINGS:
            cur["rating"] = cur["rating"] or text.upper()
        elif name == "rating":
            self.in_rating = None


def _programme(cur: dict, tz: dt.tzinfo) -> GuideProgramme | Rejected:
    attrs, line = cur["attrs"], cur["line"]
    channel, start_text = attrs.get("channel"), attrs.get("start")

    def rejected(reason: str, detail: str) -> Rejected:
        return Rejected(line, channel, start_text, reason, detail)

    if not channel:
        return rejected("NO_CHANNEL", "the programme names no channel")
    if not start_text:
        return rejected("NO_START", "the programme has no start time")
    try:
        start = parse_time(start_text, tz)
        stop = parse_time(attrs["stop"], tz) if attrs.get("stop") else None
    except (ValueError, OverflowError) as err:
        return rejected("BAD_TIME", str(err))
    if stop is not None and stop <= start:
        return rejected("STOPS_BEFORE_START", f"stop {attrs['stop']} is not after start {start_text}")
    if stop is not None and (stop - start).total_seconds() > MAX_PROGRAMME_S:
        return rejected("TOO_LONG", "a programme may last 24 hours at most")
    if not cur["titles"]:
        return rejected("NO_TITLE", "the programme has no title")
    rights = {k: attrs[k].strip().lower() in ("true", "1", "yes") for k in RIGHT_ATTRIBUTES if k in attrs}
    return GuideProgramme(line=line, channel=channel[:200], start=start, stop=stop, titles=cur["titles"],
                          sub_titles=cur["sub_titles"], descriptions=cur["descriptions"],
                          categories=cur["categories"], age_rating=cur["rating"], rights=rights,
                          **cur["episodes"])


def read_guide(chunks: Iterable[bytes], default_tz: dt.tzinfo = dt.UTC,
               channels: dict[str, str] | None = None) -> Iterator[GuideProgramme | Rejected]:
    """Yield the programmes (and rejections) of an XMLTV document given as byte chunks.

    Raises GuideError if the document is not well-formed; what was yielded before stays valid
    as data, but callers treat the guide as unreadable. Channel display names collected on the
    way are put in `channels` when given.
    """
    reader = _Reader(default_tz, channels)
    try:
        for chunk in chunks:
            for at in range(0, len(chunk), FEED):
                piece = chunk[at:at + FEED]
                reader.pending += len(piece)
                reader.parser.Parse(piece, False)
                if reader.pending > MAX_TOKEN:
                    raise GuideError(f"the guide holds a tag, comment or declaration over {MAX_TOKEN} bytes long",
                                     reader.parser.CurrentLineNumber)
                yield from reader.out
                reader.out.clear()
        reader.parser.Parse(b"", True)
        yield from reader.out
    except expat.ExpatError as err:
        raise GuideError(f"the guide is not well-formed XML: {expat.ErrorString(err.code)}", err.lineno) from err
    except GuideError:
        raise
    except (LookupError, ValueError) as err:  # an encoding Python does not know, or a multi-byte one expat cannot read
        raise GuideError(f"the guide's encoding cannot be read: {err}") from err


def file_chunks(fileobj: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    """Read a binary file in chunks."""
    while chunk := fileobj.read(size):
        yield chunk
