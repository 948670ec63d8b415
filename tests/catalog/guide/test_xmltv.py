"""The XMLTV reader, as data: times, episode numbers, ratings, rights and rejections."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from catalog.guide.xmltv import (
    GuideError,
    GuideProgramme,
    Rejected,
    episode_numbers,
    parse_time,
    read_guide,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample-dst-week.xml"  # ../shared/epg, copied
WARSAW = ZoneInfo("Europe/Warsaw")
UTC = dt.UTC


def guide(body: str, encoding: str = "UTF-8") -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<tv>{body}</tv>').encode(encoding)


def programmes(data: bytes, tz: dt.tzinfo = UTC, chunk: int = 7) -> list:
    return list(read_guide((data[i:i + chunk] for i in range(0, len(data), chunk)), tz))


@pytest.mark.parametrize("text, tz, expected", [
    ("20261025023400 +0200", UTC, dt.datetime(2026, 10, 25, 0, 34, tzinfo=UTC)),
    ("20261025020400 +0100", UTC, dt.datetime(2026, 10, 25, 1, 4, tzinfo=UTC)),
    ("20261025023400", UTC, dt.datetime(2026, 10, 25, 2, 34, tzinfo=UTC)),  # XMLTV's default: UTC
    ("20261022120000", WARSAW, dt.datetime(2026, 10, 22, 10, 0, tzinfo=UTC)),  # CEST
    ("20261026120000", WARSAW, dt.datetime(2026, 10, 26, 11, 0, tzinfo=UTC)),  # CET
    ("20261025023000", WARSAW, dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # the repeated hour: first pass
    ("202610251200 Z", UTC, dt.datetime(2026, 10, 25, 12, 0, tzinfo=UTC)),
    ("20261025", UTC, dt.datetime(2026, 10, 25, tzinfo=UTC)),
    ("20261025120000 -05:30", UTC, dt.datetime(2026, 10, 25, 17, 30, tzinfo=UTC)),
    ("20261025120000 +1400", UTC, dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # Kiribati: the largest offset
    ("19700101000000 +0000", UTC, dt.datetime(1970, 1, 1, tzinfo=UTC)),
    ("21991231235959", WARSAW, dt.datetime(2199, 12, 31, 22, 59, 59, tzinfo=UTC)),
])
def test_times_are_read_into_utc(text: str, tz: dt.tzinfo, expected: dt.datetime) -> None:
    assert parse_time(text, tz) == expected


@pytest.mark.parametrize("text", [
    "", "yesterday", "2026-10-25 12:00", "20261325120000 +0000", "20261025120000 +2",
    # Years at the ends of what a datetime holds, where moving to UTC overflows, and offsets that exist nowhere.
    "99991231230000 -0500", "99991231230000 +0000", "99991231230000", "00010101000000 +0500", "00010101000000",
    "19691231235959 +0000", "22000101000000 +0000", "20261025120000 +9999", "20261025120000 -2400",
    "20261025120000 +1401", "20261025120000 +0060", "20261025120000 +2359", "20261025246000 +0000",
])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text, UTC)


@pytest.mark.parametrize("system, text, expected", [
    ("xmltv_ns", "0.0.", {"season": 1, "episode": 1}),
    ("xmltv_ns", "2.9/10.0/1", {"season": 3, "episode": 10}),
    ("xmltv_ns", ".4.", {"episode": 5}),
    ("xmltv_ns", "garbage", {}),
    ("xmltv_ns", "99999999999.3.", {"episode": 4}),  # a season no integer column holds is dropped
    ("xmltv_ns", "\u00b2.\u0663.", {}),  # digits Python calls digits but int() or the feed do not mean

    ("onscreen", "S01E02", {"episode_label": "S01E02"}),
    ("dd_progid", "EP012345670001", {"source_programme_id": "EP012345670001"}),
    ("unknown", "x", {}),
])
def test_episode_numbers(system: str, text: str, expected: dict) -> None:
    assert episode_numbers(system, text) == expected


def test_a_programme_with_everything() -> None:
    [p] = programmes(guide(
        '<programme start="20261022210000 +0200" stop="20261022220000 +0200" channel="hbo.pl" catchup="false">'
        '<title lang="pl">Ród smoka</title><title lang="en">House of the Dragon</title>'
        '<sub-title lang="pl">Odcinek</sub-title><desc lang="pl">Opis</desc><desc lang="en">Plot</desc>'
        '<category lang="en">series</category><category lang="en">series</category>'
        '<episode-num system="xmltv_ns">1.2.</episode-num><episode-num system="onscreen">S02E03</episode-num>'
        '<episode-num system="dd_progid">ROD0102</episode-num>'
        '<rating system="KRRiT"><value>16</value></rating></programme>'))
    assert isinstance(p, GuideProgramme)
    assert (p.channel, p.start, p.stop) == ("hbo.pl", dt.datetime(2026, 10, 22, 19, tzinfo=UTC),
                                            dt.datetime(2026, 10, 22, 20, tzinfo=UTC))
    assert p.titles == {"pl": "Ród smoka", "en": "House of the Dragon"} and p.title == "Ród smoka"
    assert p.descriptions == {"pl": "Opis", "en": "Plot"} and p.sub_titles == {"pl": "Odcinek"}
    assert p.categories == ["series"] and (p.season, p.episode, p.episode_label) == (2, 3, "S02E03")
    assert p.source_programme_id == "ROD0102" and p.series_id == "ROD" and p.age_rating == "16"
    assert p.rights == {"catchup": False}


@pytest.mark.parametrize("body, reason", [
    ('<programme start="20261022210000" stop="20261022200000" channel="a"><title>x</title></programme>',
     "STOPS_BEFORE_START"),
    ('<programme start="20261022210000" stop="20261022210000" channel="a"><title>x</title></programme>',
     "STOPS_BEFORE_START"),
    ('<programme start="tomorrow" channel="a"><title>x</title></programme>', "BAD_TIME"),
    ('<programme channel="a"><title>x</title></programme>', "NO_START"),
    ('<programme start="20261022210000"><title>x</title></programme>', "NO_CHANNEL"),
    ('<programme start="20261022210000" channel="a"></programme>', "NO_TITLE"),
    ('<programme start="20261022210000" stop="20261024210000" channel="a"><title>x</title></programme>', "TOO_LONG"),
])
def test_bad_programmes_are_rejected_with_a_reason_and_the_rest_read(body: str, reason: str) -> None:
    ok = '<programme start="20261022220000" stop="20261022230000" channel="a"><title>ok</title></programme>'
    items = programmes(guide(body + ok))
    assert isinstance(items[0], Rejected) and items[0].reason == reason and items[0].line == 2
    assert isinstance(items[1], GuideProgramme) and items[1].title == "ok"


def test_other_declared_encodings_are_decoded() -> None:
    body = '<programme start="20261022220000" stop="20261022230000" channel="a"><title>Żółw</title></programme>'
    [p] = programmes(guide(body, "ISO-8859-2"))
    assert p.title == "Żółw"


@pytest.mark.parametrize("data", [
    guide('<programme start="1" channel="a"><title>x</title>'),  # never closed
    b'<?xml version="1.0" encoding="foo"?><tv></tv>',  # an encoding nobody knows
    b'<?xml version="1.0" encoding="Shift_JIS"?><tv></tv>',  # a multi-byte one expat cannot read
    b'<?xml version="1.0" encoding="UTF-8"?><tv><programme channel="\xff\xfe"></programme></tv>',  # not UTF-8
    b"plain text, not a guide",
    b"",
])
def test_a_guide_that_is_not_well_formed_is_an_error(data: bytes) -> None:
    with pytest.raises(GuideError):
        programmes(data)


def test_entity_declarations_are_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE tv [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b'<tv><programme start="20261022220000" channel="a"><title>&b;</title></programme></tv>')
    with pytest.raises(GuideError, match="entity"):
        programmes(bomb)


def test_the_sample_week_reads_and_crosses_the_dst_change() -> None:
    items = list(read_guide([SAMPLE.read_bytes()], WARSAW))
    assert len(items) == 736 and all(isinstance(i, GuideProgramme) for i in items)
    # 02:34 +0200 to 02:04 +0100 is thirty minutes later, not earlier.
    [news] = [i for i in items if i.start == dt.datetime(2026, 10, 25, 0, 34, tzinfo=UTC) and i.channel == "tvp1.pl"]
    assert news.stop - news.start == dt.timedelta(minutes=30)
    assert {i.channel for i in items if i.rights == {"catchup": False}} == {"canalplus-sport.pl"}


@pytest.mark.once  # the reader alone: no service in it
def test_memory_does_not_grow_with_the_guide() -> None:
    one = ('<programme start="2026102{d}{h:02d}0000 +0000" stop="2026102{d}{h:02d}3000 +0000" channel="c{c}">'
           '<title lang="pl">Tytuł {h}</title><desc lang="pl">' + "opis " * 40 + '</desc></programme>')

    def body(n: int):  # noqa: ANN202
        yield b'<?xml version="1.0" encoding="UTF-8"?><tv>'
        for i in range(n):
            yield one.format(d=i % 8 + 1, h=i % 24, c=i % 50).encode()
        yield b"</tv>"

    def peak(n: int) -> int:
        tracemalloc.start()
        count = sum(1 for _ in read_guide(body(n)))
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count == n
        return size

    # tracemalloc counts every thread's allocations, and the session's server runs background jobs
    # in threads: the least of three runs is this parser's own peak.
    small, large = min(peak(2_000) for _ in range(3)), min(peak(20_000) for _ in range(3))
    assert large < small * 1.5 + 200_000, (small, large)


@pytest.mark.parametrize("bulk", [
    b'<programme channel="c" start="20261101100000" title="' + b"x" * (5 << 20) + b'">',
    b"<!-- " + b"y" * (5 << 20) + b" -->",
], ids=["attribute", "comment"])
def test_a_tag_or_comment_too_long_to_hold_is_refused(bulk: bytes) -> None:
    def body():  # noqa: ANN202
        yield b'<?xml version="1.0" encoding="UTF-8"?><tv>'
        for at in range(0, len(bulk), 1 << 20):
            yield bulk[at:at + (1 << 20)]
        yield b"</programme></tv>"

    with pytest.raises(GuideError, match="over"):
        list(read_guide(body()))


def test_long_text_is_read_as_it_comes() -> None:
    desc = "opis " * (2 << 20)  # 10 MB of text in one element: handed over in pieces, kept to MAX_TEXT
    data = (f'<tv><programme channel="c" start="20261101100000" stop="20261101103000"><title>T</title>'
            f"<desc>{desc}</desc></programme></tv>").encode()
    [item] = list(read_guide([data]))
    assert len(item.descriptions["und"]) <= 4000
