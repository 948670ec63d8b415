"""`smartgo worker` processes: periodic jobs at their cadence with two workers and across
restarts, riding out a Redis killed (and restarted empty) or frozen, and draining on SIGTERM."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import signal
import time

import pytest
import redis

from catalog.channels.models import Channel
from entitlements.accounts.models import Subscriber
from infra.db import Database, new_id
from infra.migrate import upgrade
from recorder.models import Recording
from tests.support.processes import smartgo_env
from tests.support.run import REAL
from tests.support.services import OwnRedis
from tests.support.waiting import wait_for
from tests.support.workers import PERIODIC, WorkerProcess, isolated_env, runs_since
from workers.schedule_store import RedisScheduleStore
from workers.scheduler import RUN_LEASE, SCHEDULER_LEASE, percentile
from workers.worker import arq_pool

SLACK_S = 0.5  # the bound: observed p95 interval at most the configured one plus this
LATE_S = 2.0  # how late a run may start on a loaded machine (seen: 1.07 s in CI with four lanes)
SHORT = {name: every for name, every in PERIODIC.items() if every <= 2}
LONGER = {name: every for name, every in PERIODIC.items() if every > 2}
SWEEP, RECONCILE = "streaming.sweep_ingest", "recorder.reconcile_recordings"
LEASES = "smartgo:lease:"
needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None,
                                        reason="needs redis-server to start a Redis of the test's own")


def intervals(runs: list[float]) -> list[float]:
    """Return the intervals between run starts given oldest first."""
    return [b - a for a, b in zip(runs, runs[1:])]


def scheduler_pid(url: str) -> int | None:
    """Return the process id of the worker holding the scheduler lease."""
    holder = redis.Redis.from_url(url, socket_timeout=1).get(LEASES + SCHEDULER_LEASE)
    return int(holder.decode().rsplit("-", 2)[1]) if holder else None


def check_short_jobs(store: RedisScheduleStore, since: float) -> None:
    """Every job due every 2 s or less ran at its interval since then, and once per interval
    (not once per worker)."""
    for name, every in SHORT.items():
        runs = runs_since(store, name, since)
        gaps = intervals(runs)
        assert percentile(gaps, 0.95) <= every + SLACK_S, (name, gaps)
        assert len(gaps) <= (runs[-1] - runs[0]) / every + 1, (name, gaps)


def check_longer_jobs(store: RedisScheduleStore) -> None:
    """Every longer job ran on its computed schedule: a period between runs, the next one due a
    period after the last was due. A run may start a little late on a busy machine (LATE_S); the
    schedule does not move for it (workers.scheduler.next_due)."""
    records = store.records(list(LONGER))
    for name, every in LONGER.items():
        runs = sorted(records[name].runs)
        assert runs and all(gap >= every - LATE_S for gap in intervals(runs)), (name, runs)
        assert runs[-1] + every - LATE_S <= records[name].next_due <= runs[-1] + every + 0.01, (name, runs)


@pytest.mark.skipif(not REAL["redis"], reason="worker processes share their schedule through Redis "
                    "(the embedded mode's scheduler is tested in test_scheduler.py)")
def test_periodic_jobs_keep_their_cadence_on_two_workers_and_across_restarts(rt, settings, tmp_path) -> None:  # noqa: ANN001
    store = RedisScheduleStore(settings.redis_url)
    store.forget(list(PERIODIC))  # a schedule of this test's own
    redis.Redis.from_url(settings.redis_url).delete(LEASES + SCHEDULER_LEASE,
                                                   *[LEASES + RUN_LEASE + name for name in PERIODIC])
    env = smartgo_env(settings, SMARTGO_LOG_LEVEL="INFO")
    began = time.time()
    workers = [WorkerProcess(env, tmp_path / "first.log").start(), WorkerProcess(env, tmp_path / "second.log").start()]
    try:
        enough = lambda since, n: all(len(runs_since(store, name, since)) >= n for name in SHORT)  # noqa: E731
        # Measured once start-up is over (both processes up, every job's first run done).
        wait_for(lambda: all(runs_since(store, name, began) for name in PERIODIC), 20, "every job's first run")
        settled = time.time()
        wait_for(lambda: enough(settled, 6), 40, "six runs of every job due every 2 s or less")
        check_short_jobs(store, settled)
        check_longer_jobs(store)
        first_runs = {name: sorted(store.records([name])[name].runs) for name in LONGER}
        assert all(len(runs) == 1 for runs in first_runs.values()), first_runs  # at start, then on schedule

        # The scheduler's holder drains: the other worker takes over and keeps the schedule.
        holder = next(w for w in workers if w.proc.pid == scheduler_pid(settings.redis_url))
        other = next(w for w in workers if w is not holder)
        assert holder.terminate() == 0
        handed = time.time()
        wait_for(lambda: scheduler_pid(settings.redis_url) == other.proc.pid, 5, "the other worker to take over")
        wait_for(lambda: enough(handed, 3), 20, "the periodic jobs under the new holder")
        assert other.terminate() == 0

        # A worker started afresh reads the schedule from Redis: the hourly and 10-minute jobs
        # are not run again at its start.
        workers.append(WorkerProcess(env, tmp_path / "third.log").start())
        restarted = time.time()
        wait_for(lambda: enough(restarted, 4), 20, "the periodic jobs on the restarted worker")
        check_short_jobs(store, restarted)
        check_longer_jobs(store)
        for name, every in LONGER.items():
            if every >= 600:
                assert sorted(store.records([name])[name].runs) == first_runs[name], name
    finally:
        for worker in workers:
            worker.kill()


def _recording_due_for_finishing(db: Database, recording_id: str) -> None:

    now = dt.datetime.now(dt.UTC)
    channel_id, subscriber_id = f"ch-{new_id()[:8]}", new_id()
    with db.session() as s:
        s.add(Channel(id=channel_id, name="Worker test", segment_duration_ms=1920, target_duration_s=2,
                      timeshift_window_s=60, segment_sets=["cmaf"]))
        s.add(Subscriber(id=subscriber_id, customer_number=f"w-{subscriber_id[:10]}"))
        s.flush()
        s.add(Recording(id=recording_id, subscriber_id=subscriber_id, channel_id=channel_id, title="Ended",
                        start_at=now - dt.timedelta(minutes=10), end_at=now - dt.timedelta(minutes=5)))


def _recording_state(db: Database, recording_id: str) -> str:

    with db.session(write=False) as s:
        return s.get(Recording, recording_id).state


async def _enqueue(url: str, name: str, job_id: str, defer_s: float | None = None, **kwargs: object) -> None:
    pool = arq_pool(url)
    try:
        assert await pool.enqueue_job(name, _job_id=job_id, _defer_by=defer_s, **kwargs) is not None
    finally:
        await pool.aclose(close_connection_pool=True)


def _outage(worker: WorkerProcess, start_outage, end_outage) -> tuple[list[str], float]:  # noqa: ANN001
    """Run an outage until the worker has logged its 10 s reminder; return what it logged meanwhile
    and how long the outage lasted."""
    before = len(worker.log_lines())
    start_outage()
    began = time.monotonic()
    wait_for(lambda: any("redis still unreachable" in line for line in worker.log_lines()[before:]), 30,
               "the worker's reminder that Redis is still away")
    end_outage()
    return worker.log_lines()[before:], time.monotonic() - began


def _quiet(lines: list[str], seconds: float) -> None:
    """At most a line a second, and no traceback: the loss, a reminder, a few state changes."""
    assert len(lines) <= seconds, lines
    assert not any("Traceback" in line for line in lines), lines


@pytest.mark.faults  # once, in the fault pass: it kills and freezes a Redis of its own
@needs_redis_server
def test_a_worker_rides_out_its_redis_killed_and_frozen(settings, tmp_path) -> None:  # noqa: ANN001
    own = OwnRedis().start()
    env = isolated_env(smartgo_env(settings), tmp_path, own.url)
    upgrade(env["SMARTGO_DATABASE_URL"])
    db = Database(env["SMARTGO_DATABASE_URL"])
    store = RedisScheduleStore(own.url, timeout_s=1)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.start()
        wait_for(lambda: runs_since(store, SWEEP, 0), 10, "the first sweep")
        # A recording due for finishing whose finishing job waits in the queue, deferred an hour:
        # every reconcile pass finds its job id taken, so only the queue being lost frees it.
        recording_id = new_id()
        asyncio.run(_enqueue(own.url, "recorder.finalize_recording", f"recorder.finalize:{recording_id}",
                             defer_s=3600, recording_id=recording_id))
        created = time.time()
        _recording_due_for_finishing(db, recording_id)
        wait_for(lambda: len(runs_since(store, RECONCILE, created)) >= 2, 15, "two reconcile passes")
        assert _recording_state(db, recording_id) in ("scheduled", "recording")

        # Killed, and back empty: the worker reconnects, and the reconcile pass queues the lost job again.
        lines, lasted = _outage(worker, own.kill, own.start)
        back = time.time()
        _quiet(lines, lasted)
        wait_for(lambda: runs_since(store, SWEEP, back), 5, "the sweep again within seconds of Redis's return")
        wait_for(lambda: _recording_state(db, recording_id) not in ("scheduled", "recording"), 20,
                   "the lost finishing job queued again and run")

        # Frozen (connections open, nothing answers), then thawed.
        lines, lasted = _outage(worker, own.freeze, own.thaw)
        thawed = time.time()
        _quiet(lines, lasted)
        wait_for(lambda: runs_since(store, SWEEP, thawed), 5, "the sweep again within seconds of the thaw")
        wait_for(lambda: all(len(runs_since(store, name, thawed)) >= 3 for name in SHORT), 20,
                   "the short periodic jobs after the thaw")
        for name, every in SHORT.items():
            assert percentile(intervals(runs_since(store, name, thawed)), 0.95) <= every + SLACK_S, name
        assert worker.proc.poll() is None
        assert worker.terminate() == 0
    finally:
        worker.kill()
        own.stop()
        db.dispose()


@needs_redis_server
def test_sigterm_drains_a_worker_and_another_takes_over(settings, tmp_path) -> None:  # noqa: ANN001
    own = OwnRedis().start()
    env = isolated_env(smartgo_env(settings), tmp_path, own.url)
    upgrade(env["SMARTGO_DATABASE_URL"])
    start = lambda name: WorkerProcess(env, tmp_path / f"{name}.log", module="tests.support.holding_worker")  # noqa: E731
    first, second = start("first"), start("second")
    marker = lambda name: tmp_path / name  # noqa: E731
    try:
        first.start()
        wait_for(lambda: scheduler_pid(own.url) == first.proc.pid, 10, "the first worker to schedule")
        asyncio.run(_enqueue(own.url, "test.hold", "hold-1", marker=str(marker("one"))))
        started = wait_for(lambda: marker("one.started").exists() and marker("one.started").read_text(), 20,
                             "the long job to start")
        assert int(started) == first.proc.pid
        second.start()

        first.proc.send_signal(signal.SIGTERM)
        status, body = wait_for(lambda: (r := first.readiness())[0] == 503 and r, 10, "readiness to say draining")
        assert body["status"] == "draining" and "draining" in body["reasons"]
        wait_for(lambda: scheduler_pid(own.url) == second.proc.pid, 5, "the other worker to take the scheduler")
        # A job queued now runs on the other worker: the draining one takes none.
        asyncio.run(_enqueue(own.url, "test.hold", "hold-2", marker=str(marker("two"))))
        assert int(wait_for(lambda: marker("two.started").exists() and marker("two.started").read_text(), 20,
                              "the new job to start")) == second.proc.pid
        assert first.proc.poll() is None and not marker("one.done").exists()  # still finishing its job

        marker("one.release").touch()
        assert first.proc.wait(20) == 0
        assert int(marker("one.done").read_text()) == first.proc.pid  # it finished, not put back
        # A second signal does not wait for the job.
        second.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: second.readiness()[0] == 503, 10, "the other worker draining")
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(10) == 1 and not marker("two.done").exists()
    finally:
        first.kill()
        second.kill()
        own.stop()
