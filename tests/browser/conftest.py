"""What the browser tests share: the player driver, live channels pushed by ffmpeg, a VOD title,
and the household whose subscribers sign in on the test page (with content they may not play)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.entitlements.conftest import (  # noqa: F401
    PASSWORD,
    Billing,
    bearer,
    billing,
    login,
    make_package,
    make_subscriber,
)
from tests.streaming.vod.test_ingest import upload, wait_done
from tests.support.channels import channel_body
from tests.support.ffmpeg import pushed_channel
from tests.support.guide import import_programmes, programme_ids
from tests.support.mezzanine import SRT_POLISH, make_mezzanine

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("play.mjs")


def play(page_url: str, **opts) -> dict:  # noqa: ANN003
    """Drive the test page in headless Chromium (tests/browser/play.mjs) and return what it saw."""
    node = shutil.which("node")
    assert node, "node is needed for the browser tests"
    args = [node, str(SCRIPT), page_url]
    for key, value in opts.items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(args, cwd=ROOT / "web", capture_output=True, text=True, timeout=150)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from the browser\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


# Players watch media in wall time and compute little: several Chromiums play at once (the
# channels they share are the costly part, and are pushed once per session).
PLAYERS_AT_ONCE = int(os.environ.get("SMARTGO_BROWSER_PLAYERS", "3"))


def _key(item) -> tuple:  # noqa: ANN001
    params = getattr(item, "callspec", None)
    return item.originalname, tuple(sorted(params.params.items())) if params else ()


def play_selected(request, plays: dict[str, Callable[..., object]]) -> dict[tuple, object]:  # noqa: ANN001
    """Run what this module's selected tests play (``plays[test name](**their parameters)``),
    PLAYERS_AT_ONCE at a time; return each outcome, or the exception it raised, by test."""
    runs = {_key(item): item for item in request.session.items if item.module is request.module}
    with ThreadPoolExecutor(PLAYERS_AT_ONCE) as pool:
        futures = {key: pool.submit(plays[key[0]], **dict(key[1])) for key in runs}
        return {key: future.exception() or future.result() for key, future in futures.items()}


def seen(played: dict[tuple, object], request) -> object:  # noqa: ANN001
    """Return what this test's play saw (raising what it raised)."""
    outcome = played[_key(request.node)]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def assert_plays(result: dict, *, seek: bool = True) -> None:
    """Playback started with no fatal error, kept up with wall time and, when asked, a seek landed."""
    assert result["ok"] and not result["errors"], result
    advance = result["advance"]
    assert advance["media"] >= 0.75 * advance["wall"], f"playback does not keep up: {advance}"
    if seek:
        landed = result["seek"]
        assert landed["landed"] is not None and abs(landed["landed"] - landed["target"]) < 2.5, f"seek off: {landed}"
        assert landed["later"] > landed["landed"], f"playback stopped after the seek: {landed}"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Keep the tests of the six-hour channel on one xdist worker (--dist loadgroup): it costs minutes
    to build; and each module whose tests are played up front by one fixture (`played`)."""
    for item in items:
        for fixture, group in (("long_channel", "long_window"), ("played", "matrix")):
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def live_channel(http, admin, server):  # noqa: ANN001, ANN201
    """A channel pushed live by ffmpeg (360p and 240p), with about 27 s of time-shift already recorded."""
    with pushed_channel(http, admin, server, "br", segments=14, timeout_s=60) as cid:
        yield cid


@pytest.fixture(scope="session")
def encrypted_channel(http, admin, server):  # noqa: ANN001, ANN201
    """An AES-128 channel pushed live by ffmpeg."""
    with pushed_channel(http, admin, server, "br-enc", segments=6, timeout_s=60, encryption="aes-128",
                        key_rotation_s=60) as cid:
        yield cid


@pytest.fixture(scope="session")
def vod_title(http, admin, tmp_path_factory) -> dict:  # noqa: ANN001
    """A published title on a mezzanine with Polish and English audio and Polish subtitles, ingested."""

    path = make_mezzanine(tmp_path_factory.mktemp("vod") / "browser.mp4", seconds=12.0)
    asset = upload(http, admin, path).json()
    labels = {"audio": [{"language": "pol", "label": "Polski (lektor)", "default": True},
                        {"language": "eng", "label": "Original"}]}
    assert http.put(f"/v1/admin/vod/assets/{asset['id']}/audio", json=labels, headers=admin).status_code == 200
    assert http.put(f"/v1/admin/vod/assets/{asset['id']}/subtitles/pol", params={"label": "Polski"},
                    content=SRT_POLISH.encode(), headers=admin).status_code == 200
    assert wait_done(http, admin, asset["id"])["state"] == "ready"
    title_id = f"br-film-{uuid.uuid4().hex[:8]}"
    _publish_title(http, admin, title_id, asset["id"], "Żółw")
    return {"id": title_id, "asset": asset["id"]}


def _publish_title(http, admin: dict, title_id: str, asset_id: str, name: str) -> None:  # noqa: ANN001
    assert http.post("/v1/admin/vod/titles", json={"id": title_id, "kind": "movie",
                                                  "texts": {"pol": {"title": name}}}, headers=admin).status_code == 201
    assert http.put(f"/v1/admin/vod/titles/{title_id}/asset", json={"asset_id": asset_id},
                    headers=admin).status_code == 200
    assert http.post(f"/v1/admin/vod/titles/{title_id}/publish", headers=admin).status_code == 200


@pytest.fixture(scope="session")
def household(http, admin, live_channel, encrypted_channel, vod_title):  # noqa: ANN001, ANN201
    """The packages the browser tests' subscribers hold, and content they may not play: a channel
    (with programmes) and a title in an add-on they lack, and another household's recording."""
    tag = uuid.uuid4().hex[:8]
    base, addon, locked = f"brbase{tag}", f"bradd{tag}", f"br-locked-{tag}"
    assert http.post("/v1/admin/channels", json=channel_body(locked), headers=admin).status_code == 201
    for body in ({"code": base, "name": "Browser base", "kind": "base", "channels": [live_channel, encrypted_channel],
                  "max_devices": 50, "max_streams": 50, "recording_hours": 10},
                 {"code": addon, "name": "Browser add-on", "kind": "addon", "channels": [locked]}):
        assert http.post("/v1/admin/packages", json=body, headers=admin).status_code == 201, body
    locked_title = f"br-locked-{tag}"
    _publish_title(http, admin, locked_title, vod_title["asset"], "Zamknięty")
    assert http.put(f"/v1/admin/vod/titles/{locked_title}/packages", json={"packages": [addon]},
                    headers=admin).status_code == 200

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    import_programmes(http, admin, locked, [(now - dt.timedelta(minutes=30), now - dt.timedelta(minutes=5), "Past", {}),
                                           (now - dt.timedelta(minutes=5), now + dt.timedelta(hours=2), "On air", {})])
    _, neighbour = new_subscriber(http, base)
    ids = programme_ids(http, neighbour, locked, now - dt.timedelta(hours=1), now + dt.timedelta(hours=1))
    rec = http.post("/v1/me/recordings", headers=neighbour, json={
        "channel_id": live_channel, "start": now.isoformat(), "end": (now + dt.timedelta(minutes=5)).isoformat()})
    assert rec.status_code == 201, rec.text
    return {"base": base, "addon": addon, "locked_channel": locked, "locked_title": locked_title,
            "locked_past": ids["Past"], "locked_on_air": ids["On air"], "neighbours_recording": rec.json()["id"]}


def new_subscriber(http, package: str) -> tuple[str, dict]:  # noqa: ANN001
    """Make a subscriber holding a package through billing; return its customer number and the API
    headers of a sign-in on a phone."""
    signer = Billing(http)
    number = f"BR{uuid.uuid4().hex[:10].upper()}"
    assert signer.send("PUT", f"/v1/billing/subscribers/{number}", {"password": PASSWORD}).status_code == 201
    assert signer.send("PUT", f"/v1/billing/subscribers/{number}/packages",
                       {"packages": [{"code": package}]}).status_code == 200
    return number, bearer(login(http, number).json())
