"""What this process knows of the services it shares with others: the database, Redis, storage.

Clients and the code around them report what they see (``failed``); a probe loop checks each
service every second with a short timeout and is the only thing that declares one back. The
log gets one line when a service is lost, a reminder at most every ``REMIND_EVERY_S`` while it
stays lost, and one line when it is back saying how long it was away: an outage costs a line
every ten seconds, not a traceback per request (``absorb`` tells callers which errors are
outages, so only the unexpected keep their traceback). ``/readyz`` reports the states and
latencies; a shared service being down makes a process degraded, never unready, because the
other processes behind the balancer see the same outage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("smartgo.health")
REMIND_EVERY_S = 10.0
PROBE_EVERY_S = 1.0
PROBE_TIMEOUT_S = 2.0
# A service that comes back and goes again within this long is flapping: its next loss is
# told in the reminder rather than a line of its own.
FLAP_S = 5.0


@dataclass
class DependencyState:
    """One shared service as this process sees it."""

    name: str
    up: bool | None = None  # None until the first probe or failure says
    changed_at: float = 0.0  # wall clock of the last change
    latency_ms: float | None = None
    error: str | None = None
    told_at: float = 0.0  # monotonic time of the last line logged about it
    lost_at: float = 0.0  # monotonic time it was lost
    back_at: float = 0.0  # monotonic time it came back
    untold: bool = False  # lost again so soon after coming back that no line said so yet


def describe(err: BaseException | str) -> str:
    """Return one line saying what went wrong, without a traceback."""
    if isinstance(err, str):
        return err
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:300] if text else type(err).__name__


def dependency_of(err: BaseException) -> str | None:
    """Return the shared service an error is an outage of ("database", "redis", "storage"), or None."""
    current: BaseException | None = err
    for _ in range(5):  # the error itself and the ones it was raised from
        if current is None:
            return None
        dep = getattr(current, "dependency", None)
        if isinstance(dep, str):
            return dep
        module, name = type(current).__module__, type(current).__name__
        if module.startswith("redis") and name in _REDIS_OUTAGES:
            return "redis"
        if module.startswith(("sqlalchemy", "psycopg")) and name in ("OperationalError", "InterfaceError"):
            return "database"
        if module.startswith("botocore") and name.endswith(("ConnectionError", "TimeoutError", "ClosedError")):
            return "storage"
        if isinstance(current, (ConnectionError, TimeoutError)):  # OS-level, from a client without its own
            return None
        current = current.__cause__ or current.__context__
    return None


_REDIS_OUTAGES = {"ConnectionError", "TimeoutError", "BusyLoadingError", "ReadOnlyError", "MasterDownError",
                  "ClusterDownError", "TryAgainError"}


class Health:
    """The states of the shared services this process uses, with the probes that check them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deps: dict[str, DependencyState] = {}
        self._probes: dict[str, Callable[[], None]] = {}
        self._running: dict[str, asyncio.Future] = {}
        self._when_back: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, probe: Callable[[], None]) -> None:
        """Check the service called name with probe (a blocking call that raises when it is down)."""
        self._probes[name] = probe
        self._deps.setdefault(name, DependencyState(name))

    def is_up(self, name: str) -> bool:
        """Tell whether a service is believed up (a service not known yet counts as up)."""
        dep = self._deps.get(name)
        return dep is None or dep.up is not False

    def down_for_s(self, name: str) -> float:
        """Return how long a service has been down (0 when it is up)."""
        dep = self._deps.get(name)
        return self._clock() - dep.lost_at if dep is not None and dep.up is False else 0.0

    def failed(self, name: str, err: BaseException | str) -> None:
        """Report that a call to a service failed as an outage would."""
        now = self._clock()
        with self._lock:
            dep = self._deps.setdefault(name, DependencyState(name))
            dep.error = describe(err)
            if dep.up is not False:
                flapping = bool(dep.back_at) and now - dep.back_at < FLAP_S
                dep.up, dep.changed_at, dep.lost_at, dep.untold = False, time.time(), now, flapping
                if flapping:
                    return
                line = f"{name} lost: {dep.error}"
            elif now - dep.told_at >= REMIND_EVERY_S:
                dep.untold = False
                line = f"{name} still unreachable after {now - dep.lost_at:.0f} s: {dep.error}"
            else:
                return
            dep.told_at = now
        log.warning(line)

    def ok(self, name: str, latency_s: float | None = None) -> None:
        """Report that a service answered (only probes call this: they are what declare it back)."""
        now = self._clock()
        with self._lock:
            dep = self._deps.setdefault(name, DependencyState(name))
            if latency_s is not None:
                dep.latency_ms = round(latency_s * 1000, 1)
            if dep.up is not False:
                dep.up = True
                return
            dep.up, dep.changed_at, dep.error, dep.back_at = True, time.time(), None, now
            untold, away = dep.untold, now - dep.lost_at
            if not untold:
                dep.told_at = now
        for callback in self._when_back.get(name, ()):
            try:
                callback()
            except Exception:  # a listener's failure is its own, not the service's
                log.exception("after %s came back", name)
        if not untold:  # a blink nobody was told of: its end is not news either
            log.warning("%s back after %.1f s", name, away)

    def when_back(self, name: str, callback: Callable[[], None]) -> None:
        """Call callback each time a service comes back (to drop connections it made stale)."""
        self._when_back.setdefault(name, []).append(callback)

    def absorb(self, err: BaseException) -> bool:
        """Report err if it is an outage of a shared service; tell whether it was (the caller
        then logs nothing more: the outage is already told, once)."""
        name = dependency_of(err)
        if name is None:
            return False
        self.failed(name, err)
        return True

    def snapshot(self) -> dict[str, dict]:
        """Return each service's state ("up", "down", "unknown"), latency and last error."""
        with self._lock:
            return {
                d.name: {
                    "state": "unknown" if d.up is None else "up" if d.up else "down",
                    "latency_ms": d.latency_ms,
                    "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.changed_at)) if d.changed_at else None,
                    **({"error": d.error} if d.up is False else {}),
                }
                for d in self._deps.values()
            }

    @property
    def degraded(self) -> bool:
        """True while any shared service is down."""
        return any(d.up is False for d in self._deps.values())

    def probe(self, name: str) -> bool:
        """Check one service now, blocking; report and return whether it answered."""
        started = time.perf_counter()
        try:
            self._probes[name]()
        except Exception as err:  # any failure of a probe is the service being unreachable
            self.failed(name, err)
            return False
        self.ok(name, time.perf_counter() - started)
        return True

    async def run(self, every_s: float = PROBE_EVERY_S, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        """Probe every registered service every every_s seconds, each in a thread, until cancelled.

        A probe that does not answer within timeout_s counts as a failure (a frozen service);
        no second probe of a service starts while one is still stuck.
        """
        while True:
            started = time.monotonic()
            await asyncio.gather(*(self._probe_async(name, timeout_s) for name in list(self._probes)))
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - started)))

    async def _probe_async(self, name: str, timeout_s: float) -> None:
        running = self._running.get(name)
        if running is not None and not running.done():
            self.failed(name, f"no answer for more than {timeout_s:g} s")
            return
        future = asyncio.get_running_loop().run_in_executor(None, self.probe, name)
        self._running[name] = future
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except asyncio.TimeoutError:
            self.failed(name, f"no answer within {timeout_s:g} s")
