"""Guide import end to end: upload or URL, the worker job, the report, stable programme ids."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.guide import sources as epg
from catalog.guide.imports import run_import
from catalog.guide.models import EpgImport, Programme
from tests.support.guide import finished
from tests.support.guide import upload as upload_to
from tests.support.processes import smartgo_env
from tests.support.waiting import wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample-dst-week.xml"
FEED_CHANNELS = ("tvp1.pl", "polsat.pl", "hbo.pl", "canalplus-sport.pl")
UTC = dt.UTC


@pytest.fixture
def source(http, admin, make_channel):  # noqa: ANN001, ANN201
    """Four channels and a guide source mapping the sample's channel ids to them (Warsaw time)."""
    channels = {xid: make_channel()["id"] for xid in FEED_CHANNELS}
    body = {"id": f"src-{uuid.uuid4().hex[:8]}", "name": "Sample guide", "time_zone": "Europe/Warsaw",
            "channel_map": channels}
    resp = http.post("/v1/admin/epg/sources", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return {**resp.json(), "channels": channels}


def guide_of(rt, channel_id: str, *, with_cancelled: bool = False) -> list[Programme]:  # noqa: ANN001
    with rt.db.session(write=False) as s:
        query = select(Programme).where(Programme.channel_id == channel_id).order_by(Programme.start_at)
        if not with_cancelled:
            query = query.where(Programme.status == "scheduled")
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def at(p: Programme) -> dt.datetime:
    return p.start_at.replace(tzinfo=UTC) if p.start_at.tzinfo is None else p.start_at.astimezone(UTC)


def ends(p: Programme) -> dt.datetime:
    return p.end_at.replace(tzinfo=UTC) if p.end_at.tzinfo is None else p.end_at.astimezone(UTC)


def test_the_sample_week_imports_with_its_report(http, admin, rt, source) -> None:  # noqa: ANN001
    report = upload_to(http, admin, source['id'], SAMPLE.read_bytes())["report"]
    assert report["programmes_read"] == 736 and report["rejected"] == 0 and report["channels"] == 4
    assert report["overlaps_resolved"] >= 1 and report["unknown_channels"] == {}
    tvp1 = guide_of(rt, source["channels"]["tvp1.pl"])
    assert report["added"] == sum(len(guide_of(rt, c)) for c in source["channels"].values())
    # Across the DST change: 02:34 +0200 to 02:04 +0100 is 30 minutes, and the guide has no overlap.
    [news] = [p for p in tvp1 if at(p) == dt.datetime(2026, 10, 25, 0, 34, tzinfo=UTC)]
    assert ends(news) - at(news) == dt.timedelta(minutes=30) and news.title == "Wiadomości"
    assert all(ends(a) <= at(b) for a, b in zip(tvp1, tvp1[1:]))
    hbo = guide_of(rt, source["channels"]["hbo.pl"])
    assert any(set(p.titles) == {"pl", "en"} for p in hbo)
    sport = guide_of(rt, source["channels"]["canalplus-sport.pl"])
    assert any(p.feed_rights == {"catchup": False} for p in sport)
    series = [p for p in tvp1 if p.series_id == "KLAN"]
    assert series and all(p.season >= 1 and p.episode >= 1 and p.episode_label for p in series)


def test_a_reimport_keeps_ids_updates_in_place_and_cancels_what_left(http, admin, rt, source) -> None:  # noqa: ANN001
    data = SAMPLE.read_text(encoding="utf-8")
    upload_to(http, admin, source['id'], data.encode())
    cid = source["channels"]["tvp1.pl"]
    before = {at(p): p for p in guide_of(rt, cid)}
    first, second, third = sorted(before)[10:13]
    stamp = lambda t: t.strftime("%Y%m%d%H%M%S") + " +0000"  # noqa: E731
    moved = first + dt.timedelta(minutes=2)
    local = {t: t.astimezone(dt.timezone(dt.timedelta(hours=2))).strftime("%Y%m%d%H%M%S") + " +0200"
             for t in (first, second, third)}
    assert f'start="{local[first]}"' in data and f'start="{local[third]}"' in data
    changed = data.replace(f'start="{local[first]}"', f'start="{stamp(moved)}"', 1)
    i = changed.index(f'<programme start="{local[second]}"')
    changed = changed[:i] + changed[i:].replace(before[second].descriptions["pl"], "Nowy opis", 1)
    gone = changed.index(f'<programme start="{local[third]}"')
    changed = changed[:gone] + changed[changed.index("</programme>", gone) + len("</programme>"):]
    report = upload_to(http, admin, source['id'], changed.encode())["report"]
    after = {p.id: p for p in guide_of(rt, cid, with_cancelled=True)}
    assert at(after[before[first].id]) == moved, "a moved programme keeps its id"
    assert after[before[second].id].descriptions["pl"] == "Nowy opis"
    assert after[before[third].id].status == "cancelled"
    assert report["cancelled"] == 1 and report["added"] == 0 and report["updated"] >= 2
    assert report["unchanged"] >= 700
    unchanged = [p for t, p in before.items() if t not in (first, second, third)]
    assert all(after[p.id].fingerprint == p.fingerprint for p in unchanged)


def test_overlaps_and_holes_follow_the_rule(http, admin, rt, source) -> None:  # noqa: ANN001
    xml = ('<?xml version="1.0" encoding="UTF-8"?><tv>'
           '<programme start="20261101100000 +0000" stop="20261101110000 +0000" channel="tvp1.pl"><title>A</title></programme>'
           '<programme start="20261101105700 +0000" stop="20261101120000 +0000" channel="tvp1.pl"><title>B</title></programme>'
           '<programme start="20261101130000 +0000" stop="20261101140000 +0000" channel="tvp1.pl"><title>C</title></programme>'
           '<programme start="20261101130000 +0000" stop="20261101133000 +0000" channel="tvp1.pl"><title>D</title></programme>'
           '<programme start="20261101140000 +0000" channel="tvp1.pl"><title>E</title></programme>'
           '<programme start="20261101150000 +0000" stop="20261101160000 +0000" channel="tvp1.pl"><title>F</title></programme>'
           '</tv>')
    report = upload_to(http, admin, source['id'], xml.encode())["report"]
    got = [(p.title, at(p).strftime("%H:%M"), ends(p).strftime("%H:%M")) for p in guide_of(rt, source["channels"]["tvp1.pl"])]
    # A is cut where B starts; the hole 12:00-13:00 stays a hole; D (later in the file) replaces C;
    # E had no stop and ends where F starts.
    assert got == [("A", "10:00", "10:57"), ("B", "10:57", "12:00"), ("D", "13:00", "13:30"),
                   ("E", "14:00", "15:00"), ("F", "15:00", "16:00")]
    assert report["overlaps_resolved"] == 2


def test_bad_items_are_reported_and_the_rest_imported(http, admin, rt, source) -> None:  # noqa: ANN001
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<tv>\n'
           '<programme start="20261101100000 +0000" stop="20261101090000 +0000" channel="tvp1.pl"><title>Back</title></programme>\n'
           '<programme start="not a time" channel="tvp1.pl"><title>Bad</title></programme>\n'
           '<programme start="20261101100000 +0000" stop="20261101110000 +0000" channel="nobody.pl"><title>X</title></programme>\n'
           '<programme start="20261101120000 +0000" stop="20261101130000 +0000" channel="tvp1.pl"><title>Good</title></programme>\n'
           '<programme start="20261101140000 +0000" channel="polsat.pl"><title>Last, no stop</title></programme>\n'
           '</tv>')
    report = upload_to(http, admin, source['id'], xml.encode())["report"]
    assert report["rejected_by_reason"] == {"STOPS_BEFORE_START": 1, "BAD_TIME": 1, "NO_STOP": 1}
    assert [r["line"] for r in report["rejections"][:2]] == [3, 4]
    assert report["unknown_channels"] == {"nobody.pl": 1}
    assert [p.title for p in guide_of(rt, source["channels"]["tvp1.pl"])] == ["Good"]


@pytest.mark.parametrize("broken", [
    lambda data: data[: len(data) // 2],  # cut off half-way
    lambda data: data.replace(b"<title", b"<<title", 1),  # not well-formed
    lambda data: data.decode("utf-8").encode("utf-16-le"),  # wrong encoding for its declaration
    lambda data: b"",  # empty file: the source's URL, which it has none of
])
def test_an_unreadable_guide_fails_and_the_previous_one_stays(http, admin, rt, source, broken) -> None:  # noqa: ANN001
    upload_to(http, admin, source['id'], SAMPLE.read_bytes())
    cid = source["channels"]["hbo.pl"]
    before = [(p.id, p.fingerprint) for p in guide_of(rt, cid)]
    resp = http.post(f"/v1/admin/epg/sources/{source['id']}/imports", content=broken(SAMPLE.read_bytes()),
                     headers={**admin, "content-type": "application/xml"})
    if resp.status_code == 202:
        imp = finished(http, admin, source['id'], resp.json()["id"], "failed")
        assert imp["error"]
    else:
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "INVALID_EPG_SOURCE"
    assert [(p.id, p.fingerprint) for p in guide_of(rt, cid)] == before


class _Feed(http.server.BaseHTTPRequestHandler):
    body: bytes = b""
    status = 200
    location: str | None = None  # a redirect to there ("{n}" counts the requests)
    requests = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        if self.location:
            self.send_response(302)
            self.send_header("location", self.location.format(n=self.requests))
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(self.status)
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(address: str):  # noqa: ANN202
    """Serve a guide feed on a loopback address; return its handler, URL and server."""
    handler = type("Feed", (_Feed,), {})
    srv = http.server.ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return handler, f"http://{address}:{srv.server_address[1]}/guide.xml.gz", srv


@pytest.fixture
def feed():  # noqa: ANN201
    """A guide feed over HTTP whose body and status the test sets."""
    handler, url, srv = _serve("127.0.0.1")
    yield handler, url
    srv.shutdown()


@pytest.fixture
def other_feed():  # noqa: ANN201
    """A second feed, on another loopback address (127.0.0.2)."""
    handler, url, srv = _serve("127.0.0.2")
    yield handler, url
    srv.shutdown()


def test_a_feed_fetched_on_schedule_and_one_that_disappears(http, admin, rt, source, feed,  # noqa: ANN001
                                                            monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt.settings, "epg_fetch_allow", "127.0.0.1/32")  # the test feed is on loopback
    handler, url = feed
    handler.body = gzip.compress(SAMPLE.read_bytes())
    body = {k: source[k] for k in ("name", "time_zone", "channel_map")}
    resp = http.put(f"/v1/admin/epg/sources/{source['id']}", headers=admin,
                    json={**body, "url": url, "refresh_every_s": 300})
    assert resp.status_code == 200, resp.text
    # Nobody asks: the schedule does (the source has never been imported, so it is due).
    listed = wait_for(lambda: (lambda items: items if items and items[0]["status"] != "queued" and
                               items[0]["status"] != "running" else None)(
        http.get(f"/v1/admin/epg/sources/{source['id']}/imports", headers=admin).json()["items"]), 60,
        "a scheduled import")
    assert listed[0]["origin"] == "url" and listed[0]["status"] == "succeeded", listed[0]
    before = [(p.id, p.fingerprint) for p in guide_of(rt, source["channels"]["tvp1.pl"])]
    assert len(before) > 100
    handler.status, handler.body = 404, b"gone"
    imp = upload_to(http, admin, source['id'], None, "failed")
    assert "404" in imp["error"]
    handler.status, handler.body = 200, gzip.compress(SAMPLE.read_bytes())[:5000]
    assert "truncated" in upload_to(http, admin, source['id'], None, "failed")["error"]  # a broken-off download
    assert [(p.id, p.fingerprint) for p in guide_of(rt, source["channels"]["tvp1.pl"])] == before


def test_uploads_over_the_limit_are_refused_and_leave_nothing(http, admin, rt, source, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt.settings, "epg_max_bytes", 10_000)
    resp = http.post(f"/v1/admin/epg/sources/{source['id']}/imports", content=SAMPLE.read_bytes(),
                     headers={**admin, "content-type": "application/xml"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "GUIDE_TOO_LARGE"

    def chunked():  # noqa: ANN202
        data = SAMPLE.read_bytes()
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    resp = http.post(f"/v1/admin/epg/sources/{source['id']}/imports", content=chunked(),
                     headers={**admin, "content-type": "application/xml"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "GUIDE_TOO_LARGE"
    assert list(rt.store.list("epg/uploads/")) == []


def test_bad_sources_and_unknown_ids(http, admin, source) -> None:  # noqa: ANN001
    for body, field in [({"id": "x1", "name": "n", "time_zone": "Mars/Olympus"}, "time_zone"),
                        ({"id": "x2", "name": "n", "channel_map": {"a": "no-such-channel"}}, None),
                        ({"id": "x3", "name": "n", "url": "ftp://example.com/guide"}, "url"),
                        ({"id": "X 4", "name": "n"}, "id"),
                        ({"id": "x5", "name": "n", "refresh_every_s": 5}, "refresh_every_s")]:
        resp = http.post("/v1/admin/epg/sources", json=body, headers=admin)
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] in ("VALIDATION_ERROR", "INVALID_EPG_SOURCE"), resp.text
    assert http.post("/v1/admin/epg/sources", json={"id": source["id"], "name": "again"},
                     headers=admin).json()["error"]["code"] == "EPG_SOURCE_EXISTS"
    resp = http.post("/v1/admin/epg/sources/no-such-source/imports", content=b"<tv/>", headers=admin)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "EPG_SOURCE_NOT_FOUND"
    resp = http.get(f"/v1/admin/epg/sources/{source['id']}/imports/{'0' * 32}", headers=admin)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "EPG_IMPORT_NOT_FOUND"
    assert http.get(f"/v1/admin/epg/sources/{source['id']}/imports/../x", headers=admin).status_code == 404
    assert http.post(f"/v1/admin/epg/sources/{source['id']}/imports", content=b"<tv/>").status_code == 401


def test_the_command_line_imports_a_file(rt, settings, source, tmp_path) -> None:  # noqa: ANN001


    env = smartgo_env(settings)
    guide = tmp_path / "guide.xml.gz"
    guide.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    run = subprocess.run([sys.executable, "-m", "infra.composition.cli", "epg-import", "--source", source["id"], str(guide)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["status"] == "succeeded" and out["report"]["programmes_read"] == 736
    assert len(guide_of(rt, source["channels"]["polsat.pl"])) > 100
    missing = subprocess.run([sys.executable, "-m", "infra.composition.cli", "epg-import", "--source", source["id"],
                              str(tmp_path / "nope.xml")], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def _lone_import(rt, source: dict):  # noqa: ANN001, ANN202
    """Queue an import of a file not in storage, the only one left to claim (every other test's ended)."""

    with rt.db.session() as s:
        imp = epg.queue_import(db_session=s, source_id=source["id"], origin="file", object_key="epg/uploads/none")
    with rt.db.session() as s:
        s.query(EpgImport).filter(EpgImport.id != imp.id, EpgImport.status.in_(("queued", "running"))).update(
            {"status": "failed"}, synchronize_session=False)
    return imp


def test_an_import_is_claimed_once_and_again_only_when_its_runner_died(rt, source) -> None:  # noqa: ANN001

    imp = _lone_import(rt, source)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)  # after every other test's imports
    with rt.db.session() as s:
        assert epg.claim_next(db_session=s, now=now) == imp.id
    with rt.db.session() as s:
        assert epg.claim_next(db_session=s, now=now) is None, "claimed twice"
    with rt.db.session() as s:
        assert epg.claim_next(db_session=s, now=now + dt.timedelta(minutes=31)) == imp.id, "a dead runner's import"

    assert run_import(rt, imp.id) == "failed"  # its file is not in storage: a clear failure, not a crash
    with rt.db.session(write=False) as s:
        assert "object" in (epg.get_import(db_session=s, import_id=imp.id).error or "").lower()


def _xml(*programmes: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><tv>' + "".join(programmes) + "</tv>").encode()


def _p(start: dt.datetime, stop: dt.datetime | None, title: str) -> str:
    f = "%Y%m%d%H%M%S +0000"
    stop_attr = f' stop="{stop.strftime(f)}"' if stop else ""
    return f'<programme start="{start.strftime(f)}"{stop_attr} channel="tvp1.pl"><title>{title}</title></programme>'


def test_an_aired_programme_never_moves_into_the_future(http, admin, rt, source) -> None:  # noqa: ANN001
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    aired = now - dt.timedelta(hours=2)
    upload_to(http, admin, source["id"], _xml(_p(aired, aired + dt.timedelta(minutes=30), "Teleshopping")))
    cid = source["channels"]["tvp1.pl"]
    [old] = guide_of(rt, cid)
    later = now + dt.timedelta(hours=2)
    upload_to(http, admin, source["id"], _xml(_p(later, later + dt.timedelta(minutes=30), "Teleshopping")))
    got = {p.id: at(p) for p in guide_of(rt, cid)}
    assert got[old.id] == aired, "the aired programme kept its time"
    assert len(got) == 2 and later in got.values()


def test_a_programme_cut_by_a_later_span_is_whole_again_when_sent_whole(http, admin, rt, source) -> None:  # noqa: ANN001
    t = dt.datetime(2026, 11, 1, 11, 30, tzinfo=UTC)
    whole = _xml(_p(t, t + dt.timedelta(hours=1), "P"))
    upload_to(http, admin, source["id"], whole)
    upload_to(http, admin, source["id"], _xml(_p(t + dt.timedelta(minutes=30), t + dt.timedelta(hours=2), "Q")))
    cid = source["channels"]["tvp1.pl"]
    assert [(p.title, ends(p)) for p in guide_of(rt, cid)][0] == ("P", t + dt.timedelta(minutes=30))
    upload_to(http, admin, source["id"], whole)
    assert [(p.title, ends(p)) for p in guide_of(rt, cid)][0] == ("P", t + dt.timedelta(hours=1))


def test_a_stopless_programme_is_not_stretched_past_a_day(http, admin, rt, source) -> None:  # noqa: ANN001
    t = dt.datetime(2026, 11, 1, 10, tzinfo=UTC)
    report = upload_to(http, admin, source["id"], _xml(
        _p(t, None, "Open"), _p(t + dt.timedelta(days=3), t + dt.timedelta(days=3, hours=1), "Later")))["report"]
    assert report["rejected_by_reason"] == {"TOO_LONG": 1}
    assert [p.title for p in guide_of(rt, source["channels"]["tvp1.pl"])] == ["Later"]


def test_a_corrupt_compressed_guide_fails_the_import(http, admin, source) -> None:  # noqa: ANN001
    imp = upload_to(http, admin, source["id"], b"\x1f\x8b" + b"not really gzip" * 100, "failed")
    assert "corrupt" in imp["error"]


def test_programmes_at_the_ends_of_time_are_skipped_and_counted_and_the_import_ends(http, admin, rt, source) -> None:  # noqa: ANN001
    cid = source["channels"]["tvp1.pl"]
    odd = [  # (start, stop) as the feed writes them; the source reads offset-less times in Warsaw time
        ("99991231230000", "99991231233000"), ("99991231230000 +0000", "99991231233000 +0000"),
        ("00010101000000", "00010101003000"), ("00010101000000 +0500", "00010101003000 +0500"),
        ("20261101100000 +9999", "20261101103000 +9999"), ("20261101100000 +0575", "20261101103000 +0575"),
        ("20261101100000 +1500", "20261101103000 +1500"), ("20261301100000 +0000", "20261301103000 +0000"),
    ]
    good = ('<programme start="20261101120000 +0000" stop="20261101123000 +0000" channel="tvp1.pl">'
            '<title>Kept</title><episode-num system="xmltv_ns">99999999999.99999999999.</episode-num></programme>'
            '<programme start="20261101123000 +0000" stop="20261101130000 +0000" channel="tvp1.pl">'
            f'<title>{"Długi tytuł " * 300}</title><episode-num system="onscreen">S1E1</episode-num></programme>')
    data = _xml(*(f'<programme start="{a}" stop="{b}" channel="tvp1.pl"><title>Odd {i}</title></programme>'
                  for i, (a, b) in enumerate(odd)), good)
    imp = upload_to(http, admin, source["id"], data)
    report = imp["report"]
    assert report["rejected_by_reason"] == {"BAD_TIME": len(odd)} and report["added"] == 2, report
    assert all(r["reason"] == "BAD_TIME" and r["detail"] for r in report["rejections"])
    kept, long = guide_of(rt, cid)
    assert kept.title == "Kept" and kept.season is None and kept.episode is None
    assert long.series_id.startswith("title:długi tytuł") and len(long.series_id) == 200


def test_an_import_whose_runner_dies_every_time_fails_with_a_reason(rt, source) -> None:  # noqa: ANN001

    imp = _lone_import(rt, source)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=7300)  # after every other test's imports
    for n in range(epg.MAX_TRIES):  # claimed, and its runner dies (nothing finishes it) before the claim is stale
        with rt.db.session() as s:
            assert epg.claim_next(db_session=s, now=later + n * (epg.STALE_CLAIM + dt.timedelta(minutes=1))) == imp.id
    for n in range(2):
        with rt.db.session() as s:
            after = later + (epg.MAX_TRIES + n) * (epg.STALE_CLAIM + dt.timedelta(minutes=1))
            assert epg.claim_next(db_session=s, now=after) is None
    with rt.db.session(write=False) as s:
        row = epg.get_import(db_session=s, import_id=imp.id)
        assert (row.status, row.tries) == ("failed", epg.MAX_TRIES)
        assert f"stopped {epg.MAX_TRIES} times" in row.error


def _fetch(http, admin, source: dict, url: str, status: str) -> dict:  # noqa: ANN001
    """Point the source at url and import from it; return the import."""
    body = {k: source[k] for k in ("name", "time_zone", "channel_map")}
    resp = http.put(f"/v1/admin/epg/sources/{source['id']}", headers=admin, json={**body, "url": url})
    assert resp.status_code == 200, resp.text
    return upload_to(http, admin, source["id"], None, status)


@pytest.mark.once  # what is fetched, not where it is kept: one pass is enough
def test_guide_fetches_reach_internal_addresses_only_when_staff_allow_them(http, admin, rt, source, feed,  # noqa: ANN001
                                                                           other_feed, monkeypatch) -> None:  # noqa: ANN001
    handler, url = feed
    other, other_url = other_feed
    handler.body = other.body = gzip.compress(SAMPLE.read_bytes())
    body = {k: source[k] for k in ("name", "time_zone", "channel_map")}
    # Literal internal addresses are refused when the source is saved.
    for bad in (url, "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/g", "http://10.0.0.1/g",
                "http://localhost:9/g", "http://[::ffff:127.0.0.1]:9/g"):
        resp = http.put(f"/v1/admin/epg/sources/{source['id']}", headers=admin, json={**body, "url": bad})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "INVALID_EPG_SOURCE", (bad, resp.text)
    monkeypatch.setattr(rt.settings, "epg_fetch_allow", "127.0.0.1/32")
    assert _fetch(http, admin, source, url, "succeeded")["report"]["programmes_read"] == 736
    # The check is made when connecting, on every hop: allowed no more, the same source is refused;
    monkeypatch.setattr(rt.settings, "epg_fetch_allow", "")
    assert "SMARTGO_EPG_FETCH_ALLOW" in upload_to(http, admin, source["id"], None, "failed")["error"]
    # a redirect from an allowed feed to another loopback address is refused, and fetched once allowed;
    monkeypatch.setattr(rt.settings, "epg_fetch_allow", "127.0.0.1/32")
    handler.location, before = other_url, other.requests
    assert "127.0.0.2" in _fetch(http, admin, source, url, "failed")["error"]
    assert other.requests == before, "the refused address was never connected to"
    monkeypatch.setattr(rt.settings, "epg_fetch_allow", "127.0.0.0/8")
    assert _fetch(http, admin, source, url, "succeeded")["report"]["programmes_read"] == 736
    # a redirect to the cloud's metadata service is refused before connecting;
    handler.location = "http://169.254.169.254/latest/meta-data/"
    assert "link-local" in _fetch(http, admin, source, url, "failed")["error"]
    # and a chain of redirects longer than the bound ends.
    handler.location = url + "?hop={n}"
    assert "redirected more than" in _fetch(http, admin, source, url, "failed")["error"]
