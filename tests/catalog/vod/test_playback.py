"""What the playback door learns about a title: availability, inherited rights, drafts hidden."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from catalog.vod import service as vod
from catalog.vod.errors import TitleNotFound
from catalog.vod.models import Title, TitlePackage
from tests.catalog.conftest import make_asset

NOW = dt.datetime.now(dt.UTC)


def _title(s, **fields) -> str:  # noqa: ANN001, ANN003
    title_id = fields.pop("id", f"t-{uuid.uuid4().hex[:10]}")
    s.add(Title(id=title_id, **fields))
    s.flush()
    return title_id


def test_available_only_published_in_window_with_a_ready_asset(rt, make_package) -> None:  # noqa: ANN001
    ready, failed = make_asset(rt), make_asset(rt, state="failed")
    code = make_package()["code"]
    hour = dt.timedelta(hours=1)
    with rt.db.session() as s:
        ok = _title(s, kind="movie", status="published", asset_id=ready, age_rating="AL",
                    device_types=["smart_tv"], available_from=NOW - hour, available_to=NOW + hour)
        s.add(TitlePackage(title_id=ok, package_code=code))
        cases = {
            ok: True,
            _title(s, kind="movie", status="published", asset_id=failed): False,
            _title(s, kind="movie", status="published"): False,
            _title(s, kind="movie", status="unpublished", asset_id=ready): False,
            _title(s, kind="movie", status="published", asset_id=ready, available_from=NOW + hour): False,
            _title(s, kind="movie", status="published", asset_id=ready, available_to=NOW - hour): False,
        }
        draft = _title(s, kind="movie", status="draft", asset_id=ready)
    with rt.db.session(write=False) as s:
        got = {tid: vod.title_for_playback(db_session=s, title_id=tid, now=NOW).available for tid in cases}
        first = vod.title_for_playback(db_session=s, title_id=ok, now=NOW)
        later = vod.title_for_playback(db_session=s, title_id=ok, now=NOW + 2 * hour)
        for missing in (draft, "no-such-title"):
            with pytest.raises(TitleNotFound):
                vod.title_for_playback(db_session=s, title_id=missing, now=NOW)
    assert got == cases
    assert first == vod.PlayableTitle(id=ok, asset_id=ready, available=True, packages=frozenset({code}),
                                      device_types=frozenset({"smart_tv"}), age_rating=0, duration_s=5400)
    assert later.available is False, "the window closes by itself"


def test_an_episode_inherits_its_series_rights_and_visibility(rt, make_package) -> None:  # noqa: ANN001
    ready, code = make_asset(rt), make_package()["code"]
    with rt.db.session() as s:
        series = _title(s, kind="series", status="published", age_rating="16", device_types=["web"])
        s.add(TitlePackage(title_id=series, package_code=code))
        season = _title(s, kind="season", status="published", parent_id=series, position=1)
        episode = _title(s, kind="episode", status="published", parent_id=season, position=1,
                         asset_id=ready, duration_s=1500)
    with rt.db.session(write=False) as s:
        got = vod.title_for_playback(db_session=s, title_id=episode, now=NOW)
    assert got == vod.PlayableTitle(id=episode, asset_id=ready, available=True, packages=frozenset({code}),
                                    device_types=frozenset({"web"}), age_rating=16, duration_s=1500)
    with rt.db.session() as s:
        s.get(Title, series).status = "unpublished"
    with rt.db.session(write=False) as s:
        assert vod.title_for_playback(db_session=s, title_id=episode, now=NOW).available is False
