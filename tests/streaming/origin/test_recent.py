"""The origin's memory of recently served segments stays within its byte bound."""

from __future__ import annotations

from streaming.origin.recent import RecentSegments


def test_the_least_recently_used_bodies_leave_first_and_the_bound_holds() -> None:
    recent = RecentSegments(max_bytes=400)
    for i in range(4):
        recent.put(("seg", i), bytes([i]) * 100)
    assert recent.size == 400
    assert recent.get(("seg", 0)) == b"\x00" * 100  # now the most recently used
    recent.put(("seg", 4), b"\x04" * 100)
    assert recent.get(("seg", 1)) is None and recent.get(("seg", 0)) is not None
    assert recent.size == 400


def test_bodies_too_large_for_the_bound_are_not_kept_and_none_is_replaced() -> None:
    recent = RecentSegments(max_bytes=400)
    recent.put(("big",), b"x" * 101)
    assert recent.get(("big",)) is None and recent.size == 0
    recent.put(("a",), b"1" * 10)
    recent.put(("a",), b"2" * 10)
    assert recent.get(("a",)) == b"1" * 10 and recent.size == 10


def test_a_zero_bound_keeps_nothing() -> None:
    recent = RecentSegments(max_bytes=0)
    recent.put(("a",), b"")
    recent.put(("b",), b"x")
    assert recent.get(("a",)) is None and recent.get(("b",)) is None and recent.size == 0
