"""Test fixtures. The same tests run on the embedded default and on real services.

Set SMARTGO_TEST_DATABASE_URL, SMARTGO_TEST_REDIS_URL and SMARTGO_TEST_S3_ENDPOINT to run
against PostgreSQL, Redis and an S3 server; unset, everything is embedded in a temp folder.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from infra.composition.web import create_app
from infra.composition.wiring import build
from infra.db import make_engine
from infra.http_server import BackgroundServer
from infra.migrate import upgrade
from infra.runtime import Runtime, set_runtime
from infra.settings import Settings
from tests.support.channels import channel_body, stop_packaging
from tests.support.ffmpeg import TEST_PRESET, make_sample_hls
from tests.support.http import Client
from tests.support.run import ADMIN_KEY, BILLING_KEY_ID, BILLING_SECRET, REAL

# The longest modules, slowest first (--durations): xdist hands modules out in collection order,
# so these start first instead of one of them running alone at the end of a pass.
SLOW_FIRST = ("infra/test_schemathesis.py", "streaming/packager/test_packager.py", "catalog/guide/test_imports.py",
              "streaming/test_live.py", "streaming/packager/test_epoch.py",
              "entitlements/playback/test_programme_playback.py", "recorder/test_recording_playback.py",
              "entitlements/playback/test_gate.py", "streaming/packager/test_processes.py",
              "recorder/test_private_copies.py", "streaming/vod/test_bad_input.py", "catalog/guide/test_xmltv.py",
              "workers/test_worker_process.py", "browser/test_matrix.py")


# ./dev test runs these folders' tests of the embedded pass in a part of their own (--part late),
# beside the browser tests, so that the passes' stage and the browsers' take about as long
# (docs/benchmarks.md, "The whole CI run").
LATE = ("recorder/", "workers/")


def pytest_addoption(parser) -> None:  # noqa: ANN001
    parser.addoption("--part", choices=("all", "early", "late"), default="all",
                     help="run every test (all), all but the LATE folders (early), or only those (late)")


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Put the slowest modules first (a stable sort: each module's tests keep their order); keep
    the part of the suite asked for."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    tests = Path(__file__).resolve().parent
    items.sort(key=lambda item: rank.get(item.path.relative_to(tests).as_posix(), len(rank)))
    part = config.getoption("part")
    if part != "all":
        late = {item: item.path.relative_to(tests).as_posix().startswith(LATE) for item in items}
        config.hook.pytest_deselected(items=[item for item in items if late[item] != (part == "late")])
        items[:] = [item for item in items if late[item] == (part == "late")]


def pytest_report_header(config) -> str:  # noqa: ANN001
    used = [k for k, v in REAL.items() if v]
    return "smartgo services: " + (", ".join(f"{k}={REAL[k]}" for k in used) if used else "embedded")


def _reset_postgres(url: str) -> None:

    engine = make_engine(url if "+psycopg" in url else url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _slot() -> int:
    """Return this process's slot: SMARTGO_TEST_SLOT (a pass running beside another) plus the xdist worker number."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, ...; unset without xdist
    return int(os.environ.get("SMARTGO_TEST_SLOT", "0")) + int(worker.removeprefix("gw"))


def _own_database(url: str, slot: int) -> str:
    """Return the URL of this slot's database: the given one in slot 0, else ``<name>_<slot>`` beside it, created."""
    if slot == 0:
        return url

    given = make_url(url)
    name = f"{given.database}_{slot}"
    plain = given.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return given.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    """Drop a slot's own database once its session is over (FORCE: a test's process may still hold it)."""

    own = make_url(url)
    plain = make_url(REAL["database"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')


def _own_redis(url: str, slot: int) -> str:
    """Return the URL of this slot's Redis database: the given index plus the slot (keys and queues apart)."""

    parts = urlsplit(url)
    index = int(parts.path.strip("/") or 0) + slot
    if index > 15:
        raise pytest.UsageError(f"{url} with slot {slot} needs Redis database {index}; there are 16 (0-15)")
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for this run: real services where their URLs are given, embedded otherwise."""
    data = tmp_path_factory.mktemp("smartgo")
    env: dict[str, object] = {
        "data_dir": data,
        "secret_key": secrets.token_hex(16),
        "ingest_secret": secrets.token_hex(16),
        "bootstrap_admin_key": ADMIN_KEY,
        "billing_keys": f"{BILLING_KEY_ID}:{BILLING_SECRET}",
        "live_window_s": 20.0,
        # Every test logs in from 127.0.0.1: the per-address lock is tested on its own.
        "login_address_failures": 1_000_000,
        # Most tests exercise the origin alone; tests/entitlements/playback/test_gate.py turns it off.
        "open_playback": True,
        # Light VOD ladder (a 1080p ladder costs too much CPU here); rungs taller than a source are dropped.
        "vod_ladder": "360p:640x360:700,240p:426x240:300",
        "vod_segment_s": 1.92,
        # The test channels' encoders at half the CPU of the default (veryfast): many run at once.
        "live_preset": TEST_PRESET,
    }
    # Each xdist worker (and each pass run beside another) gets a database and a Redis index of its own.
    slot = _slot()
    if REAL["database"]:
        url = _own_database(REAL["database"], slot)
        _reset_postgres(url)
        env["database_url"] = url
    if REAL["redis"]:
        env["redis_url"] = _own_redis(REAL["redis"], slot)
    if REAL["s3"]:
        env.update(storage_url=f"s3://smartgo-test-{uuid.uuid4().hex[:8]}/objects",
                   s3_endpoint_url=REAL["s3"], s3_access_key_id="testing",
                   s3_secret_access_key="testing")
    yield Settings(**env)
    if REAL["database"] and slot:
        _drop_database(str(env["database_url"]))


@pytest.fixture(scope="session")
def rt(settings: Settings) -> Iterator[Runtime]:
    """The runtime under test, on a freshly migrated database."""
    upgrade(settings.database_url)
    runtime = build(settings)
    set_runtime(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def server(rt: Runtime) -> Iterator[str]:
    """The real HTTP server (API + origin) on a free loopback port; yields its base URL."""
    srv = BackgroundServer(create_app(rt, run_jobs=True)).start()
    yield f"http://127.0.0.1:{srv.port}"
    srv.stop()


@pytest.fixture(scope="session")
def http(server: str) -> Iterator[Client]:
    """A client of the running server."""
    with Client(server) as client:
        yield client


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    """Headers of the bootstrap admin key."""
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def make_channel(http: Client, admin: dict[str, str]) -> Iterator[Callable[..., dict]]:
    """Create a channel with a unique id; return its JSON plus its ingest password. Those with a
    source stop being packaged when the test is over."""
    sourced: list[str] = []

    def make(**overrides) -> dict:  # noqa: ANN003
        channel_id = overrides.pop("id", f"ch-{uuid.uuid4().hex[:10]}")
        resp = http.post("/v1/admin/channels", json=channel_body(channel_id, **overrides), headers=admin)
        assert resp.status_code == 201, resp.text
        if resp.json()["source_url"]:
            sourced.append(channel_id)
        creds = http.get(f"/v1/admin/channels/{channel_id}/ingest", headers=admin).json()
        return {**resp.json(), "password": creds["password"]}

    yield make
    stop_packaging(http, admin, sourced)


@pytest.fixture(scope="session")
def sample_hls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short real two-rendition CMAF encode on disk, to push by hand in ingest tests."""

    return make_sample_hls(tmp_path_factory.mktemp("sample") / "hls", seconds=8.0)
