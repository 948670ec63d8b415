"""Admission to the door: a few starts at a time, a bounded queue, 429 with Retry-After beyond it."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from entitlements.playback.admission import QUEUE_FLOOR_PER_SLOT, StartAdmission, queue_bound, retry_after_s
from entitlements.playback.errors import AccountStartsBusy, StartsBusy


@pytest.mark.parametrize(("waiting", "rate", "spread", "expected"), [
    (0, 100.0, 0.0, 1),        # nothing queued: the shortest wait
    (500, 100.0, 0.0, 5),      # five seconds of queue at 100 a second
    (500, 100.0, 1.0, 10),     # spread up to twice that
    (500, 100.0, 0.5, 8),
    (100, 0.0, 0.0, 1),        # no rate measured yet
    (100_000, 10.0, 1.0, 30),  # never more than 30 s
])
def test_retry_after_spreads_the_retries_over_the_time_the_queue_needs(waiting, rate, spread, expected) -> None:  # noqa: ANN001
    assert retry_after_s(waiting, rate, spread) == expected


@pytest.mark.parametrize(("rate", "queue_s", "concurrency", "expected"), [
    (0.0, 5.0, 4, 4 * QUEUE_FLOOR_PER_SLOT),  # an idle process still takes the first second of a storm
    (300.0, 5.0, 4, 1500),                   # five seconds of what it answers
    (10.0, 5.0, 4, 4 * QUEUE_FLOOR_PER_SLOT),
])
def test_the_queue_holds_what_the_process_answers_in_time(rate, queue_s, concurrency, expected) -> None:  # noqa: ANN001
    assert queue_bound(rate, queue_s, concurrency) == expected


def _admission(settings, **changes) -> StartAdmission:  # noqa: ANN001, ANN003
    return StartAdmission(SimpleNamespace(settings=settings.model_copy(update=changes)))


def test_starts_beyond_the_queue_are_refused_at_once_with_retry_after(settings) -> None:  # noqa: ANN001
    admission = _admission(settings, playback_start_concurrency=1, playback_starts_per_account=1)
    bound = queue_bound(0.0, admission.queue_s, 1)
    release, running = threading.Event(), threading.Semaphore(0)

    def work(n: int) -> int:
        running.release()
        assert release.wait(10)
        return n

    async def storm() -> tuple[list[int], list[BaseException]]:
        tasks = [asyncio.create_task(admission.run(f"acct{i}", work, i)) for i in range(bound)]
        await asyncio.sleep(0)  # every admitted start is inside before the next arrives
        t0 = time.monotonic()
        with pytest.raises(StartsBusy) as refused:
            await admission.run("one-too-many", work, -1)
        assert time.monotonic() - t0 < 0.5  # refused at once, not after a wait
        assert int(refused.value.headers["Retry-After"]) >= 1 and refused.value.status == 429
        # One at a time runs: the others wait on the loop, not in threads.
        assert await asyncio.to_thread(running.acquire, True, 5)
        assert not running.acquire(blocking=False)
        release.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return [d for d in done if isinstance(d, int)], [d for d in done if isinstance(d, BaseException)]

    answered, failed = asyncio.run(storm())
    assert sorted(answered) == list(range(bound)) and not failed
    assert admission.refused["busy"] == 1


def test_one_account_cannot_take_every_slot(settings) -> None:  # noqa: ANN001
    admission = _admission(settings, playback_start_concurrency=2, playback_starts_per_account=1)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.create_task(admission.run("storming", release.wait, 10))
        await asyncio.sleep(0)
        with pytest.raises(AccountStartsBusy) as refused:
            await admission.run("storming", release.wait, 10)
        assert refused.value.headers == {"Retry-After": "1"}
        # Another household still gets the other slot.
        assert await admission.run("neighbour", lambda: "started") == "started"
        release.set()
        assert await first is True
        assert await admission.run("storming", lambda: "again") == "again"  # its slot is free once answered

    asyncio.run(scenario())

