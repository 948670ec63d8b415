"""Ingest bookkeeping as pure data: what each pushed track has sent, and what may publish.

A channel's ingest state is one ``ChannelIngest`` (its ``channel_timeline_state`` row) and
one ``TrackIngest`` per track (segment set x rendition, an ``ingest_tracks`` row). Segments
whose bytes are stored but that are not on the timeline yet wait in their track's
``pending`` list. ``streaming.ingest`` loads the state under the channel's row lock, applies
one pushed file with these functions and writes back only what changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from streaming.formats.hls_input import EncoderSegment
from streaming.ingest.errors import DuplicateSegment, OutOfOrderSegment
from streaming.timeline.runs import (
    CONTIGUITY_TOLERANCE_US,
    NewSegment,
    Run,
    live_gap_count,
    plan_append,
)

# How far back an encoder sequence number may go before it means "the encoder restarted"
# rather than "this segment arrived late or twice".
REORDER_WINDOW = 3
# A pending segment whose timing never arrived is dropped after this many target durations.
ABANDON_FACTOR = 10
EWMA_ALPHA = 0.05
# Timing announced by an encoder playlist for segments not received yet (playlist first).
ANNOUNCED_KEPT = 10
# An encoder's PROGRAM-DATE-TIME more than this before the segment arrived is a wrong clock,
# not a late encoder: the segment is timed by its arrival instead (years-wide holes otherwise).
MAX_ENCODER_LAG_US = 3600 * 1_000_000


@dataclass(slots=True)
class PendingEntry:
    """A stored segment of one track, waiting for its timing or for the other tracks."""

    session: int
    encseq: int
    size: int
    init_hash: str | None
    received_us: int
    duration_us: int | None = None
    pdt_us: int | None = None
    discontinuity: bool = False

    def to_json(self) -> list:
        """Return the stored (JSON) form."""
        return [self.session, self.encseq, self.size, self.init_hash, self.received_us,
                self.duration_us, self.pdt_us, self.discontinuity]

    @classmethod
    def from_json(cls, item: Sequence) -> "PendingEntry":
        """Read the stored form."""
        return cls(int(item[0]), int(item[1]), int(item[2]), item[3], int(item[4]), item[5], item[6],
                   bool(item[7]))


@dataclass(slots=True)
class TrackIngest:
    """What ingest knows of one pushed track of a channel."""

    track: str
    session: int = 0
    last_encseq: int = -1
    init_hash: str | None = None
    # Set by an init segment: encoders send one when they (re)start, so a lower sequence
    # number right after it means a restart, not a late segment.
    init_since_segment: bool = False
    # [[encseq, duration_us, pdt_us, discontinuity], ...] from the encoder's last playlist:
    # encoders upload a segment and its playlist on parallel connections, so the playlist
    # may arrive first; the segment then finds its timing here.
    announced: list[list] = field(default_factory=list)
    pending: list[PendingEntry] = field(default_factory=list)
    peak_bps: int = 0
    avg_bps: int = 0
    # {track_id: [timescale, default sample duration, handler]} of the current init segment
    init_timing: dict[int, list] = field(default_factory=dict)
    changed: bool = False


@dataclass(slots=True)
class ChannelIngest:
    """A channel's ingest state: its tracks and the facts publishing needs."""

    channel_id: str
    last_session: int
    version: int
    last_publish_us: int
    tracks: dict[str, TrackIngest]
    changed: bool = False
    packager_epoch: int = 0  # the newest packager node's epoch (see admit_epoch)


@dataclass
class Published:
    """What publish_ready did: runs to write (by first sequence number), holes, dropped segments
    (their timing never came) and refused ones (they would end ahead of the wall clock)."""

    count: int = 0
    runs: dict[int, Run] = field(default_factory=dict)
    holes: list[tuple[int, str]] = field(default_factory=list)
    dropped: list[tuple[str, PendingEntry]] = field(default_factory=list)
    refused: list[tuple[str, PendingEntry]] = field(default_factory=list)
    tail: Run | None = None


def admit_epoch(chan: ChannelIngest, epoch: int | None) -> bool:
    """Tell whether a push from a packager node of this epoch may be taken, noting a newer one.

    A node that took the channel later has a higher epoch: pushes of an older one come from a
    node that lost the channel (Redis was away) and must not feed the timeline. A push with no
    epoch (an external encoder) is not fenced.
    """
    if epoch is None:
        return True
    if epoch < chan.packager_epoch:
        return False
    if epoch > chan.packager_epoch:
        chan.packager_epoch, chan.changed = epoch, True
    return True


def decide_session(chan: ChannelIngest, track: TrackIngest, encseq: int) -> int:
    """Return the encoder session a segment belongs to, refusing duplicates and late arrivals."""
    if track.last_encseq < 0:
        return chan.last_session or 1
    if encseq > track.last_encseq:
        return track.session
    if encseq >= track.last_encseq - REORDER_WINDOW and not track.init_since_segment:
        if encseq == track.last_encseq or any(
                p.session == track.session and p.encseq == encseq for p in track.pending):
            raise DuplicateSegment(f"segment {encseq} of {track.track} was already received",
                                   encoder_sequence=encseq)
        raise OutOfOrderSegment(
            f"segment {encseq} of {track.track} arrived after {track.last_encseq}",
            encoder_sequence=encseq, last=track.last_encseq,
        )
    # Far behind: the encoder restarted. Join the newest session if another track already
    # opened it, otherwise open a new one.
    if track.session < chan.last_session:
        return chan.last_session
    return chan.last_session + 1


def receive_init(track: TrackIngest, init_hash: str, timing: dict[int, list]) -> None:
    """Record a track's new init segment: a new encoder session may follow."""
    track.init_hash = init_hash
    track.init_timing = timing
    track.init_since_segment = True
    track.announced = []  # earlier announcements belong to the previous session
    track.changed = True


def receive_segment(chan: ChannelIngest, track: TrackIngest, *, session: int, encseq: int,
                    size: int, now_us: int, duration_us: int | None = None) -> bool:
    """Record a stored segment as pending; return True when its timing is already known.

    Timing comes from what the encoder's playlist announced, else from duration_us (read
    from the segment itself; its wall-clock time is then taken from its arrival).
    """
    if session > chan.last_session:
        chan.last_session, chan.changed = session, True
    track.session, track.last_encseq, track.init_since_segment = session, encseq, False
    timing = next((a for a in track.announced if a[0] == encseq), None)
    entry = PendingEntry(session, encseq, size, track.init_hash, now_us)
    if timing is not None:
        entry.duration_us, entry.pdt_us, entry.discontinuity = timing[1], timing[2], bool(timing[3])
    elif duration_us is not None:
        entry.duration_us = duration_us
    track.pending.append(entry)
    track.changed = True
    return entry.duration_us is not None


def receive_playlist(track: TrackIngest, entries: Sequence[EncoderSegment],
                     limit_us: int) -> list[PendingEntry]:
    """Time the track's pending segments from its encoder's playlist; return those too long.

    RFC 8216 4.3.3.1: an EXTINF rounded must not exceed TARGETDURATION, so a segment
    announced at limit_us or longer is refused (taken out of pending).
    """
    by_encseq = {e.encseq: e for e in entries}
    if any(e.duration_us >= limit_us for e in entries):
        track.announced = []
    else:
        track.announced = [[e.encseq, e.duration_us, e.pdt_us, e.discontinuity]
                           for e in entries[-ANNOUNCED_KEPT:] if e.encseq > track.last_encseq]
    rejected: list[PendingEntry] = []
    kept: list[PendingEntry] = []
    for p in track.pending:
        e = by_encseq.get(p.encseq) if p.session == track.session and p.duration_us is None else None
        if e is not None and e.duration_us >= limit_us:
            rejected.append(p)
            continue
        if e is not None:
            p.duration_us, p.pdt_us, p.discontinuity = e.duration_us, e.pdt_us, e.discontinuity
        kept.append(p)
    track.pending = kept
    track.changed = True
    return rejected


@dataclass(frozen=True)
class PublishRules:
    """The channel facts and timings publishing follows."""

    tracks: tuple[str, ...]  # every track a complete segment has, in the spec's order
    nominal_us: int  # the channel's segment duration
    target_us: int  # TARGETDURATION
    deadline_us: int  # wait this long for late tracks, then publish without them
    hold_us: int  # publish nothing this long and live playlists show gap entries

    @property
    def ahead_us(self) -> int:
        """Return how long after it arrived a segment may end on the timeline: half a segment.

        Less than one segment, so no whole segment of another pusher fits ahead of the wall
        clock; far more than NTP skew between an encoder and us, or the jitter of uploads.
        """
        return self.nominal_us // 2


def publish_ready(chan: ChannelIngest, rules: PublishRules, load_tail: Callable[[], Run | None],
                  *, now_us: int) -> Published:
    """Publish pending segments in encoder order while each is complete or past its deadline.

    load_tail is called once, and only when something publishes.
    """
    out = Published()
    groups: dict[tuple[int, int], list[tuple[TrackIngest, PendingEntry]]] = defaultdict(list)
    for t in chan.tracks.values():
        for p in t.pending:
            groups[(p.session, p.encseq)].append((t, p))
    tail: Run | None = None
    loaded = False
    done: set[tuple[int, int]] = set()
    for key in sorted(groups):
        group = groups[key]
        timed = [(t, p) for t, p in group if p.duration_us is not None]
        age = now_us - min(p.received_us for _, p in group)
        if len(timed) != len(rules.tracks):
            if age > ABANDON_FACTOR * rules.target_us and not timed:
                out.dropped += [(t.track, p) for t, p in group]
                done.add(key)
                continue
            if not timed or age < rules.deadline_us:
                break
        if not loaded:
            tail, loaded = load_tail(), True
        done.add(key)
        start = segment_start(chan, rules, tail, timed, now_us)
        if start is None:
            out.refused += [(t.track, p) for t, p in group]
            continue
        tail = _publish_one(rules, tail, key, timed, out, start)
        chan.last_publish_us = now_us
        out.count += 1
    if done:
        for t in chan.tracks.values():
            kept = [p for p in t.pending if (p.session, p.encseq) not in done]
            if len(kept) != len(t.pending):
                t.pending, t.changed = kept, True
    if out.count:
        chan.version += 1
        out.tail = tail
    if done:
        chan.changed = True
    return out


def _reference(rules: PublishRules, timed: list[tuple[TrackIngest, PendingEntry]]) -> PendingEntry:
    """Return the track whose timing the segment takes: the first in the spec's order."""
    order = {name: i for i, name in enumerate(rules.tracks)}
    return min(timed, key=lambda tp: order.get(tp[0].track, len(order)))[1]


def segment_start(chan: ChannelIngest, rules: PublishRules, tail: Run | None,
                  timed: list[tuple[TrackIngest, PendingEntry]], now_us: int) -> int | None:
    """Return where a complete segment starts on the timeline, or None to refuse it.

    The wall clock bounds what any encoder says: a PROGRAM-DATE-TIME that would have the
    segment end after it arrived (beyond ``rules.ahead_us``), that lies behind the tail, or
    that is more than MAX_ENCODER_LAG_US old is a clock that jumped or another pusher's, and
    the segment is timed by its arrival instead, as segments without one are: contiguous with
    the tail when it came on time. A segment that even so would end ahead of the wall clock
    (it arrived faster than real time: another pusher's between the encoder's own) is refused,
    so the live edge never runs ahead of real time and the encoder's next segments land where
    their own clock says, with no drift to carry.
    """
    ref = _reference(rules, timed)
    duration = ref.duration_us or rules.nominal_us
    latest_end = max(p.received_us for _, p in timed) + rules.ahead_us
    pdt = next((p.pdt_us for _, p in timed if p.pdt_us is not None), None)
    if pdt is not None and not (ref.received_us - MAX_ENCODER_LAG_US <= pdt + duration <= latest_end
                                and (tail is None or pdt >= tail.end_us - CONTIGUITY_TOLERANCE_US)):
        pdt = None
    if pdt is None:
        # No wall-clock from the encoder: the segment ended about when it arrived.
        arrived_start = ref.received_us - duration
        if tail is not None and arrived_start - tail.end_us < rules.nominal_us:
            pdt = tail.end_us
        else:
            pdt = arrived_start
    if tail is not None:
        # Gap entries origins already showed for a stalled source stay where they were:
        # a late segment goes after them rather than rewriting what players saw.
        shown = live_gap_count(tail, now_us=now_us, nominal_us=rules.nominal_us, hold_us=rules.hold_us,
                               last_publish_us=chan.last_publish_us or tail.end_us)
        pdt = max(pdt, tail.end_us + shown * rules.nominal_us)
    return None if pdt + duration > latest_end else pdt


def _publish_one(rules: PublishRules, tail: Run | None, key: tuple[int, int],
                 timed: list[tuple[TrackIngest, PendingEntry]], out: Published, start_us: int) -> Run:
    duration = _reference(rules, timed).duration_us or rules.nominal_us
    # A rendition missing from this segment keeps its init: only a real change of init
    # segments is a discontinuity.
    inits = dict(tail.inits if tail else {})
    for t, p in timed:
        # An encoder may push a track's first init just after its first segment.
        if p.init_hash or t.init_hash:
            inits[t.track] = p.init_hash or t.init_hash
    plan = plan_append(
        tail,
        NewSegment(start_us=start_us, duration_us=duration, session=key[0], encseq=key[1], inits=inits,
                   discontinuity=any(p.discontinuity for _, p in timed)),
        nominal_us=rules.nominal_us,
    )
    for run in plan.runs:
        out.runs[run.first_seq] = run
    present = {t.track for t, _ in timed}
    out.holes += [(plan.seq, name) for name in rules.tracks if name not in present]
    for t, p in timed:
        _account_bandwidth(t, p.size, p.duration_us or duration)
    return plan.runs[-1]


def _account_bandwidth(track: TrackIngest, size: int, duration_us: int) -> None:
    if duration_us <= 0:
        return
    bps = int(size * 8 * 1_000_000 / duration_us)
    track.peak_bps = max(track.peak_bps or 0, bps)
    track.avg_bps = bps if not track.avg_bps else int(track.avg_bps + EWMA_ALPHA * (bps - track.avg_bps))
    track.changed = True
