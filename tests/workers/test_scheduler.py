"""The periodic scheduler: cadence, no overlap, one holder among several, a schedule kept across
restarts; the in-process runner's real periodic jobs at their cadence; the operators' view."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest

from infra.composition.jobs import job_specs
from infra.jobs import JobSpec
from infra.leases import InProcessLeases
from tests.support.waiting import wait_for
from workers import runner, scheduler
from workers.schedule_store import MemoryScheduleStore
from workers.scheduler import PeriodicScheduler, next_due, percentile

SLACK_S = 0.5  # the bound: observed p95 interval at most the configured one plus this


@pytest.mark.parametrize(("due", "started", "every", "expected"), [
    (100.0, 100.0, 0.5, 100.5),  # on time
    (100.0, 100.3, 0.5, 100.5),  # late within a period: the schedule does not shift
    (100.0, 100.5, 0.5, 100.5),  # exactly a period late: the next run is due now
    (100.0, 101.2, 0.5, 101.7),  # more than a period late (a long run): one period after the start, no burst
    (100.0, 100.0, 3600, 3700.0),
])
def test_next_due_keeps_the_cadence_without_bursts(due: float, started: float, every: float, expected: float) -> None:
    assert next_due(due, started, every) == pytest.approx(expected)


def intervals(runs: list[float]) -> list[float]:
    """Return the intervals between run starts given newest first."""
    return [a - b for a, b in zip(runs, runs[1:])]


async def until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


class Counted:
    """A test job that counts its runs, how many run at once, and takes `takes_s`."""

    def __init__(self, takes_s: float = 0.0) -> None:
        self.takes_s, self.runs, self.now, self.most = takes_s, 0, 0, 0
        self._lock = threading.Lock()

    def __call__(self, rt) -> None:  # noqa: ANN001
        with self._lock:
            self.runs += 1
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.takes_s)
        with self._lock:
            self.now -= 1


def test_two_schedulers_run_each_job_once_at_its_cadence_and_hand_over(rt) -> None:  # noqa: ANN001
    quick, slow, hourly = Counted(), Counted(takes_s=0.3), Counted()
    specs = [JobSpec("test.quick", quick, timeout_s=5, every_s=0.2),
             JobSpec("test.slow", slow, timeout_s=5, every_s=0.1),  # runs longer than its period
             JobSpec("test.hourly", hourly, timeout_s=5, every_s=3600)]
    store, leases = MemoryScheduleStore(), InProcessLeases()
    make = lambda holder: PeriodicScheduler(rt, store=store, leases=leases, holder=holder, specs=specs)  # noqa: E731

    async def run() -> None:
        first, second = make("first"), make("second")
        await first.start()
        await until(lambda: first.leading, 5, "the first scheduler to lead")
        await second.start()
        try:
            await until(lambda: quick.runs >= 12, 10, "a dozen runs of the quick job")
            assert first.leading and not second.leading  # one holder: each job runs once per period
            runs = store.records(["test.quick"])["test.quick"].runs
            assert runs == sorted(runs, reverse=True) and len(runs) == quick.runs
            assert percentile(intervals(runs), 0.95) <= 0.2 + SLACK_S
            assert len(runs) <= (runs[0] - runs[-1]) / 0.2 + 2  # once per period, not once per holder
            assert slow.most == 1 and slow.runs >= 3  # back to back, never overlapping itself
            hourly_record = store.records(["test.hourly"])["test.hourly"]
            assert hourly.runs == 1 and hourly_record.next_due == pytest.approx(hourly_record.runs[0] + 3600)

            # The holder stops: the other takes over at its next renewal and keeps the schedule
            # (the hourly job is not run again at the hand-over).
            before, stopped_at = quick.runs, time.time()
            stopped = time.monotonic()
            await first.stop(wait_s=5)
            await until(lambda: second.leading, 2 * scheduler.KEEP_EVERY_S + 0.5, "the second scheduler to lead")
            assert time.monotonic() - stopped < 2 * scheduler.KEEP_EVERY_S + 0.5
            await until(lambda: quick.runs >= before + 6, 10, "the quick job under the new holder")
            assert hourly.runs == 1 and slow.most == 1
            runs = store.records(["test.quick"])["test.quick"].runs
            taken_over = [t for t in runs if t > stopped_at]
            assert taken_over[-1] - max(t for t in runs if t <= stopped_at) < 2 * scheduler.KEEP_EVERY_S + 0.2
            assert percentile(intervals(taken_over), 0.95) <= 0.2 + SLACK_S
        finally:
            await first.stop()
            await second.stop(wait_s=5)

    asyncio.run(run())


def test_a_run_still_going_elsewhere_is_not_overlapped(rt) -> None:  # noqa: ANN001
    """The scheduler moves while a run goes on: the new holder waits for that run's lease."""
    slow = Counted(takes_s=1.0)
    spec = JobSpec("test.long_pass", slow, timeout_s=10, every_s=0.2)
    store, leases = MemoryScheduleStore(), InProcessLeases()

    async def run() -> None:
        first = PeriodicScheduler(rt, store=store, leases=leases, holder="first", specs=[spec])
        second = PeriodicScheduler(rt, store=store, leases=leases, holder="second", specs=[spec])
        await first.start()
        await until(lambda: slow.now == 1, 5, "the first run to start")
        await first.stop()  # gives the scheduler up at once, but its run goes on
        await second.start()
        try:
            await until(lambda: slow.runs >= 2, 10, "the second holder's run")
            assert slow.most == 1
        finally:
            await second.stop(wait_s=5)

    asyncio.run(run())


def test_the_in_process_runner_runs_every_periodic_job_at_its_cadence(rt, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt, "jobs", rt.jobs)  # the test server's runner has its own; put it back after
    short = {name: spec.every_s for name, spec in job_specs().items() if spec.every_s and spec.every_s <= 2}
    long = {name: spec.every_s for name, spec in job_specs().items() if spec.every_s and spec.every_s > 2}
    assert short and long

    async def run() -> dict:
        jobs = runner.InProcessJobRunner(rt)
        await jobs.start()
        try:
            records = lambda: jobs.scheduler.store.records(list(short) + list(long))  # noqa: E731
            await until(lambda: all(len(r.runs) >= 3 for n, r in records().items() if n in short), 20,
                        "three runs of every job due every 2 s or less")
            return records()
        finally:
            await jobs.stop()

    records = asyncio.run(run())
    for name, every in short.items():
        assert percentile(intervals(records[name].runs), 0.95) <= every + SLACK_S, (name, records[name].runs)
    for name, every in long.items():  # run once at start, then due a whole period later
        record = records[name]
        assert len(record.runs) == 1, name
        assert record.next_due == pytest.approx(record.runs[0] + every, abs=0.01), name


def test_operators_see_each_periodic_job(http, admin) -> None:  # noqa: ANN001

    def sweep_ran() -> dict | None:
        body = http.get("/v1/admin/jobs", headers=admin).json()
        jobs = {j["name"]: j for j in body["jobs"]}
        return body if len(jobs["streaming.sweep_ingest"]["last_runs"]) >= 3 else None

    body = wait_for(sweep_ran, 20, "the sweep to run three times")
    jobs = {j["name"]: j for j in body["jobs"]}
    assert set(jobs) == {name for name, spec in job_specs().items() if spec.every_s}
    sweep = jobs["streaming.sweep_ingest"]
    assert sweep["every_s"] == 0.5 and sweep["interval_p95_s"] <= 0.5 + SLACK_S
    assert sweep["next_due"] is not None and sweep["last_error"] is None
    purge = jobs["streaming.purge_archive"]  # every 10 minutes, not every minute
    at = lambda iso: dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()  # noqa: E731
    assert at(purge["next_due"]) - at(purge["last_runs"][0]) == pytest.approx(600, abs=1)
    assert purge["due_in_s"] <= 600
    assert body["scheduler"]
    assert http.get("/v1/admin/jobs").status_code == 401
