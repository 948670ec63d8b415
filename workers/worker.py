"""The ``smartgo worker`` process: queued jobs from arq, periodic jobs from the scheduler.

It never exits because a dependency blinked or froze. arq's ``run_worker`` returns (raises)
at the first lost Redis connection, so the process runs arq's `Worker` itself through
`SteadyWorker`, whose poll loop outlives Redis: a failed poll is reported to the health
monitor and tried again with back-off (at most `RECONNECT_MAX_S` apart), and its Redis
connections have connect and read timeouts, so a frozen Redis (SIGSTOP) costs a timeout, not a
hang. A queued job's in-progress mark lasts `IN_PROGRESS_S` and is renewed while the job runs,
so the jobs of a killed worker run again within a minute (arq's own mark lasts the longest
job timeout: six hours).

SIGTERM (or SIGINT) drains: /readyz turns 503 ``draining``, no new job is taken and no periodic
run started, the scheduler lease is given back (another worker takes it within a second), the
jobs running are let finish for up to the drain timeout, then the process exits 0; whatever
still runs then is put back on the queue (queued jobs) or left to the next holder's schedule
(periodic ones). A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.worker import Function, Retry, Worker, func
from redis.asyncio import ConnectionPool

from infra.jobs import JobSpec
from infra.readiness import Lifecycle, serve_probes
from infra.runtime import Runtime
from workers.runner import JobQueue, run_queued
from workers.schedule_store import RedisScheduleStore
from workers.scheduler import FailureLog, PeriodicScheduler

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 2.0  # connect and read timeout of every Redis call the worker makes
RECONNECT_MAX_S = 2.0  # polls of an unreachable Redis back off up to this
IN_PROGRESS_S = 60.0  # a running job's in-progress mark; renewed every third of it
MAX_JOBS = 10  # queued jobs run at once
DRAIN_TIMEOUT_S = 60.0  # the default bound on the jobs a draining worker waits for
# arq's own deadline is a backstop only: run_try enforces each job's timeout and says so.
ARQ_TIMEOUT_MARGIN_S = 60.0


def arq_pool(url: str) -> ArqRedis:
    """Return arq's Redis client with connect and read timeouts (arq's own pool has no read timeout)."""
    return ArqRedis(ConnectionPool.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                            socket_connect_timeout=REDIS_TIMEOUT_S))


def arq_functions(rt: Runtime) -> list[Function]:
    """Return every job of the runtime's registry as an arq function running against it."""

    def wrap(spec: JobSpec):  # noqa: ANN202
        async def job(ctx: dict, **kwargs: Any) -> None:
            # arq retries only what raises Retry: every failure does, with back-off, until max_tries.
            wait = await run_queued(rt, spec, kwargs, ctx.get("job_try", 1))
            if wait is not None:
                raise Retry(defer=wait)

        job.__qualname__ = spec.name
        return job

    # No result kept: arq refuses a job id while its result exists, and the reconcile passes
    # must be able to queue the same id again as soon as a run has ended (or given up).
    return [func(wrap(spec), name=name, max_tries=spec.max_tries, keep_result=0,
                 timeout=spec.timeout_s + ARQ_TIMEOUT_MARGIN_S) for name, spec in rt.job_specs.items()]


def _pause_after(failures: int) -> float:
    return min(RECONNECT_MAX_S, 0.25 * 2 ** failures)


class SteadyWorker(Worker):
    """arq's worker with a poll loop that rides out Redis outages instead of ending with them."""

    def __init__(self, rt: Runtime, pool: ArqRedis, functions: list[Function]) -> None:
        super().__init__(functions=functions, redis_pool=pool, handle_signals=False, max_jobs=MAX_JOBS,
                         keep_result=0, poll_delay=0.5, health_check_interval=60, log_results=False)
        self.rt = rt
        self.in_progress_timeout_s = IN_PROGRESS_S
        self.closing = False  # set once the drain is over: nothing waits for Redis any more
        self._marked_at = 0.0
        self._failures = FailureLog(log)

    async def main(self) -> None:
        """Poll the queue until cancelled; a poll that fails is tried again with back-off."""
        self.ctx["redis"] = self.pool
        failures = 0
        while True:
            try:
                await self._poll_iteration()
                await self._renew_in_progress()
                failures, pause = 0, self.poll_delay_s
            except Exception as err:
                failures += 1
                pause = _pause_after(failures)
                if not self.rt.health.absorb(err):
                    self._failures.exception("poll", str(err), "polling the job queue failed")
            await asyncio.sleep(pause)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Start jobs as arq does, without leaking a job slot when Redis fails half-way."""
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except Exception:
                # arq counted the job (and took a slot) before asking Redis; no task was made.
                self.job_counter -= 1
                self.sem.release()
                raise

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        """Record a job's end, waiting for Redis if it is away (or the job would run again)."""
        await self._until_redis_answers(super().finish_job, *args, **kwargs)

    async def finish_failed_job(self, *args: Any, **kwargs: Any) -> None:
        await self._until_redis_answers(super().finish_failed_job, *args, **kwargs)

    async def _until_redis_answers(self, call, *args: Any, **kwargs: Any) -> None:  # noqa: ANN001
        failures = 0
        while True:
            try:
                return await call(*args, **kwargs)
            except Exception as err:
                if self.closing or not self.rt.health.absorb(err):
                    raise
                failures += 1
                await asyncio.sleep(_pause_after(failures))

    async def _renew_in_progress(self) -> None:
        now = self.loop.time()
        if not self.tasks or now - self._marked_at < IN_PROGRESS_S / 3:
            return
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in self.tasks:
                pipe.pexpire(in_progress_key_prefix + job_id, int(IN_PROGRESS_S * 1000))
            await pipe.execute()
        self._marked_at = now

    def running(self) -> list[asyncio.Task]:
        """Return the job tasks not finished yet."""
        return [t for t in self.tasks.values() if not t.done()]


def node_id() -> str:
    """Return this worker's name in leases: host, process id and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def serve_worker(rt: Runtime, *, health_port: int = 0, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
    """Run queued and periodic jobs until SIGTERM or SIGINT, then drain; tell whether every job
    running then finished within drain_timeout_s."""
    loop = asyncio.get_running_loop()
    lifecycle = rt.lifecycle = Lifecycle("worker", rt.settings.mode, rt.health)
    probes = loop.create_task(rt.health.run(), name="health-probes")
    server = await serve_probes(lifecycle, rt.settings.host, health_port) if health_port else None
    stop = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        if lifecycle.draining:
            log.warning("%s again: exiting now", signum.name)
            logging.shutdown()
            os._exit(1)
        log.info("%s: draining (jobs running are given %g s to finish)", signum.name, drain_timeout_s)
        lifecycle.drain()
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)

    pool = arq_pool(rt.settings.redis_url)
    worker = SteadyWorker(rt, pool, arq_functions(rt))

    async def enqueue(name: str, *, job_id: str, **kwargs: Any) -> bool:
        return await pool.enqueue_job(name, _job_id=job_id, **kwargs) is not None

    rt.jobs = JobQueue(loop, enqueue, rt.job_specs)
    holder = node_id()
    scheduler = PeriodicScheduler(rt, store=RedisScheduleStore(rt.settings.redis_url, REDIS_TIMEOUT_S),
                                  leases=rt.leases, holder=holder, specs=rt.job_specs.values())
    consuming = loop.create_task(worker.main(), name="job-queue")
    await scheduler.start()
    lifecycle.started = True
    log.info("worker %s taking jobs (%d kinds, %d periodic)", holder, len(rt.job_specs), len(scheduler.specs))
    try:
        await stop.wait()
        worker.allow_pick_jobs = False
        deadline = loop.time() + drain_timeout_s

        async def queued_jobs_done() -> None:
            while (running := worker.running()) and loop.time() < deadline:
                await asyncio.wait(running, timeout=deadline - loop.time())

        await asyncio.gather(scheduler.stop(wait_s=drain_timeout_s), queued_jobs_done())
        left = [job_id for job_id, t in worker.tasks.items() if not t.done()] + scheduler.running()
        if left:
            log.warning("drain: still running after %g s: %s (queued jobs go back on the queue)",
                        drain_timeout_s, ", ".join(left))
        return not left
    finally:
        worker.closing = True
        for task in worker.running():
            task.cancel()  # arq puts a cancelled job back on the queue for another worker
        if worker.tasks:
            await asyncio.wait(list(worker.tasks.values()), timeout=REDIS_TIMEOUT_S * 2)
        consuming.cancel()
        probes.cancel()
        await asyncio.gather(consuming, probes, return_exceptions=True)
        if server is not None:
            server.close()
        rt.jobs = None
        try:
            await pool.aclose(close_connection_pool=True)
        except Exception as err:  # noqa: BLE001 - closing a pool to a Redis that is away
            rt.health.absorb(err)
        log.info("worker %s stopped", holder)
