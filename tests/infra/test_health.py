"""The dependency monitor: what an outage costs the log, and which errors are outages."""

from __future__ import annotations

import logging

import pytest
import redis
from sqlalchemy.exc import OperationalError

from infra.cache import CacheUnavailable
from infra.db import DatabaseBusy, DatabaseUnavailable
from infra.errors import StorageUnavailable
from infra.health import REMIND_EVERY_S, Health, dependency_of
from infra.readiness import Lifecycle
from tests.support.waiting import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "smartgo.health"]


def test_an_outage_costs_a_line_when_lost_one_every_ten_seconds_and_one_when_back(caplog) -> None:  # noqa: ANN001
    clock = Clock()
    health = Health(clock)
    health.register("database", lambda: None)
    caplog.set_level(logging.WARNING, "smartgo.health")
    # 30 s of failures reported ten times a second, from requests and probes alike.
    for _ in range(300):
        health.failed("database", ConnectionRefusedError("connection refused"))
        clock.now += 0.1
    assert health.down_for_s("database") == pytest.approx(30.0, abs=0.2)
    health.ok("database", 0.003)
    told = lines(caplog)
    assert told[0].startswith("database lost: ConnectionRefusedError")
    assert [t for t in told if "still unreachable" in t] == [
        f"database still unreachable after {s} s: ConnectionRefusedError: connection refused" for s in (10, 20)]
    assert told[-1] == "database back after 30.0 s"
    assert len(told) == 4 <= 30 / REMIND_EVERY_S + 2
    assert health.snapshot()["database"]["state"] == "up"
    assert health.snapshot()["database"]["latency_ms"] == 3.0


def test_a_blink_right_after_coming_back_is_told_in_the_reminder_not_in_lines_of_its_own(caplog) -> None:  # noqa: ANN001
    clock = Clock()
    health = Health(clock)
    caplog.set_level(logging.WARNING, "smartgo.health")
    health.failed("redis", "timeout")
    clock.now += 1
    health.ok("redis")
    for _ in range(5):  # flapping: down and up every half second
        clock.now += 0.25
        health.failed("redis", "timeout")
        clock.now += 0.25
        health.ok("redis")
    assert lines(caplog) == ["redis lost: timeout", "redis back after 1.0 s"]
    clock.now += 3
    health.failed("redis", "timeout")  # lost for good this time
    clock.now += REMIND_EVERY_S
    health.failed("redis", "timeout")
    assert lines(caplog)[-1] == f"redis still unreachable after {REMIND_EVERY_S:.0f} s: timeout"


@pytest.mark.parametrize(("err", "dependency"), [
    (DatabaseUnavailable("x"), "database"),
    (OperationalError("SELECT 1", {}, Exception("server closed the connection")), "database"),
    (redis.ConnectionError("Connection refused"), "redis"),
    (redis.TimeoutError("Timeout reading from socket"), "redis"),
    (redis.ResponseError("WRONGTYPE"), None),  # a command error is a bug, not an outage
    (CacheUnavailable("x"), "redis"),
    (StorageUnavailable("x"), "storage"),
    (DatabaseBusy("x"), None),  # our own pool: a local fault
    (ValueError("x"), None),
    (KeyError("x"), None),
])
def test_which_errors_are_outages(err: Exception, dependency: str | None) -> None:
    assert dependency_of(err) == dependency


def test_an_outage_raised_from_another_error_is_found_through_its_cause() -> None:
    try:
        try:
            raise redis.ConnectionError("refused")
        except redis.ConnectionError as inner:
            raise RuntimeError("job failed") from inner
    except RuntimeError as outer:
        assert dependency_of(outer) == "redis"


def test_probe_reports_failures_and_latency() -> None:
    state = {"up": False}

    def probe() -> None:
        if not state["up"]:
            raise ConnectionRefusedError("refused")

    health = Health()
    health.register("storage", probe)
    assert health.probe("storage") is False and not health.is_up("storage")
    state["up"] = True
    assert health.probe("storage") is True and health.is_up("storage")
    assert health.snapshot()["storage"]["latency_ms"] is not None


def test_readiness_is_503_only_for_local_faults() -> None:
    health = Health()
    life = Lifecycle("api", "distributed", health)
    assert life.readiness()[0] == 503 and life.readiness()[1]["status"] == "starting"
    life.started = True
    assert life.readiness() == (200, {"status": "ready", "role": "api", "mode": "distributed", "dependencies": {}})
    health.failed("database", "connection refused")
    status, body = life.readiness()
    assert (status, body["status"], body["dependencies"]["database"]["state"]) == (200, "degraded", "down")
    life.checks["pools"] = lambda: "database_pool_exhausted"
    status, body = life.readiness()
    assert (status, body["status"], body["reasons"]) == (503, "unready", ["database_pool_exhausted"])
    life.checks.clear()
    life.drain()
    status, body = life.readiness()
    assert (status, body["status"], body["reasons"]) == (503, "draining", ["draining"])
    assert life.liveness()[0] == 200


def test_the_api_answers_liveness_and_readiness_with_each_service_state(http, rt) -> None:  # noqa: ANN001

    assert http.get("/healthz").json()["status"] == "ok"
    wait_for(lambda: set(http.get("/readyz").json()["dependencies"]) >= {"database", "storage"}, 10,
             "the probes to report")
    resp = http.get("/readyz")
    body = resp.json()
    assert (resp.status_code, body["status"], body["role"]) == (200, "ready", "api"), body
    assert all(d["state"] == "up" and d["latency_ms"] is not None for d in body["dependencies"].values()), body
    assert ("redis" in body["dependencies"]) == bool(rt.settings.redis_url)
