"""Timeline storage and queries. Services take ``db_session`` and never commit."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog import service as catalog_service
from streaming.models import ChannelTimelineState, IngestTrack, PendingSegment, SegmentHole, SegmentRun
from streaming.timeline import Run

TIMELINE_TOPIC = "timeline."
SEGMENT_EXT = {"cmaf": "m4s", "ts": "ts"}


def ingest_key(secret: str, channel_id: str, version: int) -> str:
    """Return the ingest password of a channel, derived so no plain key is stored."""
    digest = hmac.new(secret.encode(), f"ingest:{channel_id}:{version}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def check_ingest_key(secret: str, spec: "ChannelSpec", presented: str | None) -> bool:
    """Tell whether presented is the channel's current ingest password (constant time)."""
    expected = ingest_key(secret, spec.id, spec.ingest_key_version)
    return presented is not None and hmac.compare_digest(expected, presented)


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
    )


class SpecCache:
    """Channel specs kept in memory for ingest: a PUT needs no query to know its channel.

    Entries live SPEC_TTL_S and are dropped at once when the bus says the channel changed.
    """

    TTL_S = 5.0

    def __init__(self) -> None:
        self._specs: dict[str, tuple[float, ChannelSpec]] = {}

    def get(self, channel_id: str) -> ChannelSpec | None:
        """Return a fresh cached spec, if any."""
        import time

        item = self._specs.get(channel_id)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, spec: ChannelSpec) -> None:
        """Remember a spec just read from the database."""
        import time

        self._specs[spec.id] = (time.monotonic() + self.TTL_S, spec)

    def forget(self, topic: str, _message: dict | None = None) -> None:
        """Drop a channel's spec (a bus callback on "channel.{id}")."""
        self._specs.pop(topic.split(".", 1)[-1], None)


def to_run(row: SegmentRun) -> Run:
    """Convert a stored run to the pure type."""
    return Run(
        first_seq=row.first_seq, start_us=row.start_us, count=row.count,
        duration_us=row.duration_us, durations=row.durations, discontinuity=row.discontinuity,
        disc_count=row.disc_count, gap=row.gap, session=row.session, enc_offset=row.enc_offset,
        inits=dict(row.inits or {}), end_us=row.end_us,
    )


def write_run(row: SegmentRun | None, run: Run, channel_id: str) -> SegmentRun:
    """Copy a pure run onto a (new or existing) row."""
    row = row or SegmentRun(channel_id=channel_id)
    row.first_seq, row.start_us, row.end_us, row.count = run.first_seq, run.start_us, run.end_us, run.count
    row.duration_us, row.durations = run.duration_us, run.durations
    row.discontinuity, row.disc_count, row.gap = run.discontinuity, run.disc_count, run.gap
    row.session, row.enc_offset, row.inits = run.session, run.enc_offset, dict(run.inits)
    return row


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
        .where(SegmentRun.channel_id == channel_id, SegmentRun.first_seq >= (start or first_seq))
        .order_by(SegmentRun.first_seq)
    ).all()
    return [to_run(r) for r in rows]


def tail_row(*, db_session: Session, channel_id: str) -> SegmentRun | None:
    """Return the newest run of a channel."""
    return db_session.scalars(
        select(SegmentRun)
        .where(SegmentRun.channel_id == channel_id)
        .order_by(SegmentRun.first_seq.desc())
        .limit(1)
    ).first()


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
                                   peak_bps=0, avg_bps=0, init_since_segment=False, announced=[]))
    db_session.flush()


def forget_channel(*, db_session: Session, channel_id: str) -> None:
    """Delete a channel's timeline and ingest state (rows only; objects age out)."""
    for model in (SegmentRun, SegmentHole, PendingSegment, IngestTrack, ChannelTimelineState):
        db_session.execute(delete(model).where(model.channel_id == channel_id))


def min_target_duration(segment_duration_us: int) -> int:
    """Return the smallest TARGETDURATION a segment duration allows."""
    return math.ceil(segment_duration_us / 1_000_000)


def channel_statuses(*, db_session: Session, channel_ids: list[str]) -> dict[str, dict]:
    """Return the packager state and last publish time of channels, for the API."""
    from streaming.models import ChannelStatus
    from streaming.playlist import format_pdt

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
