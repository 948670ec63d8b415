"""Admission to the door: how many starts this process works on at once, and who waits.

A zapping storm (half-time of a derby: tens of thousands of players changing channel at once)
must be answered, not timed out. The door's work is a short database transaction; Python runs
one thread at a time, so more starts in flight than a few only adds switching between them
(measured: 8 in flight answer about a third fewer starts a second than 2 to 4; docs/benchmarks.md,
issue 21). So starts run a few at a time, in arrival order; the rest wait on the event loop,
which costs no thread. A start that would wait longer than ``playback_start_queue_s`` at the
rate this process answers is refused at once with 429 and a ``Retry-After`` spread over the
time the queue needs, so the retries of a storm come back spread out rather than together.
One account has at most ``playback_starts_per_account`` starts in flight here: its starts
serialise on its account row anyway, and a storm from one account must not take the slots
of everyone else.
"""

from __future__ import annotations

import collections
import math
import random
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from entitlements.playback.errors import AccountStartsBusy, StartsBusy
from infra.runtime import Runtime

T = TypeVar("T")
RATE_WINDOW_S = 5.0
MAX_RETRY_AFTER_S = 30


def retry_after_s(waiting: int, rate_per_s: float, spread: float) -> int:
    """Seconds a refused start should wait: the time the queue needs to drain, spread by
    ``spread`` (0..1, random per refusal) over one to two times that, at least 1, at most 30."""
    drain = waiting / rate_per_s if rate_per_s > 0 else 1.0
    return max(1, min(MAX_RETRY_AFTER_S, math.ceil(drain * (1.0 + spread))))


# Starts admitted per worker slot whatever the measured rate: a process that was idle has no
# rate yet, and the first second of a storm must not be refused for it.
QUEUE_FLOOR_PER_SLOT = 50


def queue_bound(rate_per_s: float, queue_s: float, concurrency: int) -> int:
    """How many starts may be in this process at once: those it answers within queue_s at its
    recent rate, and never fewer than QUEUE_FLOOR_PER_SLOT per worker slot."""
    return max(QUEUE_FLOOR_PER_SLOT * concurrency, int(rate_per_s * queue_s))


class StartAdmission:
    """This process's admission to the door (``rt.state(StartAdmission)``); used on the event loop only."""

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        self.concurrency = settings.playback_start_concurrency
        self.queue_s = settings.playback_start_queue_s
        self.per_account = settings.playback_starts_per_account
        self._limiter = anyio.CapacityLimiter(self.concurrency)
        self._inside = 0
        self._by_account: collections.Counter[str] = collections.Counter()
        self._answered: collections.deque[float] = collections.deque()
        self.refused = collections.Counter()

    def rate_per_s(self, now: float) -> float:
        """Starts answered a second over the last few seconds."""
        while self._answered and self._answered[0] < now - RATE_WINDOW_S:
            self._answered.popleft()
        return len(self._answered) / RATE_WINDOW_S

    async def run(self, account_id: str, work: Callable[..., T], *args: object) -> T:
        """Run work(*args) on a worker thread when admitted; raise 429 errors when not."""
        now = time.monotonic()
        if self._by_account[account_id] >= self.per_account:
            self.refused["account"] += 1
            raise AccountStartsBusy("this account is already starting playback; retry", retry_after_s=1)
        rate = self.rate_per_s(now)
        if self._inside >= queue_bound(rate, self.queue_s, self.concurrency):
            self.refused["busy"] += 1
            wait = retry_after_s(self._inside, rate, random.random())
            raise StartsBusy("too many players are starting at once; retry", retry_after_s=wait)
        self._inside += 1
        self._by_account[account_id] += 1
        try:
            return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)
        finally:
            self._inside -= 1
            self._by_account[account_id] -= 1
            if not self._by_account[account_id]:
                del self._by_account[account_id]
            self._answered.append(time.monotonic())


def start_admission(rt: Runtime) -> StartAdmission:
    """Return this process's admission to the door."""
    return rt.state(StartAdmission)
