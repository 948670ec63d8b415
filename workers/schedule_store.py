"""Where the periodic scheduler keeps each job's next due time and its last runs.

In Redis in the distributed mode, so a restarted worker or a new scheduler keeps the schedule
(an hourly purge stays hourly across restarts instead of running at every start), and an
operator (``GET /v1/admin/jobs``) sees what every worker ran; in memory in the embedded mode.
Times are Unix seconds: workers on several machines share them.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

import redis

from infra.errors import ServiceUnavailable

RUNS_KEPT = 200  # start times kept per job: a couple of minutes of the 0.5 s sweep, days of hourly jobs


class ScheduleStoreUnavailable(ServiceUnavailable):
    code = "SCHEDULE_STORE_UNAVAILABLE"
    dependency = "redis"


@dataclass
class JobRecord:
    """What the store knows of one periodic job."""

    next_due: float | None = None
    runs: list[float] = field(default_factory=list)  # start times, newest first
    last_finished: float | None = None
    last_duration_s: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


class ScheduleStore(ABC):
    """Next due times and run history of the periodic jobs (blocking calls: run them in a thread)."""

    @abstractmethod
    def next_due(self, names: list[str]) -> dict[str, float]:
        """Return the recorded next due time of each job that has one."""

    @abstractmethod
    def started(self, name: str, at: float, next_due: float) -> None:
        """Record that a run of a job started at `at` and when the one after it is due."""

    @abstractmethod
    def finished(self, name: str, started: float, at: float, error: str | None) -> None:
        """Record the end of the run started at `started` (with its error, if it failed)."""

    @abstractmethod
    def records(self, names: list[str]) -> dict[str, JobRecord]:
        """Return what is recorded of each job."""

    def forget(self, names: list[str]) -> None:
        """Drop everything recorded of these jobs (tests and operators starting afresh)."""


class MemoryScheduleStore(ScheduleStore):
    """The embedded mode's store: this process's memory."""

    def __init__(self) -> None:
        self._records: dict[str, JobRecord] = {}
        self._runs: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def next_due(self, names: list[str]) -> dict[str, float]:
        with self._lock:
            return {n: r.next_due for n in names if (r := self._records.get(n)) and r.next_due is not None}

    def started(self, name: str, at: float, next_due: float) -> None:
        with self._lock:
            self._records.setdefault(name, JobRecord()).next_due = next_due
            self._runs.setdefault(name, deque(maxlen=RUNS_KEPT)).appendleft(at)

    def finished(self, name: str, started: float, at: float, error: str | None) -> None:
        with self._lock:
            record = self._records.setdefault(name, JobRecord())
            record.last_finished, record.last_duration_s = at, round(at - started, 3)
            if error:
                record.last_error, record.last_error_at = error, at

    def records(self, names: list[str]) -> dict[str, JobRecord]:
        with self._lock:
            return {n: JobRecord(**{**vars(self._records.get(n, JobRecord())), "runs": list(self._runs.get(n, ()))})
                    for n in names}

    def forget(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                self._records.pop(name, None)
                self._runs.pop(name, None)


class RedisScheduleStore(ScheduleStore):
    """The distributed mode's store: a hash and a short list per job in Redis."""

    PREFIX = "smartgo:jobs:"

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._errors = (redis.RedisError,)

    def _state(self, name: str) -> str:
        return f"{self.PREFIX}state:{name}"

    def _runs(self, name: str) -> str:
        return f"{self.PREFIX}runs:{name}"

    def _execute(self, fill) -> list:  # noqa: ANN001
        pipe = self._redis.pipeline(transaction=False)
        fill(pipe)
        try:
            return pipe.execute()
        except self._errors as err:
            raise ScheduleStoreUnavailable("schedule store unavailable") from err

    def next_due(self, names: list[str]) -> dict[str, float]:
        values = self._execute(lambda p: [p.hget(self._state(n), "next_due") for n in names])
        return {n: float(v) for n, v in zip(names, values) if v is not None}

    def started(self, name: str, at: float, next_due: float) -> None:
        def fill(p) -> None:  # noqa: ANN001
            p.hset(self._state(name), mapping={"next_due": repr(next_due), "started": repr(at)})
            p.lpush(self._runs(name), repr(at))
            p.ltrim(self._runs(name), 0, RUNS_KEPT - 1)

        self._execute(fill)

    def finished(self, name: str, started: float, at: float, error: str | None) -> None:
        fields = {"finished": repr(at), "duration_s": repr(round(at - started, 3))}
        if error:
            fields.update(error=error, error_at=repr(at))
        self._execute(lambda p: p.hset(self._state(name), mapping=fields))

    def records(self, names: list[str]) -> dict[str, JobRecord]:
        def fill(p) -> None:  # noqa: ANN001
            for n in names:
                p.hgetall(self._state(n))
                p.lrange(self._runs(n), 0, -1)

        values = self._execute(fill)
        out = {}
        for i, name in enumerate(names):
            state = {k.decode(): v.decode() for k, v in values[2 * i].items()}
            number = lambda key: float(state[key]) if key in state else None  # noqa: E731
            out[name] = JobRecord(next_due=number("next_due"), runs=[float(v) for v in values[2 * i + 1]],
                                  last_finished=number("finished"), last_duration_s=number("duration_s"),
                                  last_error=state.get("error"), last_error_at=number("error_at"))
        return out

    def forget(self, names: list[str]) -> None:
        self._execute(lambda p: p.delete(*[k for n in names for k in (self._state(n), self._runs(n))]))
