"""The timeline index: channel specs, runs and holes, stored and queried; services take ``db_session``, never commit."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from catalog.channels.events import ChannelCreated, ChannelDeleted
from streaming.formats.hls import format_pdt
from streaming.ingest.models import IngestTrack
from streaming.packager.models import ChannelStatus
from streaming.timeline.models import (
    ChannelTimelineState,
    SegmentHole,
    SegmentRun,
    TimelinePin,
)
from streaming.timeline.runs import Run
from streaming.timeline.windows import missing_ranges

TIMELINE_TOPIC = "timeline."
SEGMENT_EXT = {"cmaf": "m4s", "ts": "ts"}


def segment_key(channel_id: str, track: str, session: int, encseq: int) -> str:
    """Return the object key of a pushed segment.

    Keys are fixed when the bytes arrive, before the encoder's playlist tells their time,
    so they are laid out by encoder session and sequence (see docs/architecture.md).
    """
    seg_set = track.split("/", 1)[0]
    return f"live/{channel_id}/{track}/{session}/{encseq // 1000}/{encseq}.{SEGMENT_EXT[seg_set]}"


def init_key(channel_id: str, track: str, init_hash: str) -> str:
    """Return the object key of an initialisation segment, named by its content hash."""
    return f"live/{channel_id}/{track}/init/{init_hash}.mp4"


@dataclass(frozen=True, slots=True)
class RenditionView:
    """A rendition as the origin needs it."""

    name: str
    width: int
    height: int
    frame_rate: float
    codecs: str
    configured_bps: int


@dataclass(frozen=True, slots=True)
class AudioView:
    """A demuxed audio rendition as the origin needs it."""

    name: str
    language: str
    label: str
    default: bool
    configured_bps: int


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel's packaging facts, detached from the database."""

    id: str
    enabled: bool
    segment_sets: tuple[str, ...]
    renditions: tuple[RenditionView, ...]
    segment_duration_us: int
    target_duration_s: int
    timeshift_window_s: int
    ingest_key_version: int = 1
    audio: tuple[AudioView, ...] = ()
    # Pushed by our own packager (the channel has a source): CMAF segments are timed from
    # their own boxes and that encoder's playlists add nothing.
    packaged: bool = False
    # AES-128: a key per key_period_segments segments (0 when not encrypted).
    key_period_segments: int = 0

    @property
    def tracks(self) -> tuple[str, ...]:
        """Return every track (segment set / rendition or audio track) ingest must receive."""
        names = [r.name for r in self.renditions] + [a.name for a in self.audio]
        return tuple(f"{s}/{n}" for s in self.segment_sets for n in names)

    def audio_track(self, name: str) -> AudioView | None:
        """Return the demuxed audio track called name, if any."""
        return next((a for a in self.audio if a.name == name), None)

    def rendition(self, name: str) -> RenditionView | None:
        """Return the rendition called name, if any."""
        return next((r for r in self.renditions if r.name == name), None)


def channel_spec(*, db_session: Session, channel_id: str) -> ChannelSpec:
    """Return a channel's packaging facts or raise ChannelNotFound."""
    ch = catalog_service.get(db_session=db_session, channel_id=channel_id)
    return ChannelSpec(
        id=ch.id,
        enabled=ch.enabled,
        segment_sets=tuple(ch.segment_sets),
        renditions=tuple(
            RenditionView(
                r.name, r.width, r.height, r.frame_rate, r.codecs,
                (r.video_bitrate_kbps + (0 if ch.audio_tracks else r.audio_bitrate_kbps)) * 1000,
            )
            for r in ch.renditions
        ),
        segment_duration_us=ch.segment_duration_ms * 1000,
        target_duration_s=ch.target_duration_s,
        timeshift_window_s=ch.timeshift_window_s,
        ingest_key_version=ch.ingest_key_version,
        audio=tuple(
            AudioView(a["name"], a["language"], a["label"], bool(a.get("default")),
                      int(a.get("bitrate_kbps", 96)) * 1000)
            for a in ch.audio_tracks or []
        ),
        packaged=ch.source_url is not None,
        key_period_segments=(max(1, round(ch.key_rotation_s * 1000 / ch.segment_duration_ms))
                             if ch.encryption == "aes-128" else 0),
    )


class SpecCache:
    """Channel specs kept in memory for ingest: a PUT needs no query to know its channel.

    Entries are dropped at once when the bus says the channel changed; TTL_S bounds how long
    a lost bus message can leave a stale spec (a disabled channel still taking pushes). While the
    database is away an expired entry is still the best there is (``stale``).
    """

    TTL_S = 30.0

    def __init__(self) -> None:
        self._specs: dict[str, tuple[float, ChannelSpec]] = {}

    def get(self, channel_id: str) -> ChannelSpec | None:
        """Return a fresh cached spec, if any."""
        item = self._specs.get(channel_id)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def stale(self, channel_id: str) -> ChannelSpec | None:
        """Return the cached spec however old it is (for when the database cannot be asked)."""
        item = self._specs.get(channel_id)
        return item[1] if item is not None else None

    def put(self, spec: ChannelSpec) -> None:
        """Remember a spec just read from the database."""
        self._specs[spec.id] = (time.monotonic() + self.TTL_S, spec)

    def forget(self, topic: str, _message: dict | None = None) -> None:
        """Drop a channel's spec (a bus callback on "channel.{id}")."""
        self._specs.pop(topic.split(".", 1)[-1], None)


def to_run(row) -> Run:  # noqa: ANN001 - an ORM SegmentRun or a Core row of segment_runs
    """Convert a stored run to the pure type."""
    return Run(
        first_seq=row.first_seq, start_us=row.start_us, count=row.count,
        duration_us=row.duration_us, durations=row.durations, discontinuity=row.discontinuity,
        disc_count=row.disc_count, gap=row.gap, session=row.session, enc_offset=row.enc_offset,
        inits=dict(row.inits or {}), end_us=row.end_us,
    )


def run_values(run: Run, channel_id: str) -> dict:
    """Return a run as column values of a segment_runs row."""
    return {"channel_id": channel_id, "first_seq": run.first_seq, "start_us": run.start_us,
            "end_us": run.end_us, "count": run.count, "duration_us": run.duration_us,
            "durations": run.durations, "discontinuity": run.discontinuity,
            "disc_count": run.disc_count, "gap": run.gap, "session": run.session,
            "enc_offset": run.enc_offset, "inits": dict(run.inits)}


_RUNS = SegmentRun.__table__
_UPDATE_RUN = (update(_RUNS)
               .where(_RUNS.c.channel_id == bindparam("k_channel"), _RUNS.c.first_seq == bindparam("k_first_seq"))
               .values({c: bindparam("v_" + c) for c in ("start_us", "end_us", "count", "duration_us",
                                                        "durations", "discontinuity", "disc_count",
                                                        "gap", "session", "enc_offset", "inits")}))


def write_runs(*, db_session: Session, channel_id: str, runs: Iterable[Run],
               replace_first_seq: int | None = None) -> None:
    """Insert runs; the one starting at replace_first_seq (the old tail) is updated in place."""
    conn = db_session.connection()
    inserts = []
    for run in runs:
        values = run_values(run, channel_id)
        if run.first_seq == replace_first_seq:
            conn.execute(_UPDATE_RUN, {"k_channel": channel_id, "k_first_seq": run.first_seq,
                                       **{"v_" + k: v for k, v in values.items()
                                          if k not in ("channel_id", "first_seq")}})
        else:
            inserts.append(values)
    if inserts:
        conn.execute(insert(_RUNS), inserts)


def runs_in_window(*, db_session: Session, channel_id: str, start_us: int, end_us: int) -> list[Run]:
    """Return the runs overlapping [start_us, end_us): the one before start plus those inside.

    Two index range scans on (channel_id, start_us): the cost follows the window, not the
    size of the archive.
    """
    before = db_session.scalars(
        select(SegmentRun)
        .where(SegmentRun.channel_id == channel_id, SegmentRun.start_us < start_us)
        .order_by(SegmentRun.start_us.desc())
        .limit(1)
    ).all()
    inside = db_session.scalars(
        select(SegmentRun)
        .where(
            SegmentRun.channel_id == channel_id,
            SegmentRun.start_us >= start_us,
            SegmentRun.start_us < end_us,
        )
        .order_by(SegmentRun.start_us)
    ).all()
    runs = [to_run(r) for r in before if r.end_us > start_us]
    return runs + [to_run(r) for r in inside]


def runs_from_seq(*, db_session: Session, channel_id: str, first_seq: int) -> list[Run]:
    """Return the run holding first_seq and every run after it."""
    start = db_session.scalar(
        select(SegmentRun.first_seq)
        .where(SegmentRun.channel_id == channel_id, SegmentRun.first_seq <= first_seq)
        .order_by(SegmentRun.first_seq.desc())
        .limit(1)
    )
    rows = db_session.scalars(
        select(SegmentRun)
        .where(SegmentRun.channel_id == channel_id,
               SegmentRun.first_seq >= (start if start is not None else first_seq))
        .order_by(SegmentRun.first_seq)
    ).all()
    return [to_run(r) for r in rows]


def run_holding(*, db_session: Session, channel_id: str, seq: int) -> Run | None:
    """Return the run holding a sequence number, if the index has it."""
    row = db_session.scalar(select(SegmentRun).where(SegmentRun.channel_id == channel_id,
                                                     SegmentRun.first_seq <= seq)
                            .order_by(SegmentRun.first_seq.desc()).limit(1))
    run = to_run(row) if row is not None else None
    return run if run is not None and run.last_seq >= seq else None


def tail_run(*, db_session: Session, channel_id: str) -> Run | None:
    """Return the newest run of a channel."""
    row = db_session.connection().execute(
        select(_RUNS).where(_RUNS.c.channel_id == channel_id).order_by(_RUNS.c.first_seq.desc()).limit(1)
    ).first()
    return to_run(row) if row is not None else None


def add_holes(*, db_session: Session, channel_id: str, holes: Iterable[tuple[int, str]]) -> None:
    """Record timeline segments some tracks lack."""
    rows = [{"channel_id": channel_id, "seq": seq, "track": track} for seq, track in holes]
    if rows:
        db_session.connection().execute(insert(SegmentHole.__table__), rows)


def ts_channel_ids(*, db_session: Session) -> list[str]:
    """Return the enabled channels that package the MPEG-TS set (they need outage slates)."""
    rows, _ = catalog_service.list_channels(db_session=db_session, enabled=True, limit=10_000)
    return [c.id for c in rows if "ts" in c.segment_sets]


def holes_from(*, db_session: Session, channel_id: str, first_seq: int) -> set[tuple[int, str]]:
    """Return (seq, track) pairs missing from first_seq on."""
    rows = db_session.execute(
        select(SegmentHole.seq, SegmentHole.track).where(
            SegmentHole.channel_id == channel_id, SegmentHole.seq >= first_seq
        )
    ).all()
    return {(seq, track) for seq, track in rows}


def track_bandwidth(*, db_session: Session, channel_id: str) -> dict[str, tuple[int, int]]:
    """Return measured (peak, average) bits per second of each track."""
    rows = db_session.scalars(select(IngestTrack).where(IngestTrack.channel_id == channel_id)).all()
    return {r.track: (r.peak_bps, r.avg_bps) for r in rows}


def timeline_version(*, db_session: Session, channel_id: str) -> tuple[int, int]:
    """Return the channel's timeline version (bumped on every publish) and last publish time."""
    state = db_session.get(ChannelTimelineState, channel_id)
    return (state.version, state.last_publish_us) if state else (0, 0)


def gap_hold_us(spec: "ChannelSpec", publish_deadline_factor: float) -> int:
    """Return how long a channel may publish nothing before live playlists show gap entries.

    1.5 target durations (RFC 8216 6.2.1) plus the time a segment may wait for a late
    rendition, so a slow rendition never looks like an outage.
    """
    return int((1.5 + publish_deadline_factor) * spec.target_duration_s * 1_000_000)


def init_channel(*, db_session: Session, channel_id: str, tracks: list[str]) -> None:
    """Create a new channel's ingest rows up front, so concurrent first pushes never race to insert."""
    db_session.add(ChannelTimelineState(channel_id=channel_id, last_session=0, version=0,
                                        last_publish_us=0))
    for track in tracks:
        db_session.add(IngestTrack(channel_id=channel_id, track=track, session=0, last_encseq=-1,
                                   peak_bps=0, avg_bps=0, init_since_segment=False, announced=[],
                                   pending=[], pending_n=0, init_timing=[]))
    db_session.flush()


def forget_channel(*, db_session: Session, channel_id: str) -> None:
    """Delete a channel's timeline and ingest state (rows only; objects age out)."""
    # The state row first: ingest locks it before the track rows, so deleting in the same
    # order never deadlocks with a push in flight.
    for model in (ChannelTimelineState, IngestTrack, SegmentRun, SegmentHole):
        db_session.execute(delete(model).where(model.channel_id == channel_id))


def start_channel_timeline(db_session: Session, event: ChannelCreated) -> None:
    """Start a new channel's timeline (subscribed to `ChannelCreated`)."""
    init_channel(db_session=db_session, channel_id=event.channel_id, tracks=list(event.tracks))


def drop_channel_timeline(db_session: Session, event: ChannelDeleted) -> None:
    """Drop a deleted channel's timeline rows (subscribed to `ChannelDeleted`)."""
    forget_channel(db_session=db_session, channel_id=event.channel_id)


def min_target_duration(segment_duration_us: int) -> int:
    """Return the smallest TARGETDURATION a segment duration allows."""
    return math.ceil(segment_duration_us / 1_000_000)


def channel_statuses(*, db_session: Session, channel_ids: list[str]) -> dict[str, dict]:
    """Return the packager state and last publish time of channels, for the API."""
    statuses = {r.channel_id: r for r in db_session.scalars(
        select(ChannelStatus).where(ChannelStatus.channel_id.in_(channel_ids))).all()}
    timelines = {r.channel_id: r for r in db_session.scalars(
        select(ChannelTimelineState).where(ChannelTimelineState.channel_id.in_(channel_ids))).all()}
    out = {}
    for cid in channel_ids:
        st, tl = statuses.get(cid), timelines.get(cid)
        published = tl.last_publish_us if tl and tl.last_publish_us else None
        out[cid] = {
            "channel_id": cid,
            # A channel without a packager row is pushed by an external encoder: it is live
            # when segments arrive.
            "state": st.state if st else ("live" if published else "waiting"),
            "reason": st.reason if st else None,
            "restarts": st.restarts if st else 0,
            "current_source": st.current_source if st else None,
            "node": st.node if st else None,
            "last_segment_at": format_pdt(published) if published else None,
            "updated_at": format_pdt(st.updated_us) if st else None,
        }
    return out


def pins_of(*, db_session: Session, channel_id: str) -> list[tuple[int, int]]:
    """Return the pinned ranges of a channel's timeline."""
    return [(p.start_us, p.end_us) for p in db_session.scalars(
        select(TimelinePin).where(TimelinePin.channel_id == channel_id))]


def pin_range(*, db_session: Session, owner: str, channel_id: str, start_us: int, end_us: int) -> None:
    """Keep [start_us, end_us) of a channel from retention for owner (idempotent: one pin per owner)."""
    pin = db_session.get(TimelinePin, (owner, channel_id))
    if pin is None:
        db_session.add(TimelinePin(owner=owner, channel_id=channel_id, start_us=start_us, end_us=end_us))
    else:
        pin.start_us, pin.end_us = start_us, end_us
    db_session.flush()


def unpin(*, db_session: Session, owner: str) -> None:
    """Release an owner's pins."""
    db_session.execute(delete(TimelinePin).where(TimelinePin.owner == owner))


def missing_in_window(*, db_session: Session, channel_id: str, start_us: int, end_us: int) -> list[tuple[int, int]]:
    """Return the ranges of [start_us, end_us) that the channel's archive does not hold."""
    return missing_ranges(runs_in_window(db_session=db_session, channel_id=channel_id, start_us=start_us,
                                         end_us=end_us), start_us, end_us)
