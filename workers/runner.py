"""Run jobs: in-process in the embedded mode, on arq (Redis) workers in the distributed one.

arq was picked over saq, dramatiq and rq: it is asyncio-native like the API, keeps a job id
unique so enqueueing twice is harmless and retries with back-off, in a small codebase we can
read end to end. Queued jobs run on it; periodic jobs run on our own scheduler
(workers/scheduler.py), in both modes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.concurrency import run_in_threadpool

from infra.health import dependency_of, describe
from infra.jobs import JobSpec
from infra.leases import InProcessLeases
from infra.runtime import Runtime
from workers.schedule_store import MemoryScheduleStore
from workers.scheduler import PeriodicScheduler

log = logging.getLogger(__name__)
QUEUED_JOBS_AT_ONCE = 4
STOP_WAIT_S = 10.0  # the embedded runner waits this long for periodic runs going on when the API stops


def backoff_s(attempt: int) -> float:
    """Return how long to wait before retry number attempt: doubling from 2 s, at most a minute, jittered."""
    return min(60.0, 2.0 ** attempt) * (0.5 + random.random())


class JobTimedOut(Exception):
    """A job ran longer than its timeout (its thread goes on unwatched: a thread cannot be stopped)."""


async def run_try(rt: Runtime, spec: JobSpec, kwargs: dict) -> Any:
    """Run one try of a job in the thread pool within the job's timeout.

    An outage of a shared service (database, Redis, storage) is waited out inside the try,
    with back-off, so a minute without the database does not spend the job's tries; its
    failures go through ``rt.health.absorb`` (one line per outage, not a traceback per call).
    A draining process does not wait: the job goes back to the queue.
    """
    deadline = time.monotonic() + spec.timeout_s
    outages = 0
    while True:
        task = asyncio.ensure_future(run_in_threadpool(spec.func, rt, **kwargs))
        try:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:
            task.add_done_callback(_retrieve)
            raise
        if not done:
            task.add_done_callback(_retrieve)
            raise JobTimedOut(f"{spec.name} ran longer than its {spec.timeout_s:g} s timeout")
        try:
            return task.result()
        except Exception as err:
            if not rt.health.absorb(err):
                raise
            outages += 1
            wait = backoff_s(outages)
            draining = rt.lifecycle is not None and rt.lifecycle.draining
            if draining or time.monotonic() + wait >= deadline:
                raise
            await asyncio.sleep(wait)


async def run_queued(rt: Runtime, spec: JobSpec, kwargs: dict, attempt: int) -> float | None:
    """Run try number `attempt` of a queued job; return how long to wait before the next try,
    or None when it is done (it succeeded, or failed its last try)."""
    try:
        await run_try(rt, spec, kwargs)
        return None
    except Exception as err:
        quiet = dependency_of(err) is not None  # an outage, told once by the health monitor
        if attempt < spec.max_tries:
            if not quiet:
                log.warning("job %s failed (try %d of %d), retrying: %s", spec.name, attempt, spec.max_tries,
                            describe(err))
            return backoff_s(attempt)
        if quiet or isinstance(err, JobTimedOut):
            log.warning("job %s gave up after %d tries: %s", spec.name, attempt, describe(err))
        else:
            log.error("job %s failed for good after %d tries", spec.name, attempt, exc_info=err)
        return None


def _retrieve(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


class JobQueue:
    """Queue jobs from a job's worker thread onto the runner's event loop (in-process or arq).

    A job id already queued or running is not queued again, so a periodic reconcile can queue
    the same work on every pass and it still runs once.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, enqueue: Callable[..., Awaitable[bool]],
                 names: Iterable[str]) -> None:
        self.loop = loop
        self._names = frozenset(names)
        self._enqueue = enqueue
        self._tasks: set[asyncio.Task] = set()

    def enqueue(self, name: str, *, job_id: str, **kwargs: Any) -> bool:
        """Queue a registered job by name; tell whether it was queued (False: it already was)."""
        if name not in self._names:
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
    """Embedded-mode runner: periodic jobs on the scheduler, queued jobs as asyncio tasks, in this process."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._tasks: list[asyncio.Task] = []
        self._queued: set[str] = set()
        # Queued jobs share the API's thread pool: a few at a time, so a burst of them (a hundred
        # private copies after a popular programme) never starves requests.
        self._slots = asyncio.Semaphore(QUEUED_JOBS_AT_ONCE)
        # One process: nothing to elect, so its own leases and a schedule in memory.
        self.scheduler = PeriodicScheduler(rt, store=MemoryScheduleStore(), leases=InProcessLeases(),
                                           holder=f"in-process-{os.getpid()}", specs=rt.job_specs.values())

    async def start(self) -> None:
        """Take the job queue of this process and start the periodic jobs."""
        self.rt.jobs = JobQueue(asyncio.get_running_loop(), self.enqueue, self.rt.job_specs)
        if self.rt.peek(PeriodicScheduler) is None:  # the first runner's, for /v1/admin/jobs
            self.rt.keep(PeriodicScheduler, self.scheduler)
        await self.scheduler.start()

    async def stop(self) -> None:
        """Stop the periodic jobs (waiting a little for runs going on) and cancel queued jobs."""
        if self.rt.jobs is not None and self.rt.jobs.loop is asyncio.get_running_loop():
            self.rt.jobs = None
        if self.rt.peek(PeriodicScheduler) is self.scheduler:
            self.rt.keep(PeriodicScheduler, None)
        await self.scheduler.stop(wait_s=STOP_WAIT_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def enqueue(self, name: str, *, job_id: str, **kwargs: Any) -> bool:
        """Run a job soon; a job id already queued or running is not queued again."""
        if job_id in self._queued:
            return False
        self._queued.add(job_id)
        task = asyncio.create_task(self._run_with_retries(self.rt.job_specs[name], kwargs, job_id))
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)
        return True

    async def _run_with_retries(self, spec: JobSpec, kwargs: dict, job_id: str) -> None:
        try:
            for attempt in range(1, spec.max_tries + 1):
                async with self._slots:
                    wait = await run_queued(self.rt, spec, kwargs, attempt)
                if wait is None:
                    return
                await asyncio.sleep(wait)
        finally:
            self._queued.discard(job_id)


def make_job_runner(rt: Runtime) -> InProcessJobRunner:
    """Return the runner the API process uses in the embedded mode."""
    return InProcessJobRunner(rt)
