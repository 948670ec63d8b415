"""Job runners: retries with back-off, job ids queued once, jobs that queue jobs; in-process and on arq."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid

import pytest
from arq.worker import Worker

from infra.errors import StorageUnavailable
from infra.health import Health
from infra.jobs import JobSpec
from tests.support.run import REAL
from workers import runner, worker


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 1.0, 3.0), (2, 2.0, 6.0), (3, 4.0, 12.0), (9, 30.0, 90.0)])
def test_back_off_doubles_is_jittered_and_capped(attempt: int, low: float, high: float) -> None:
    waits = [runner.backoff_s(attempt) for _ in range(200)]
    assert low <= min(waits) and max(waits) <= high and len(set(waits)) > 1


@pytest.fixture
def flaky(monkeypatch, rt):  # noqa: ANN001, ANN201
    """Register a job that fails twice, then succeeds, and one that queues it twice under one id."""
    calls: list[int] = []
    queued: list[bool] = []
    done = threading.Event()

    def flaky_job(rt, n: int) -> int:  # noqa: ANN001
        calls.append(n)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        done.set()
        return n

    def fan_out(rt, flaky_id: str) -> None:  # noqa: ANN001
        queued.extend(rt.jobs.enqueue("test.flaky", job_id=flaky_id, n=7) for _ in range(2))

    monkeypatch.setitem(rt.job_specs, "test.flaky", JobSpec("test.flaky", flaky_job, timeout_s=10, max_tries=5))
    monkeypatch.setitem(rt.job_specs, "test.fan_out", JobSpec("test.fan_out", fan_out, timeout_s=10, max_tries=1))
    monkeypatch.setattr(runner, "backoff_s", lambda attempt: 0.05 * attempt)
    return calls, queued, done


def test_in_process_a_failing_job_is_retried_and_a_job_id_queued_once(rt, flaky, monkeypatch) -> None:  # noqa: ANN001
    calls, queued, done = flaky
    monkeypatch.setattr(rt, "jobs", rt.jobs)  # the test server's runner has its own; put it back after

    async def run() -> None:
        jobs = runner.InProcessJobRunner(rt)
        await jobs.start()
        try:
            # A job queues another from its worker thread, as the reconcile pass does.
            assert await jobs.enqueue("test.fan_out", job_id=f"fan-{uuid.uuid4().hex}",
                                      flaky_id=f"flaky-{uuid.uuid4().hex}")
            for _ in range(200):
                if done.is_set():
                    break
                await asyncio.sleep(0.05)
        finally:
            await jobs.stop()

    asyncio.run(run())
    assert queued == [True, False]
    assert calls == [7, 7, 7]  # two failures, then done: three tries of one queued job
    assert rt.jobs is None  # a stopped runner takes its queue with it


@pytest.mark.skipif(not REAL["redis"], reason="arq runs on Redis (the embedded mode runs jobs in-process)")
def test_on_arq_a_failing_job_is_retried_and_a_job_id_queued_once(rt, flaky, monkeypatch) -> None:  # noqa: ANN001


    calls, queued, done = flaky
    monkeypatch.setattr(rt, "jobs", rt.jobs)
    queue = f"test:queue:{uuid.uuid4().hex}"  # a queue of this test's own: no other worker takes from it
    ran_id = f"flaky-{uuid.uuid4().hex}"

    async def run() -> None:
        pool = worker.arq_pool(rt.settings.redis_url)
        pool.default_queue_name = queue

        async def enqueue(name: str, *, job_id: str, **kwargs) -> bool:  # noqa: ANN003
            return await pool.enqueue_job(name, _job_id=job_id, **kwargs) is not None

        rt.jobs = runner.JobQueue(asyncio.get_running_loop(), enqueue, rt.job_specs)
        try:
            assert await pool.enqueue_job("test.fan_out", _job_id=f"fan-{uuid.uuid4().hex}",
                                          flaky_id=ran_id) is not None
            arq = Worker(functions=worker.arq_functions(rt), queue_name=queue, redis_pool=pool, burst=True,
                         handle_signals=False, poll_delay=0.05, keep_result=0)
            await asyncio.wait_for(arq.main(), 60)
            # No result is kept: the id that just ran can be queued again at once (a reconcile pass).
            assert await pool.enqueue_job("test.flaky", _job_id=ran_id, n=8) is not None
            await pool.delete(queue, f"arq:job:{ran_id}")
        finally:
            await pool.aclose(close_connection_pool=True)

    asyncio.run(run())
    assert queued == [True, False]
    assert calls == [7, 7, 7] and done.is_set()


def test_an_outage_is_waited_out_within_a_try_and_told_once(rt, monkeypatch, caplog) -> None:  # noqa: ANN001
    """A job failing because storage is down is tried again with back-off without spending its
    tries (it has one), and the outage is one line of the health monitor, no traceback."""

    calls: list[float] = []

    def needs_storage(rt) -> str:  # noqa: ANN001
        calls.append(time.monotonic())
        if len(calls) < 4:
            raise StorageUnavailable("storage unavailable")
        return "stored"

    spec = JobSpec("test.needs_storage", needs_storage, timeout_s=10, max_tries=1)
    monkeypatch.setattr(rt, "health", Health())  # an outage of this test's own
    monkeypatch.setattr(runner, "backoff_s", lambda attempt: 0.05 * attempt)
    caplog.set_level(logging.INFO)
    assert asyncio.run(runner.run_queued(rt, spec, {}, attempt=1)) is None  # done, within its one try
    assert len(calls) == 4 and calls[-1] - calls[0] >= 0.05 + 0.1 + 0.15  # backed off between tries
    lines = [r for r in caplog.records if r.name.startswith(("workers", "smartgo"))]
    assert [r.getMessage() for r in lines] == ["storage lost: StorageUnavailable: storage unavailable"]
    assert not any(r.exc_info for r in lines)
