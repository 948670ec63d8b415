"""Ingest: segments, init segments and encoder playlists pushed over HTTP PUT.

Order of work for a media segment: decide its encoder session, store its bytes, then
record it as pending in one short transaction. A segment is published to the timeline
when every track (segment set x rendition) has it and its timing is known from the
encoder playlist, or when a deadline passes (missing tracks then get a hole). Nothing
enters the timeline before its bytes are stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from infra.runtime import Runtime, notify_after_commit
from streaming import service
from streaming.errors import (
    ChannelDisabled, DuplicateSegment, IngestUnauthorized, InvalidEncoderPlaylist, InvalidIngestPath, NotMedia,
    OutOfOrderSegment, PayloadTooLarge, SegmentTooLong, UnknownSegmentSet, UnsupportedIngestFile,
)
from streaming.hls_input import (
    FILENAME_RE, EncoderPlaylistError, encoder_sequence, looks_like_fmp4_media, looks_like_init,
    looks_like_ts, parse_encoder_playlist,
)
from streaming.models import ChannelTimelineState, IngestTrack, PendingSegment, SegmentHole
from streaming.timeline import NewSegment, live_gap_count, plan_append

log = logging.getLogger(__name__)

# How far back an encoder sequence number may go before it means "the encoder restarted"
# rather than "this segment arrived late or twice".
REORDER_WINDOW = 3
# A pending segment whose timing never arrived is dropped after this many target durations.
ABANDON_FACTOR = 10
EWMA_ALPHA = 0.05


@dataclass(frozen=True)
class IngestResult:
    """What an ingest PUT did, for the response body and logs."""

    kind: str
    published: int = 0
    rejected: tuple[dict, ...] = ()


def _check_target(rt: Runtime, spec: service.ChannelSpec, seg_set: str, rendition: str,
                  filename: str, size: int) -> str:
    if not FILENAME_RE.match(filename) or ".." in filename:
        raise InvalidIngestPath(f"invalid file name {filename!r}")
    if seg_set not in spec.segment_sets:
        raise UnknownSegmentSet(f"channel {spec.id!r} does not package the {seg_set!r} set")
    if spec.rendition(rendition) is None and spec.audio_track(rendition) is None:
        from catalog.errors import RenditionNotFound

        raise RenditionNotFound(f"channel {spec.id!r} has no rendition {rendition!r}")
    if not spec.enabled:
        raise ChannelDisabled(f"channel {spec.id!r} is disabled")
    if size > rt.settings.max_ingest_object_bytes:
        raise PayloadTooLarge(f"object larger than {rt.settings.max_ingest_object_bytes} bytes")
    return f"{seg_set}/{rendition}"


def spec_cache(rt: Runtime) -> service.SpecCache:
    """Return the process's channel spec cache, subscribing it to channel changes once."""
    cache = rt.extras.get("spec_cache")
    if cache is None:
        cache = rt.extras["spec_cache"] = service.SpecCache()
        rt.bus.subscribe("channel.", cache.forget)
    return cache


def cached_spec(rt: Runtime, channel_id: str) -> service.ChannelSpec | None:
    """Return the channel's spec from memory, or None when it must be read (cold or changed)."""
    return spec_cache(rt).get(channel_id)


def authorize(rt: Runtime, *, channel_id: str, password: str | None,
              spec: service.ChannelSpec | None = None) -> service.ChannelSpec:
    """Return the channel's spec if password is its ingest key; unknown channels look the same."""
    from catalog.errors import ChannelNotFound

    if spec is None:
        try:
            with rt.db.session(write=False) as s:
                spec = service.channel_spec(db_session=s, channel_id=channel_id)
            spec_cache(rt).put(spec)
        except ChannelNotFound:
            spec = None
    if spec is None or not service.check_ingest_key(rt.settings.ingest_secret, spec, password):
        raise IngestUnauthorized("wrong or missing ingest credentials")
    return spec


def ingest_file(rt: Runtime, *, spec: service.ChannelSpec, seg_set: str, rendition: str,
                filename: str, body: bytes, now_us: int) -> IngestResult:
    """Take one pushed file (segment, init segment or playlist) for a channel track."""
    track = _check_target(rt, spec, seg_set, rendition, filename, len(body))
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext == "m3u8":
        return _ingest_playlist(rt, spec, track, body, now_us)
    if ext in ("mp4", "cmfi") and seg_set == "cmaf":
        return _ingest_init(rt, spec, track, body)
    if (ext in ("m4s", "cmfv", "cmfa") and seg_set == "cmaf") or (ext == "ts" and seg_set == "ts"):
        return _ingest_segment(rt, spec, track, filename, body, now_us)
    raise UnsupportedIngestFile(f"{filename!r} is not a segment, init segment or playlist of the "
                                f"{seg_set} set")


def _ingest_init(rt: Runtime, spec: service.ChannelSpec, track: str, body: bytes) -> IngestResult:
    if not looks_like_init(body):
        raise NotMedia("not an fMP4 initialisation segment (ftyp/moov expected)")
    init_hash = hashlib.sha256(body).hexdigest()[:16]
    key = service.init_key(spec.id, track, init_hash)
    if not rt.store.exists(key):
        rt.store.put(key, body, "video/mp4")
    with rt.db.session() as s:
        _lock_channel(s, spec.id)
        state = _track_state(s, spec.id, track)
        state.init_hash = init_hash
        state.init_since_segment = True
        state.announced = []  # a new encoder session: earlier announcements are void
    rt.extras.setdefault("session_hints", {}).pop((spec.id, track), None)
    return IngestResult("init")


def _track_state(s: Session, channel_id: str, track: str, *, lock: bool = True) -> IngestTrack:
    # Rows are created with the channel (streaming.service.init_channel); lock the channel
    # row first, then the track, always in that order.
    state = s.get(IngestTrack, (channel_id, track), with_for_update=lock)
    if state is None:
        raise UnknownSegmentSet(f"channel {channel_id!r} does not package track {track!r}")
    return state


def _lock_channel(s: Session, channel_id: str) -> ChannelTimelineState:
    state = s.get(ChannelTimelineState, channel_id, with_for_update=True)
    if state is None:
        from catalog.errors import ChannelNotFound

        raise ChannelNotFound(f"no channel {channel_id!r}")
    return state


def _decide_session(s: Session, chan: ChannelTimelineState, track: IngestTrack, encseq: int,
                    ) -> tuple[int, bool]:
    """Return (session, is_new_for_track) for a segment, refusing duplicates and late arrivals."""
    if track.last_encseq < 0:
        return (chan.last_session or 1), True
    if encseq > track.last_encseq:
        return track.session, False
    if encseq >= track.last_encseq - REORDER_WINDOW and not track.init_since_segment:
        exists = s.get(PendingSegment, (chan.channel_id, track.session, encseq, track.track))
        if encseq == track.last_encseq or exists is not None:
            raise DuplicateSegment(f"segment {encseq} of {track.track} was already received",
                                   encoder_sequence=encseq)
        raise OutOfOrderSegment(
            f"segment {encseq} of {track.track} arrived after {track.last_encseq}",
            encoder_sequence=encseq, last=track.last_encseq,
        )
    # Far behind: the encoder restarted. Join the newest session if another track already
    # opened it, otherwise open a new one.
    if track.session < chan.last_session:
        return chan.last_session, True
    return chan.last_session + 1, True


def _ingest_segment(rt: Runtime, spec: service.ChannelSpec, track: str, filename: str,
                    body: bytes, now_us: int) -> IngestResult:
    seg_set = track.split("/", 1)[0]
    if not (looks_like_fmp4_media(body) if seg_set == "cmaf" else looks_like_ts(body)):
        raise NotMedia(f"{filename!r} is not a {'CMAF' if seg_set == 'cmaf' else 'MPEG-TS'} segment")
    encseq = encoder_sequence(filename)
    if encseq is None:
        raise InvalidIngestPath(f"segment name {filename!r} carries no sequence number")
    for attempt in range(3):
        hints = rt.extras.setdefault("session_hints", {})
        hint = hints.get((spec.id, track))
        if attempt == 0 and hint is not None and encseq > hint[1]:
            # The usual case: the next segment of the session we saw last. The write
            # transaction below checks this guess before anything is recorded.
            session_no = hint[0]
        else:
            with rt.db.session(write=False) as s:
                chan = s.get(ChannelTimelineState, spec.id) or _lock_channel(s, spec.id)
                state = _track_state(s, spec.id, track, lock=False)
                session_no, _ = _decide_session(s, chan, state, encseq)
        rt.store.put(service.segment_key(spec.id, track, session_no, encseq), body,
                     "video/mp4" if seg_set == "cmaf" else "video/mp2t")
        with rt.db.session() as s:
            chan = _lock_channel(s, spec.id)
            state = _track_state(s, spec.id, track)
            again, _ = _decide_session(s, chan, state, encseq)
            if again != session_no:
                hints.pop((spec.id, track), None)
                continue  # a restart (or another track's) changed the session; store again
            chan.last_session = max(chan.last_session, session_no)
            state.session, state.last_encseq = session_no, encseq
            state.init_since_segment = False
            timing = next((a for a in state.announced or [] if a[0] == encseq), None)
            s.add(PendingSegment(
                channel_id=spec.id, session=session_no, encseq=encseq, track=track,
                size=len(body), init_hash=state.init_hash, received_us=now_us,
                duration_us=timing[1] if timing else None, pdt_us=timing[2] if timing else None,
                discontinuity=bool(timing[3]) if timing else False,
            ))
            s.flush()
            # Usually the timing comes with the next playlist; when the playlist came first
            # the segment may complete now.
            published = _publish_ready(s, rt, spec, chan, now_us) if timing else 0
        hints[(spec.id, track)] = (session_no, encseq)
        return IngestResult("segment", published)
    raise DuplicateSegment("could not settle the encoder session for this segment; retry")


def _ingest_playlist(rt: Runtime, spec: service.ChannelSpec, track: str, body: bytes,
                     now_us: int) -> IngestResult:
    try:
        entries = parse_encoder_playlist(body.decode("utf-8"))
    except (UnicodeDecodeError, EncoderPlaylistError) as err:
        raise InvalidEncoderPlaylist(str(err)) from err
    limit_us = (spec.target_duration_s + 0.5) * 1_000_000
    rejected: list[dict] = []
    with rt.db.session() as s:
        chan = _lock_channel(s, spec.id)
        state = _track_state(s, spec.id, track)
        by_encseq = {e.encseq: e for e in entries}
        pending = s.scalars(select(PendingSegment).where(
            PendingSegment.channel_id == spec.id, PendingSegment.track == track,
            PendingSegment.session == state.session, PendingSegment.duration_us.is_(None),
            PendingSegment.encseq.in_(list(by_encseq)),
        )).all()
        if any(e.duration_us >= limit_us for e in entries):
            state.announced = []
        else:
            state.announced = [[e.encseq, e.duration_us, e.pdt_us, e.discontinuity]
                               for e in entries[-10:] if e.encseq > state.last_encseq]
        for row in pending:
            entry = by_encseq[row.encseq]
            if entry.duration_us >= limit_us:
                # RFC 8216 4.3.3.1: EXTINF rounded must not exceed TARGETDURATION.
                rejected.append({"encoder_sequence": row.encseq, "duration_s": entry.duration_us / 1e6,
                                 "target_duration_s": spec.target_duration_s})
                rt.store.delete_many([service.segment_key(spec.id, track, row.session, row.encseq)])
                s.delete(row)
                continue
            row.duration_us, row.pdt_us, row.discontinuity = (
                entry.duration_us, entry.pdt_us, entry.discontinuity)
        s.flush()
        published = _publish_ready(s, rt, spec, chan, now_us)
    if rejected:
        raise SegmentTooLong(
            f"{len(rejected)} segment(s) longer than TARGETDURATION {spec.target_duration_s}s allows",
            segments=rejected,
        )
    return IngestResult("playlist", published)


def publish_due(rt: Runtime, channel_id: str, now_us: int) -> int:
    """Publish what is complete or past its deadline (the periodic sweep calls this)."""
    with rt.db.session() as s:
        spec = service.channel_spec(db_session=s, channel_id=channel_id)
        chan = _lock_channel(s, channel_id)
        return _publish_ready(s, rt, spec, chan, now_us)


def _publish_ready(s: Session, rt: Runtime, spec: service.ChannelSpec, chan: ChannelTimelineState,
                   now_us: int) -> int:
    """Publish pending segments in order while each is complete or past its deadline."""
    rows = s.scalars(select(PendingSegment).where(PendingSegment.channel_id == spec.id)
                     .order_by(PendingSegment.session, PendingSegment.encseq)).all()
    if not rows:
        return 0
    groups: dict[tuple[int, int], list[PendingSegment]] = defaultdict(list)
    for row in rows:
        groups[(row.session, row.encseq)].append(row)
    tracks = spec.tracks
    td_us = spec.target_duration_s * 1_000_000
    deadline_us = int(rt.settings.publish_deadline_factor * td_us)
    tail = None
    tail_loaded = False
    published = 0
    for (session_no, encseq), group in sorted(groups.items()):
        timed = [r for r in group if r.duration_us is not None]
        age = now_us - min(r.received_us for r in group)
        complete = len(timed) == len(tracks)
        if not complete:
            if age > ABANDON_FACTOR * td_us and not timed:
                _drop(s, rt, spec.id, group)
                continue
            if not timed or age < deadline_us:
                break
        if not tail_loaded:
            tail, tail_loaded = service.tail_row(db_session=s, channel_id=spec.id), True
        tail = _publish_one(s, rt, spec, chan, tail, session_no, encseq, timed, tracks, now_us)
        chan.last_publish_us = now_us
        for row in group:
            s.delete(row)
        published += 1
    if published:
        chan.version += 1
        s.flush()
        notify_after_commit(s, service.TIMELINE_TOPIC + spec.id,
                            {"version": chan.version, "last_seq": tail.first_seq + tail.count - 1})
    return published


def _drop(s: Session, rt: Runtime, channel_id: str, group: list[PendingSegment]) -> None:
    log.warning("dropping segment %s/%s of %s: no timing arrived",
                group[0].session, group[0].encseq, channel_id)
    rt.store.delete_many([service.segment_key(channel_id, r.track, r.session, r.encseq) for r in group])
    for row in group:
        s.delete(row)


def _publish_one(s: Session, rt: Runtime, spec: service.ChannelSpec, chan: ChannelTimelineState,  # noqa: PLR0913
                 tail, session_no: int, encseq: int, timed: list[PendingSegment],  # noqa: ANN001
                 tracks: tuple[str, ...], now_us: int):  # noqa: ANN202
    ref = min(timed, key=lambda r: tracks.index(r.track))
    duration = ref.duration_us or spec.segment_duration_us
    tail_run = service.to_run(tail) if tail is not None else None
    pdt = next((r.pdt_us for r in timed if r.pdt_us is not None), None)
    if pdt is None:
        # No wall-clock from the encoder: the segment ended about when it arrived.
        arrived_start = ref.received_us - duration
        if tail_run is not None and arrived_start - tail_run.end_us < spec.segment_duration_us:
            pdt = tail_run.end_us
        else:
            pdt = arrived_start
    if tail_run is not None:
        # Gap entries origins already showed for a stalled source stay where they were:
        # a late segment goes after them rather than rewriting what players saw.
        shown = live_gap_count(tail_run, now_us=now_us, nominal_us=spec.segment_duration_us,
                               hold_us=service.gap_hold_us(spec, rt.settings.publish_deadline_factor),
                               last_publish_us=chan.last_publish_us or tail_run.end_us)
        pdt = max(pdt, tail_run.end_us + shown * spec.segment_duration_us)
    # A rendition missing from this segment keeps its init: only a real change of init
    # segments is a discontinuity.
    inits = dict(tail_run.inits if tail_run else {})
    for r in timed:
        # An encoder may push a track's first init just after its first segment.
        init = r.init_hash or s.get(IngestTrack, (spec.id, r.track)).init_hash
        if init:
            inits[r.track] = init
    plan = plan_append(
        tail_run,
        NewSegment(start_us=pdt, duration_us=duration, session=session_no, encseq=encseq,
                   inits=inits, discontinuity=any(r.discontinuity for r in timed)),
        nominal_us=spec.segment_duration_us,
    )
    runs = list(plan.runs)
    if plan.replaces_tail:
        row = service.write_run(tail, runs.pop(0), spec.id)
    for run in runs:
        row = service.write_run(None, run, spec.id)
        s.add(row)
    present = {r.track for r in timed}
    for missing in set(tracks) - present:
        s.add(SegmentHole(channel_id=spec.id, seq=plan.seq, track=missing))
    for r in timed:
        _update_bandwidth(s, spec.id, r.track, r.size, r.duration_us or duration)
    s.flush()
    return row


def _update_bandwidth(s: Session, channel_id: str, track: str, size: int, duration_us: int) -> None:
    state = s.get(IngestTrack, (channel_id, track))
    if state is None or duration_us <= 0:
        return
    bps = int(size * 8 * 1_000_000 / duration_us)
    state.peak_bps = max(state.peak_bps or 0, bps)
    state.avg_bps = bps if not state.avg_bps else int(state.avg_bps + EWMA_ALPHA * (bps - state.avg_bps))


def purge_pending(*, db_session: Session, channel_id: str) -> None:
    """Forget a channel's pending segments (used when a channel is reset)."""
    db_session.execute(delete(PendingSegment).where(PendingSegment.channel_id == channel_id))
