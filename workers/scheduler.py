"""Periodic jobs at their cadence: one scheduler among all workers, one run of a job at a time.

Every worker runs a `PeriodicScheduler`; they elect one holder through the lease
``jobs:scheduler`` (Redis leases in the distributed mode, in-process ones in the embedded mode),
renewed every second and lapsing `LEASE_S` after its holder stops renewing it. The holder runs
each periodic job in a loop of its own, in this process's thread pool, at the job's interval
(sub-second allowed). Each run first takes the lease ``jobs:run:{job}`` (renewed while the run
goes on, up to the job's timeout), so a run never overlaps one that a previous holder started
before the scheduler moved. The next due time and the start of every run are written to a
`ScheduleStore`, so a restarted worker or a new holder keeps the schedule (an hourly job stays
hourly) and operators see what ran.

arq's cron could not do this: it fires at most once a second, its schedule only sets the
second (a 10-minute job ran every minute), and its fixed job ids kept a finished cron's
in-progress key for 60 s, so 0.5-2 s jobs ran about once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool

from infra.health import describe
from infra.jobs import JobSpec
from infra.leases import Leases
from infra.runtime import Runtime
from workers.schedule_store import JobRecord, ScheduleStore

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "jobs:scheduler"
RUN_LEASE = "jobs:run:"
LEASE_S = 5.0  # a dead holder's scheduler (and runs) are free again this long after its last renewal
KEEP_EVERY_S = 1.0  # leases are renewed, and a free scheduler taken, this often
RETRY_S = 1.0  # a run that could not start (its previous run still going elsewhere) is tried again this soon
REPEAT_LOG_S = 60.0  # the same failure of a periodic job is logged again at most this often


class FailureLog:
    """Log an unexpected failure with its traceback, but the same failure of the same thing at
    most once every `REPEAT_LOG_S` (a job failing on every 0.5 s run is one traceback a minute)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._last: dict[str, tuple[str, float]] = {}

    def exception(self, key: str, error: str, msg: str, *args: object) -> None:
        """Log msg with the current exception unless key failed the same way within the last minute."""
        last, now = self._last.get(key), time.monotonic()
        if last is not None and last[0] == error and now - last[1] < REPEAT_LOG_S:
            return
        self._last[key] = (error, now)
        self._log.exception(msg, *args)


def next_due(due: float, started: float, every_s: float) -> float:
    """Return when a job is due again after a run that was due at `due` and started at `started`.

    One period after it was due, so a late start does not shift the schedule; when the run
    started more than a period late (the job ran longer than its period, or nobody held the
    scheduler), one period after it started: missed runs are not made up in a burst.
    """
    following = due + every_s
    return following if following >= started else started + every_s


class PeriodicScheduler:
    """Run the periodic jobs of `specs` while this process holds the scheduler lease."""

    def __init__(self, rt: Runtime, *, store: ScheduleStore, leases: Leases, holder: str,
                 specs: Iterable[JobSpec]) -> None:
        self.rt, self.store, self.leases, self.holder = rt, store, leases, holder
        self.specs = {s.name: s for s in specs if s.every_s}
        self._due: dict[str, float] = {}
        self._held: dict[str, float] = {}  # run leases this process holds -> renewed until then
        self._passes: dict[str, asyncio.Future] = {}
        self._loops: list[asyncio.Task] = []
        self._keeper: asyncio.Task | None = None
        self._leading: asyncio.Event | None = None
        self._stopping = False
        self._failures = FailureLog(log)

    @property
    def leading(self) -> bool:
        """True while this process holds the scheduler lease and runs the periodic jobs."""
        return self._leading is not None and self._leading.is_set()

    async def start(self) -> None:
        """Start competing for the scheduler lease and the loop of every periodic job."""
        self._leading = asyncio.Event()
        self._keeper = asyncio.create_task(self._keep(), name="scheduler-lease")
        self._loops = [asyncio.create_task(self._every(spec), name=f"periodic:{name}")
                       for name, spec in self.specs.items()]

    async def stop(self, wait_s: float = 0.0) -> None:
        """Start no more runs, give the scheduler lease back (another worker takes over at its
        next renewal), and wait up to wait_s for the runs going on."""
        self._stopping = True
        if self._leading is not None:
            self._leading.clear()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        await self._give_back()
        running = [f for f in self._passes.values() if not f.done()]
        if running and wait_s > 0:
            await asyncio.wait(running, timeout=wait_s)
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            await self._give_back()  # in case a renewal under way took it again meanwhile

    async def _give_back(self) -> None:
        try:
            await run_in_threadpool(self.leases.release, SCHEDULER_LEASE, self.holder)
        except Exception as err:  # unreachable lease store: the lease lapses by itself
            self._report(err, "could not give the scheduler lease back")

    def running(self) -> list[str]:
        """Return the periodic jobs whose run in this process has not ended."""
        return [name for name, f in self._passes.items() if not f.done()]

    async def _keep(self) -> None:
        while True:
            try:
                leading, due = await run_in_threadpool(self._renew)
            except Exception as err:  # the lease store is unreachable: nobody can schedule
                leading, due = False, {}
                self._report(err, "could not renew the scheduler lease")
            if leading and not self.leading and not self._stopping:
                now = time.time()
                self._due = {name: due.get(name, now) for name in self.specs}
                self._leading.set()
                log.info("this worker schedules the periodic jobs now (%s)", self.holder)
            elif not leading and self.leading:
                self._leading.clear()
                log.info("this worker no longer schedules the periodic jobs")
            await asyncio.sleep(KEEP_EVERY_S)

    def _renew(self) -> tuple[bool, dict[str, float]]:
        """Renew the run leases held, take or keep the scheduler lease; on taking it, read the schedule."""
        now = time.time()
        runs = [RUN_LEASE + name for name, until in list(self._held.items()) if until > now]
        if runs:
            self.leases.renew_many(runs, self.holder, LEASE_S)
        if self._stopping:
            return False, {}
        leading = self.leases.acquire(SCHEDULER_LEASE, self.holder, LEASE_S)
        return leading, (self.store.next_due(list(self.specs)) if leading and not self.leading else {})

    async def _every(self, spec: JobSpec) -> None:
        while True:
            await self._leading.wait()
            delay = self._due[spec.name] - time.time()
            if delay > 0:
                await asyncio.sleep(min(delay, KEEP_EVERY_S))  # wakes to notice a lost lease
                continue
            await self._run(spec)

    async def _run(self, spec: JobSpec) -> None:
        name, started = spec.name, time.time()
        self._due[name] = following = next_due(self._due[name], started, spec.every_s)
        future = self._passes[name] = asyncio.ensure_future(run_in_threadpool(self._pass, spec, started, following))
        future.add_done_callback(_retrieve)
        # A run that outlives its timeout goes on in its thread (a thread cannot be stopped); its
        # run lease is no longer renewed, so the job is not held up for good.
        done, _ = await asyncio.wait({future}, timeout=spec.timeout_s)
        if not done:
            log.warning("periodic job %s has run longer than its %g s timeout; it is no longer waited for",
                        name, spec.timeout_s)
            return
        try:
            ran = future.result()
        except Exception as err:  # the lease or schedule store is unreachable: the run did not start
            self._due[name] = time.time() + min(spec.every_s, RETRY_S)
            self._report(err, f"periodic job {name} could not start")
            return
        if not ran:  # its previous run is still going on another worker (the scheduler moved)
            try:
                recorded = (await run_in_threadpool(self.store.next_due, [name])).get(name, 0.0)
            except Exception as err:
                recorded = 0.0
                self._report(err, "could not read the schedule")
            self._due[name] = max(recorded, time.time() + min(spec.every_s, RETRY_S))

    def _pass(self, spec: JobSpec, started: float, following: float) -> bool:
        """Run a job once unless a run of it holds its lease; tell whether it ran (in a thread)."""
        lease = RUN_LEASE + spec.name
        if not self.leases.acquire(lease, self.holder, LEASE_S):
            return False
        self._held[spec.name] = started + spec.timeout_s
        try:
            self.store.started(spec.name, started, following)
            error = None
            try:
                spec.func(self.rt)
            except Exception as err:
                error = describe(err)
                if not self.rt.health.absorb(err):
                    self._failures.exception(spec.name, error, "periodic job %s failed", spec.name)
            self.store.finished(spec.name, started, time.time(), error)
            return True
        finally:
            self._held.pop(spec.name, None)
            try:
                self.leases.release(lease, self.holder)
            except Exception as err:  # it lapses by itself
                self._report(err, f"could not give the lease of {spec.name} back")

    def _report(self, err: BaseException, what: str) -> None:
        if not self.rt.health.absorb(err):
            log.warning("%s: %s", what, describe(err))


def _retrieve(future: asyncio.Future) -> None:
    """Mark a future's exception as seen (it is handled where the future is awaited, if it still is)."""
    if not future.cancelled():
        future.exception()


def schedule_report(specs: Iterable[JobSpec], records: dict[str, JobRecord], holders: dict[str, str | None],
                    now: float, runs_shown: int = 20) -> list[dict]:
    """Return, for operators, each periodic job's interval, last runs, last error and next due time."""
    iso = lambda t: None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"  # noqa: E731
    out = []
    for spec in specs:
        if not spec.every_s:
            continue
        record = records.get(spec.name, JobRecord())
        runs = record.runs
        intervals = [a - b for a, b in zip(runs, runs[1:])]
        out.append({
            "name": spec.name, "every_s": spec.every_s, "timeout_s": spec.timeout_s,
            "running_on": holders.get(RUN_LEASE + spec.name),
            "last_runs": [iso(t) for t in runs[:runs_shown]],
            "runs_kept": len(runs),
            "interval_p95_s": round(percentile(intervals, 0.95), 3) if intervals else None,
            "last_finished": iso(record.last_finished), "last_duration_s": record.last_duration_s,
            "last_error": None if record.last_error is None else {"at": iso(record.last_error_at),
                                                                   "message": record.last_error},
            "next_due": iso(record.next_due),
            "due_in_s": None if record.next_due is None else round(record.next_due - now, 3),
        })
    return out


def percentile(values: list[float], q: float) -> float:
    """Return the q-th quantile of values (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
