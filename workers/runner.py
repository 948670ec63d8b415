"""Run jobs: in-process in the embedded mode, on arq (Redis) workers in the distributed one.

arq was picked over saq, dramatiq and rq: it is asyncio-native like the API, keeps a
job id unique so enqueueing twice is harmless, retries with back-off and has cron jobs,
in a small codebase we can read end to end.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from infra.runtime import Runtime
from workers.jobs import JOBS, JobSpec

log = logging.getLogger(__name__)
QUEUED_JOBS_AT_ONCE = 4


def backoff_s(attempt: int) -> float:
    """Return how long to wait before retry number attempt: doubling from 2 s, at most a minute, jittered."""
    return min(60.0, 2.0 ** attempt) * (0.5 + random.random())


class JobQueue:
    """Queue jobs from a job's worker thread onto the runner's event loop (in-process or arq).

    A job id already queued or running is not queued again, so a periodic reconcile can queue
    the same work on every pass and it still runs once.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, enqueue: Callable[..., Awaitable[bool]]) -> None:
        self.loop = loop
        self._enqueue = enqueue
        self._tasks: set[asyncio.Task] = set()

    def enqueue(self, name: str, *, job_id: str, **kwargs: Any) -> bool:
        """Queue a registered job by name; tell whether it was queued (False: it already was)."""
        if name not in JOBS:
            raise KeyError(f"no job {name!r}")
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # called from the loop itself: waiting for the result would block it
            task = self.loop.create_task(self._enqueue(name, job_id=job_id, **kwargs))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return True
        return asyncio.run_coroutine_threadsafe(self._enqueue(name, job_id=job_id, **kwargs), self.loop).result(10)


class InProcessJobRunner:
    """Embedded-mode runner: periodic jobs and queued jobs as asyncio tasks in this process."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._tasks: list[asyncio.Task] = []
        self._queued: set[str] = set()
        # Queued jobs share the API's thread pool: a few at a time, so a burst of them (a hundred
        # private copies after a popular programme) never starves requests.
        self._slots = asyncio.Semaphore(QUEUED_JOBS_AT_ONCE)

    async def start(self) -> None:
        """Start one loop per periodic job."""
        self.rt.jobs = JobQueue(asyncio.get_running_loop(), self.enqueue)
        for spec in JOBS.values():
            if spec.every_s:
                self._tasks.append(asyncio.create_task(self._every(spec), name=spec.name))

    async def stop(self) -> None:
        """Cancel every loop and wait for it."""
        if self.rt.jobs is not None and self.rt.jobs.loop is asyncio.get_running_loop():
            self.rt.jobs = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def enqueue(self, name: str, *, job_id: str, **kwargs: Any) -> bool:
        """Run a job soon; a job id already queued or running is not queued again."""
        if job_id in self._queued:
            return False
        self._queued.add(job_id)
        task = asyncio.create_task(self._run_with_retries(JOBS[name], kwargs, job_id))
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)
        return True

    async def _every(self, spec: JobSpec) -> None:
        while True:
            await asyncio.sleep(spec.every_s or 1.0)
            await self._run_once(spec, {})

    async def _run_with_retries(self, spec: JobSpec, kwargs: dict, job_id: str) -> None:
        try:
            for attempt in range(1, spec.max_tries + 1):
                async with self._slots:
                    succeeded = await self._run_once(spec, kwargs)
                if succeeded:
                    return
                if attempt < spec.max_tries:
                    await asyncio.sleep(backoff_s(attempt))
        finally:
            self._queued.discard(job_id)

    async def _run_once(self, spec: JobSpec, kwargs: dict) -> bool:
        try:
            await asyncio.wait_for(run_in_threadpool(spec.func, self.rt, **kwargs), spec.timeout_s)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s failed", spec.name)
            return False


def make_job_runner(rt: Runtime) -> InProcessJobRunner:
    """Return the runner the API process uses in the embedded mode."""
    return InProcessJobRunner(rt)


def arq_worker_settings(rt: Runtime) -> type:
    """Build arq WorkerSettings running every registered job against this runtime."""
    from arq import cron, func
    from arq.connections import RedisSettings
    from arq.worker import Retry

    def wrap(spec: JobSpec):  # noqa: ANN202
        async def job(ctx: dict, **kwargs: Any) -> Any:
            try:
                return await run_in_threadpool(spec.func, ctx["rt"], **kwargs)
            except Exception as err:
                # arq retries only what asks to be retried: every failure does, with back-off.
                if ctx.get("job_try", 1) < spec.max_tries:
                    log.warning("job %s failed (try %s), retrying: %s", spec.name, ctx.get("job_try"), err)
                    raise Retry(defer=backoff_s(ctx.get("job_try", 1))) from err
                raise

        job.__name__ = spec.name.replace(".", "_")
        job.__qualname__ = spec.name
        return job

    functions = {name: wrap(spec) for name, spec in JOBS.items()}
    crons = []
    for name, spec in JOBS.items():
        if spec.every_s:
            # arq cron fires at most once a second.
            step = max(1, int(spec.every_s))
            # A fixed job id (and no result kept): a run still going blocks the next tick on every
            # worker, so a slow pass never overlaps itself.
            crons.append(cron(functions[name], name=name, second=set(range(0, 60, step)), job_id=name,
                              keep_result=0, timeout=spec.timeout_s, run_at_startup=False))

    async def on_startup(ctx: dict) -> None:
        ctx["rt"] = rt

        async def enqueue(name: str, *, job_id: str, **kwargs: Any) -> bool:
            return await ctx["redis"].enqueue_job(name, _job_id=job_id, **kwargs) is not None

        rt.jobs = JobQueue(asyncio.get_running_loop(), enqueue)

    class WorkerSettings:
        redis_settings = RedisSettings.from_dsn(rt.settings.redis_url)
        # No result kept: arq refuses a job id while its result exists, and the reconcile passes
        # must be able to queue the same id again as soon as a run has ended (or given up).
        functions_ = [func(f, name=name, max_tries=JOBS[name].max_tries, timeout=JOBS[name].timeout_s,
                           keep_result=0) for name, f in functions.items()]
        cron_jobs = crons
        max_tries = 5
        job_timeout = 300
        handle_signals = True

    WorkerSettings.functions = WorkerSettings.functions_  # type: ignore[attr-defined]
    WorkerSettings.on_startup = staticmethod(on_startup)  # type: ignore[attr-defined]
    return WorkerSettings
