"""Faults ridden out: Redis, PostgreSQL and storage away (killed, frozen, cut off), processes SIGKILLed.

One stack of our own (tests/support/fault_stack.py) runs through every fault in turn, with a
channel our packager encodes live, a player polling through the door and a recording in progress.
Each test asserts what was served during the fault, how soon the channel went on, and what the
archive lacks once things settle. In CI an outage lasts OUTAGE_S; bench/faults.py runs the 30 s
and 60 s versions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.fault_stack import (
    SEGMENT_S,
    FaultStack,
    OutageReport,
    measure_outage,
)

pytestmark = pytest.mark.faults
OUTAGE_S = 8.0  # the issue: "In CI an outage lasts about 8 s"
# While a shared service is away the live edge keeps moving: the newest segment a player sees
# ends at most this long before the fetch (publish latency plus a segment, plus the poll period).
LIVE_EDGE_LAG_S = 3 * SEGMENT_S + 1.5


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    """The distributed mode on services of its own, playing."""
    running = FaultStack()
    try:
        yield running.start()
    finally:
        running.close()


def _dependency_outage(stack: FaultStack, fault: str, begin: Callable[[], None], end: Callable[[], None]) -> OutageReport:
    began = time.time()
    recording = stack.record(began - 2, began + OUTAGE_S)  # in progress through the whole fault
    report = measure_outage(stack, fault, begin, end, OUTAGE_S)
    print(json.dumps(report.__dict__))
    assert set(report.served) == {200}, report  # every playlist fetch answered, from memory
    assert not report.sequence_went_back, report
    assert report.player_stalled_s <= LIVE_EDGE_LAG_S, report  # the live edge kept moving
    assert report.missing == [], report  # nothing lost, nothing marked as a gap
    assert report.first_segment_after_s is not None and report.first_segment_after_s <= 2 * SEGMENT_S + 2, report
    assert all(p.alive for p in stack.processes.values()), {n: p.alive for n, p in stack.processes.items()}
    assert max(report.log_lines_per_s.values()) <= 1.0, report
    assert not any(report.tracebacks.values()), report
    state = stack.wait(lambda: (s := stack.recording_state(recording)) in ("completed", "partial", "failed") and s,
                       30, "the recording across the fault to finish")
    assert state == "completed", report
    return report


def test_storage_cut_off(stack: FaultStack) -> None:
    proxy = stack.s3.proxy
    _dependency_outage(stack, "storage unreachable", proxy.cut, proxy.restore)


def test_redis_killed_and_back_empty(stack: FaultStack) -> None:
    _dependency_outage(stack, "redis killed", stack.redis.kill, stack.redis.start)


def test_redis_frozen(stack: FaultStack) -> None:
    _dependency_outage(stack, "redis frozen", stack.redis.freeze, stack.redis.thaw)


def test_postgres_killed(stack: FaultStack) -> None:
    _dependency_outage(stack, "postgresql killed", stack.pg.kill, stack.pg.start)


def test_postgres_frozen(stack: FaultStack) -> None:
    _dependency_outage(stack, "postgresql frozen", stack.pg.freeze, stack.pg.thaw)


def _restart(stack: FaultStack, name: str) -> OutageReport:
    process = stack.processes[name]
    report = measure_outage(stack, f"{name} SIGKILLed", process.kill, process.start, 0.5, settle_s=5)
    print(json.dumps(report.__dict__))
    assert not report.sequence_went_back, report
    return report


def test_worker_killed(stack: FaultStack) -> None:
    report = _restart(stack, "worker")
    assert report.missing == [] and set(report.served) <= {200}, report  # live playback needs no worker
    assert report.first_segment_after_s <= 2 * SEGMENT_S + 2, report


def test_packager_killed(stack: FaultStack) -> None:
    report = _restart(stack, "packager")
    assert set(report.served) <= {200}, report  # the origin shows the outage, it does not fail
    assert report.first_segment_after_s <= 20, report  # a new node: lease, epoch, ffmpeg's first segment


def test_api_killed(stack: FaultStack) -> None:
    report = _restart(stack, "api")
    stack.wait(lambda: stack._answers("/readyz"), 60, "the API back")
    assert report.first_segment_after_s <= 30, report
