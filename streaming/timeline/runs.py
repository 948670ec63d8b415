"""The channel timeline as pure data: runs of segments, windows over them, appends, gaps.

A channel's timeline is one list of segments (sequence number, UTC start, duration,
discontinuity, gap) shared by every rendition. It is stored as runs: a run is a stretch
of contiguous segments with no discontinuity inside it, either *uniform* (one duration
and a count, like a DASH SegmentTimeline ``S@r``) or *varied* (a packed array of
durations, for encoders whose durations jitter; capped to one UTC hour so one run never
grows without bound). All times are integer microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate

US = 1_000_000
HOUR_US = 3600 * US
# A segment whose start differs from the previous segment's end by less than this is
# contiguous; more and the timeline records a discontinuity (and gaps where time is missing).
CONTIGUITY_TOLERANCE_US = 150_000


def pack_durations(durations: Iterable[int]) -> bytes:
    """Pack durations (µs) as little-endian uint32, the stored form of a varied run."""
    arr = array("I", durations)
    if arr.itemsize != 4:  # pragma: no cover - every platform we run on has 4-byte "I"
        raise RuntimeError("unsupported platform")
    return arr.tobytes()


def unpack_durations(blob: bytes) -> array:
    """Unpack a varied run's durations."""
    arr = array("I")
    arr.frombytes(blob)
    return arr


@dataclass(frozen=True, slots=True)
class Segment:
    """One entry of the timeline, the same for every rendition."""

    seq: int
    start_us: int
    duration_us: int
    discontinuity: bool
    gap: bool
    run: "Run" = field(repr=False, compare=False)

    @property
    def end_us(self) -> int:
        """Return the UTC end of the segment."""
        return self.start_us + self.duration_us

    @property
    def disc_count(self) -> int:
        """Return how many discontinuities the timeline has at or before this segment."""
        return self.run.disc_count


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of contiguous segments; ``disc_count`` counts discontinuities up to its first."""

    first_seq: int
    start_us: int
    count: int
    duration_us: int | None = None
    durations: bytes | None = None
    discontinuity: bool = False
    disc_count: int = 0
    gap: bool = False
    session: int = 0
    enc_offset: int = 0
    inits: dict[str, str] = field(default_factory=dict, compare=False)
    end_us: int = 0

    @property
    def last_seq(self) -> int:
        """Return the sequence number of the run's last segment."""
        return self.first_seq + self.count - 1

    @property
    def uniform(self) -> bool:
        """True when every segment of the run has the same duration."""
        return self.durations is None

    def duration_list(self) -> Sequence[int]:
        """Return the duration of every segment of the run."""
        if self.durations is None:
            return [self.duration_us or 0] * self.count
        return unpack_durations(self.durations)

    def segments(self, lo: int = 0, hi: int | None = None) -> Iterator[Segment]:
        """Yield segments lo..hi-1 (indexes inside the run)."""
        hi = self.count if hi is None else min(hi, self.count)
        if lo >= hi:
            return
        if self.durations is None:
            d = self.duration_us or 0
            start = self.start_us + lo * d
            for i in range(lo, hi):
                yield Segment(self.first_seq + i, start, d, self.discontinuity and i == 0, self.gap, self)
                start += d
            return
        durs = unpack_durations(self.durations)
        start = self.start_us + sum(durs[:lo])
        for i in range(lo, hi):
            d = durs[i]
            yield Segment(self.first_seq + i, start, d, self.discontinuity and i == 0, self.gap, self)
            start += d

    def index_at(self, t_us: int) -> int:
        """Return the index of the segment containing time t (clamped to the run)."""
        if t_us <= self.start_us:
            return 0
        if self.durations is None:
            d = self.duration_us or 1
            return min(self.count - 1, (t_us - self.start_us) // d)
        ends = list(accumulate(unpack_durations(self.durations), initial=self.start_us))[1:]
        return min(self.count - 1, bisect.bisect_right(ends, t_us))

    def segment(self, seq: int) -> Segment:
        """Return the segment with this sequence number (it must be in the run)."""
        return next(self.segments(seq - self.first_seq, seq - self.first_seq + 1))


def make_run(**kwargs) -> Run:  # noqa: ANN003
    """Build a run and compute its end from its durations."""
    run = Run(**kwargs)
    total = (
        (run.duration_us or 0) * run.count
        if run.durations is None
        else sum(unpack_durations(run.durations))
    )
    return replace(run, end_us=run.start_us + total)


def segments_in(runs: Sequence[Run], start_us: int, end_us: int) -> list[Segment]:
    """Return the segments of runs (sorted by start) overlapping [start_us, end_us)."""
    out: list[Segment] = []
    starts = [r.start_us for r in runs]
    i = max(0, bisect.bisect_right(starts, start_us) - 1)
    for run in runs[i:]:
        if run.start_us >= end_us:
            break
        if run.end_us <= start_us:
            continue
        lo = run.index_at(start_us) if start_us > run.start_us else 0
        for seg in run.segments(lo):
            if seg.start_us >= end_us:
                break
            if seg.end_us > start_us:
                out.append(seg)
    return out


def last_segments(runs: Sequence[Run], span_us: int, *, min_count: int = 3) -> list[Segment]:
    """Return the newest segments covering at least span_us (and at least min_count)."""
    out: list[Segment] = []
    covered = 0
    for run in reversed(runs):
        durs = run.duration_list()
        idx = run.count
        while idx > 0 and (covered < span_us or len(out) < min_count):
            idx -= 1
            covered += durs[idx]
            out.append(run.segment(run.first_seq + idx))
        if covered >= span_us and len(out) >= min_count:
            break
    out.reverse()
    return out


@dataclass(frozen=True, slots=True)
class NewSegment:
    """A segment about to be appended: its timing and where its bytes live."""

    start_us: int
    duration_us: int
    session: int
    encseq: int
    inits: dict[str, str]
    discontinuity: bool = False


@dataclass(frozen=True, slots=True)
class Append:
    """The outcome of appending: runs to write (replacing the tail if ``replaces_tail``)."""

    runs: tuple[Run, ...]
    replaces_tail: bool
    seq: int


def gap_slots(gap_us: int, nominal_us: int) -> list[int]:
    """Split a hole of gap_us into gap entries of nominal length (the last one shorter)."""
    if gap_us <= 0:
        return []
    full, rest = divmod(gap_us, nominal_us)
    out = [nominal_us] * full
    if rest > 0:
        out.append(rest)
    return out


def plan_append(tail: Run | None, seg: NewSegment, *, nominal_us: int) -> Append:
    """Decide how a new segment joins the timeline: extend the tail run or start new runs.

    A hole between the tail's end and the new segment's start becomes a run of gap
    entries (so sequence numbers and PROGRAM-DATE-TIME stay true to wall-clock time) and
    the new segment starts with a discontinuity. A new encoder session, new init
    segments or an explicit discontinuity also start a new run.
    """
    if tail is None:
        run = make_run(
            first_seq=0, start_us=seg.start_us, count=1, duration_us=seg.duration_us,
            discontinuity=False, disc_count=0, session=seg.session,
            enc_offset=0 - seg.encseq, inits=dict(seg.inits),
        )
        return Append((run,), False, 0)
    seq = tail.last_seq + 1
    start = seg.start_us
    hole = start - tail.end_us
    if abs(hole) <= CONTIGUITY_TOLERANCE_US:
        start = tail.end_us  # absorb encoder jitter so PDT + durations stay exact
        hole = 0
    elif hole < 0:
        # Time went backwards (encoder clock reset): keep our timeline monotonic.
        start = tail.end_us
        hole = 0
        seg = replace(seg, discontinuity=True)
    new_runs: list[Run] = []
    disc_count = tail.disc_count
    if hole > 0:
        slots = gap_slots(hole, nominal_us)
        # Full slots as one uniform run, a shorter remainder as its own: gap runs stay
        # uniform, so a long outage costs two rows, not an array.
        full = [d for d in slots if d == nominal_us]
        start_gap = tail.end_us
        # An outage is a discontinuity of its own: a slate shown in it (device profiles) has
        # timestamps of its own, so players must be told where it starts as well as where it ends.
        disc_count += 1
        for group in (full, slots[len(full):]):
            if group:
                new_runs.append(make_run(first_seq=seq, start_us=start_gap, count=len(group),
                                         duration_us=group[0], gap=True, disc_count=disc_count,
                                         discontinuity=not new_runs, session=-1))
                seq += len(group)
                start_gap += sum(group)
        seg = replace(seg, discontinuity=True)
    enc_offset = seq - seg.encseq
    # An init segment that changed is a discontinuity; a track's first init is not.
    new_init = any(tail.inits.get(track) not in (None, h) for track, h in seg.inits.items())
    disc = seg.discontinuity or hole > 0 or tail.gap or seg.session != tail.session or new_init
    if not disc and enc_offset == tail.enc_offset:
        extended = _extend(tail, seg.duration_us)
        if extended is not None:
            return Append((replace(extended, inits={**tail.inits, **seg.inits}),), True, seq)
    run = make_run(
        first_seq=seq, start_us=start, count=1, duration_us=seg.duration_us,
        discontinuity=disc, disc_count=disc_count + (1 if disc else 0), session=seg.session,
        enc_offset=enc_offset, inits=dict(seg.inits),
    )
    new_runs.append(run)
    return Append(tuple(new_runs), False, seq)


def _extend(tail: Run, duration_us: int) -> Run | None:
    """Return the tail with one more segment, or None when a new run must start."""
    if tail.durations is None and duration_us == tail.duration_us:
        return replace(tail, count=tail.count + 1, end_us=tail.end_us + duration_us)
    if not _same_hour(tail.start_us, tail.end_us):
        return None  # a varied run holds segments starting inside one UTC hour
    durs = tail.durations or pack_durations([tail.duration_us or 0] * tail.count)
    return replace(tail, count=tail.count + 1, duration_us=None,
                   durations=durs + pack_durations([duration_us]), end_us=tail.end_us + duration_us)


def _same_hour(a_us: int, b_us: int) -> bool:
    return a_us // HOUR_US == b_us // HOUR_US


def live_gap_count(tail: Run, *, now_us: int, nominal_us: int, hold_us: int,
                   last_publish_us: int | None = None) -> int:
    """Return how many gap entries a live playlist shows after tail while no segment arrives.

    The source counts as down once nothing was published for hold_us (by wall clock, so
    an encoder that lags real time but keeps delivering never shows gaps). Then slot k
    after the last segment is shown once it should have ended more than hold_us ago, so
    the live window keeps advancing in wall-clock time during an outage.
    """
    published = tail.end_us if last_publish_us is None else last_publish_us
    if now_us - published < hold_us:
        return 0
    elapsed = now_us - tail.end_us - hold_us
    return max(0, elapsed // nominal_us)


def live_gaps_valid_until(tail: Run, count: int, *, nominal_us: int, hold_us: int,
                          last_publish_us: int | None = None) -> int:
    """Return when live_gap_count next changes, given it is `count` now (for caching)."""
    published = tail.end_us if last_publish_us is None else last_publish_us
    if count == 0:
        return max(published + hold_us, tail.end_us + hold_us + nominal_us)
    return tail.end_us + hold_us + (count + 1) * nominal_us


def live_gaps(tail: Run, *, now_us: int, nominal_us: int, hold_us: int,
              last_publish_us: int | None = None) -> list[Segment]:
    """Return the gap entries counted by live_gap_count, as segments after tail."""
    n = live_gap_count(tail, now_us=now_us, nominal_us=nominal_us, hold_us=hold_us,
                       last_publish_us=last_publish_us)
    if n == 0:
        return []
    gap_run = make_run(first_seq=tail.last_seq + 1, start_us=tail.end_us, count=n, duration_us=nominal_us,
                       gap=True, discontinuity=True, disc_count=tail.disc_count + 1, session=-1)
    return list(gap_run.segments())


def _ends(run: Run) -> list[int]:
    return list(accumulate(run.duration_list(), initial=run.start_us))[1:]


def expired_ranges(run: Run, cutoff_us: int, pins: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return index ranges [lo, hi) of the run's segments that ended by cutoff_us and no pin
    [start, end) overlaps: what retention may delete."""
    if run.start_us >= cutoff_us:
        return []
    if run.durations is None:
        d = run.duration_us or 1
        head = max(0, min(run.count, (cutoff_us - run.start_us) // d))
        index_of = lambda t: (t - run.start_us) // d  # noqa: E731
    else:
        ends = _ends(run)
        head = bisect.bisect_right(ends, cutoff_us)
        index_of = lambda t: bisect.bisect_right(ends, t)  # noqa: E731
    ranges = [(0, head)] if head else []
    for start, end in pins:
        if end <= run.start_us or start >= run.end_us:
            continue
        lo, hi = max(0, index_of(start)), min(run.count, index_of(end - 1) + 1)
        ranges = [piece for a, b in ranges for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[0] < piece[1]]
    return ranges


def cut_run(run: Run, drop: Sequence[tuple[int, int]]) -> list[Run]:
    """Return what is left of a run once the index ranges in drop are taken out, as runs."""
    keep, at = [], 0
    for lo, hi in sorted(drop):
        if lo > at:
            keep.append((at, lo))
        at = max(at, hi)
    if at < run.count:
        keep.append((at, run.count))
    durations = run.duration_list() if run.durations is not None else None
    pieces = []
    for lo, hi in keep:
        start = run.start_us + (sum(durations[:lo]) if durations is not None else lo * (run.duration_us or 0))
        pieces.append(make_run(
            first_seq=run.first_seq + lo, start_us=start, count=hi - lo, duration_us=run.duration_us,
            durations=pack_durations(durations[lo:hi]) if durations is not None else None,
            discontinuity=run.discontinuity and lo == 0, disc_count=run.disc_count, gap=run.gap,
            session=run.session, enc_offset=run.enc_offset, inits=run.inits))
    return pieces
