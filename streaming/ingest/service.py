"""Ingest: segments, init segments and encoder playlists pushed over HTTP PUT.

Order of work for a media segment: decide its encoder session, store its bytes, then
record it as pending in one short transaction. A segment is published to the timeline
when every track (segment set x rendition) has it and its timing is known from the
encoder playlist, or when a deadline passes (missing tracks then get a hole). Nothing
enters the timeline before its bytes are stored.

Every write transaction here is the same three steps: lock and load the channel's ingest
state (``ingest_store.load_ingest``: two statements), apply the pushed file with the pure
functions of ``streaming.ingest.state``, write back what changed. The push path is the
busiest writer in the system (every track of every channel, every segment duration), so it
uses Core statements, not ORM objects.

While the database is away the same three steps run on the channel's state in this process's
memory (``streaming.ingest.provisional``): ``_transact`` picks where, and the index catches up when
the database is back. While storage is away the bytes wait in a spool on local disk
(``streaming.ingest.spool``) and everything else goes on as usual.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from catalog.channels.errors import ChannelNotFound, RenditionNotFound
from infra.db import DatabaseUnavailable
from infra.runtime import Runtime, notify_after_commit, run_after_commit
from streaming.formats import fmp4
from streaming.formats.hls_input import (
    FILENAME_RE,
    EncoderPlaylistError,
    EncoderSequenceError,
    encoder_sequence,
    parse_encoder_playlist,
)
from streaming.ingest import credentials as ingest_credentials
from streaming.ingest import media_check, spool
from streaming.ingest import store as ingest_store
from streaming.ingest.errors import (
    ChannelDisabled,
    DuplicateSegment,
    IngestUnauthorized,
    InvalidEncoderPlaylist,
    InvalidIngestPath,
    PayloadTooLarge,
    SegmentTooLong,
    SequenceOutOfRange,
    StalePackager,
    UnknownSegmentSet,
    UnsupportedIngestFile,
)
from streaming.ingest.memory import IngestMemory
from streaming.ingest.provisional import MemoryTxn, provisional
from streaming.ingest.state import (
    ChannelIngest,
    PublishRules,
    TrackIngest,
    admit_epoch,
    decide_session,
    publish_ready,
    receive_init,
    receive_playlist,
    receive_segment,
)
from streaming.timeline import service as timeline_service
from streaming.timeline.runs import Run

log = logging.getLogger(__name__)
T = TypeVar("T")
# A push waits at most this long on each database call: past it, the database counts as away
# and the channel goes on from memory (streaming/ingest/provisional.py) instead of stalling the encoder.
INGEST_DB_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class IngestResult:
    """What an ingest PUT did, for the response body and logs."""

    kind: str
    published: int = 0
    rejected: tuple[dict, ...] = ()


def _check_target(rt: Runtime, spec: timeline_service.ChannelSpec, seg_set: str, rendition: str,
                  filename: str, size: int) -> str:
    if not FILENAME_RE.match(filename) or ".." in filename:
        raise InvalidIngestPath(f"invalid file name {filename!r}")
    if seg_set not in spec.segment_sets:
        raise UnknownSegmentSet(f"channel {spec.id!r} does not package the {seg_set!r} set")
    if spec.rendition(rendition) is None and spec.audio_track(rendition) is None:

        raise RenditionNotFound(f"channel {spec.id!r} has no rendition {rendition!r}")
    if not spec.enabled:
        raise ChannelDisabled(f"channel {spec.id!r} is disabled")
    if size > rt.settings.max_ingest_object_bytes:
        raise PayloadTooLarge(f"object larger than {rt.settings.max_ingest_object_bytes} bytes")
    return f"{seg_set}/{rendition}"


def spec_cache(rt: Runtime) -> timeline_service.SpecCache:
    """Return the process's channel spec cache, subscribing it to channel changes once."""
    return rt.state(IngestMemory).specs


def cached_spec(rt: Runtime, channel_id: str) -> timeline_service.ChannelSpec | None:
    """Return the channel's spec from memory, or None when it must be read (cold or changed)."""
    return spec_cache(rt).get(channel_id)


def authorize(rt: Runtime, *, channel_id: str, password: str | None,
              spec: timeline_service.ChannelSpec | None = None) -> timeline_service.ChannelSpec:
    """Return the channel's spec if password is its ingest key; unknown channels look the same."""
    if spec is None:
        try:
            if not rt.health.is_up("database"):
                raise DatabaseUnavailable("database unavailable, retry")
            with rt.db.session(write=False, timeout_s=INGEST_DB_TIMEOUT_S) as s:
                spec = timeline_service.channel_spec(db_session=s, channel_id=channel_id)
            spec_cache(rt).put(spec)
        except ChannelNotFound:
            spec = None
        except DatabaseUnavailable:  # the channel as last read goes on being pushed
            spec = spec_cache(rt).stale(channel_id)
            if spec is None:
                raise
    if spec is None or not ingest_credentials.check_ingest_key(rt.settings.ingest_secret, spec, password):
        raise IngestUnauthorized("wrong or missing ingest credentials")
    return spec


def redundant_playlist(rt: Runtime, *, spec: timeline_service.ChannelSpec, seg_set: str, rendition: str,
                       filename: str, size: int) -> bool:
    """Tell whether a pushed file is a playlist ingest can acknowledge without reading it.

    Our own packager's CMAF segments are timed from their own boxes (streaming/formats/fmp4.py), so
    once this process has timed a track's segments that way, the track's playlists add
    nothing. Any other process, or any doubt, takes the full path, which is always right.
    """
    track = _check_target(rt, spec, seg_set, rendition, filename, size)
    return (spec.packaged and filename.lower().endswith(".m3u8")
            and (spec.id, track) in rt.state(IngestMemory).segment_timed)


def ingest_file(rt: Runtime, *, spec: timeline_service.ChannelSpec, seg_set: str, rendition: str,
                filename: str, body: bytes, now_us: int, epoch: int | None = None) -> IngestResult:
    """Take one pushed file (segment, init segment or playlist) for a channel track.

    epoch is the pushing packager node's (None for external encoders): see ``admit_epoch``.
    """
    track = _check_target(rt, spec, seg_set, rendition, filename, len(body))
    _check_epoch(rt, spec.id, epoch)
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext == "m3u8":
        return _ingest_playlist(rt, spec, track, body, now_us, epoch)
    if ext in ("mp4", "cmfi") and seg_set == "cmaf":
        return _ingest_init(rt, spec, track, body, epoch)
    if (ext in ("m4s", "cmfv", "cmfa") and seg_set == "cmaf") or (ext == "ts" and seg_set == "ts"):
        return _ingest_segment(rt, spec, track, filename, body, now_us, epoch)
    raise UnsupportedIngestFile(f"{filename!r} is not a segment, init segment or playlist of the "
                                f"{seg_set} set")


def _check_epoch(rt: Runtime, channel_id: str, epoch: int | None) -> None:
    """Refuse a stale node's push before its bytes are stored, by the newest epoch this process saw."""
    if epoch is not None and epoch < rt.state(IngestMemory).packager_epochs.get(channel_id, 0):
        raise StalePackager("another packager node has taken this channel", epoch=epoch)


def _admit(rt: Runtime, chan: ChannelIngest, epoch: int | None) -> None:
    """Check a push's epoch against the channel's (inside its write transaction), noting newer ones."""
    if not admit_epoch(chan, epoch):
        raise StalePackager("another packager node has taken this channel", epoch=epoch,
                            current=chan.packager_epoch)
    epochs = rt.state(IngestMemory).packager_epochs
    if chan.packager_epoch > epochs.get(chan.channel_id, 0):
        epochs[chan.channel_id] = chan.packager_epoch


def _track(chan: ChannelIngest, track: str) -> TrackIngest:
    # Rows are created with the channel (streaming.timeline.service.init_channel).
    state = chan.tracks.get(track)
    if state is None:
        raise UnknownSegmentSet(f"channel {chan.channel_id!r} does not package track {track!r}")
    return state


def _expect(spec: timeline_service.ChannelSpec, track: str) -> media_check.Expect:
    rendition = track.split("/", 1)[1]
    return media_check.Expect.for_track(audio_track=spec.audio_track(rendition) is not None,
                                        demuxed_audio=bool(spec.audio))


def _ingest_init(rt: Runtime, spec: timeline_service.ChannelSpec, track: str, body: bytes,
                 epoch: int | None) -> IngestResult:
    timing = media_check.check_init(body, _expect(spec, track))
    init_hash = hashlib.sha256(body).hexdigest()[:16]
    key = timeline_service.init_key(spec.id, track, init_hash)
    if not spool.stored(rt, key):
        spool.store(rt, key, body, "video/mp4")

    def take(txn: Txn) -> None:
        _admit(rt, txn.chan, epoch)
        receive_init(_track(txn.chan, track), init_hash, timing)

    _transact(rt, spec.id, take)
    memory = rt.state(IngestMemory)
    memory.session_hints.pop((spec.id, track), None)
    memory.segment_timed.discard((spec.id, track))
    return IngestResult("init")


def _ingest_segment(rt: Runtime, spec: timeline_service.ChannelSpec, track: str, filename: str,
                    body: bytes, now_us: int, epoch: int | None) -> IngestResult:
    seg_set = track.split("/", 1)[0]
    try:
        encseq = encoder_sequence(filename)
    except EncoderSequenceError as err:
        raise SequenceOutOfRange(str(err)) from err
    if encseq is None:
        raise InvalidIngestPath(f"segment name {filename!r} carries no sequence number")
    # Nothing that is not whole, consistent media is stored (streaming/ingest/media_check.py).
    if seg_set == "cmaf":
        track_ids = media_check.check_fmp4_segment(body)
    else:
        media_check.check_ts_segment(body, _expect(spec, track))
        track_ids = frozenset()
    hints = rt.state(IngestMemory).session_hints
    own_timing = spec.packaged and seg_set == "cmaf"
    for attempt in range(3):
        hint = hints.get((spec.id, track))
        if attempt == 0 and hint is not None and encseq > hint[1]:
            # The usual case: the next segment of the session we saw last. The write
            # transaction below checks this guess before anything is recorded.
            session_no, checked_init = hint[0], hint[2]
        else:
            session_no, checked_init = _read_state(
                rt, spec.id, lambda chan: (decide_session(chan, _track(chan, track), encseq),
                                           _track(chan, track).init_timing))
        media_check.check_segment_tracks(track_ids, checked_init)
        key = timeline_service.segment_key(spec.id, track, session_no, encseq)
        spool.store(rt, key, body, "video/mp4" if seg_set == "cmaf" else "video/mp2t")

        def take(txn: Txn) -> tuple[int, int | None, dict] | None:
            chan = txn.chan
            try:
                _admit(rt, chan, epoch)
            except StalePackager:
                spool.delete(rt, [key])
                raise
            state = _track(chan, track)
            if decide_session(chan, state, encseq) != session_no or state.init_timing != checked_init:
                return None  # a restart (or another track's, or a new init) changed the session
            duration = fmp4.segment_duration_us(body, state.init_timing) if own_timing else None
            if duration is not None and duration >= _too_long_us(spec):
                spool.delete(rt, [key])
                raise SegmentTooLong(
                    f"segment {encseq} lasts {duration / 1e6:.3f}s; TARGETDURATION "
                    f"{spec.target_duration_s}s allows less",
                    segments=[{"encoder_sequence": encseq, "duration_s": duration / 1e6,
                               "target_duration_s": spec.target_duration_s}])
            timed = receive_segment(chan, state, session=session_no, encseq=encseq, size=len(body),
                                    now_us=now_us, duration_us=duration)
            # Timing usually comes with the encoder's next playlist; when the segment carries
            # it, or the playlist came first, the segment may complete now.
            return (_publish(rt, spec, txn, now_us) if timed else 0), duration, state.init_timing

        outcome = _transact(rt, spec.id, take)
        if outcome is None:
            hints.pop((spec.id, track), None)
            spool.delete(rt, [key])  # what was stored under the guess would be orphaned; store again
            continue
        published, duration, init_timing = outcome
        hints[(spec.id, track)] = (session_no, encseq, init_timing)
        if own_timing:  # a segment that did not time itself needs its playlists again
            timed_here = rt.state(IngestMemory).segment_timed
            (timed_here.add if duration is not None else timed_here.discard)((spec.id, track))
        return IngestResult("segment", published)
    raise DuplicateSegment("could not settle the encoder session for this segment; retry")


def _ingest_playlist(rt: Runtime, spec: timeline_service.ChannelSpec, track: str, body: bytes,
                     now_us: int, epoch: int | None) -> IngestResult:
    try:
        entries = parse_encoder_playlist(body.decode("utf-8"))
    except (UnicodeDecodeError, EncoderPlaylistError) as err:
        raise InvalidEncoderPlaylist(str(err)) from err

    def take(txn: Txn) -> tuple[list, int]:
        _admit(rt, txn.chan, epoch)
        rejected = receive_playlist(_track(txn.chan, track), entries, _too_long_us(spec))
        if rejected:
            spool.delete(rt, [timeline_service.segment_key(spec.id, track, p.session, p.encseq) for p in rejected])
        return rejected, _publish(rt, spec, txn, now_us)

    rejected, published = _transact(rt, spec.id, take)
    if rejected:
        announced = {e.encseq: e.duration_us for e in entries}
        raise SegmentTooLong(
            f"{len(rejected)} segment(s) longer than TARGETDURATION {spec.target_duration_s}s allows",
            segments=[{"encoder_sequence": p.encseq, "duration_s": announced[p.encseq] / 1e6,
                       "target_duration_s": spec.target_duration_s} for p in rejected],
        )
    return IngestResult("playlist", published)


def _too_long_us(spec: timeline_service.ChannelSpec) -> int:
    """Return the shortest duration TARGETDURATION forbids (RFC 8216 4.3.3.1: EXTINF rounded)."""
    return int((spec.target_duration_s + 0.5) * 1_000_000)


def publish_due(rt: Runtime, channel_id: str, now_us: int) -> int:
    """Publish what is complete or past its deadline (the periodic sweep calls this)."""
    spec = cached_spec(rt, channel_id)
    if spec is None:
        with rt.db.session(write=False) as s:
            spec = timeline_service.channel_spec(db_session=s, channel_id=channel_id)
    return _transact(rt, channel_id, lambda txn: _publish(rt, spec, txn, now_us))


class DbTxn:
    """What a push may change in the database: the channel's ingest rows (locked) and its runs."""

    def __init__(self, rt: Runtime, s: Session, chan: ChannelIngest) -> None:
        self.rt, self.s, self.chan = rt, s, chan

    def tail(self) -> Run | None:
        """Return the channel's newest run."""
        # The tail this process wrote last is still the tail while the channel's version
        # (bumped by every publish, in any process) is the one it wrote.
        version, tail = self.rt.state(IngestMemory).tails.get(self.chan.channel_id, (None, None))
        if version != self.chan.version:
            tail = timeline_service.tail_run(db_session=self.s, channel_id=self.chan.channel_id)
        return tail

    def write(self, runs: list[Run], replace_first_seq: int | None, holes: list[tuple[int, str]]) -> None:
        """Write published runs (the old tail updated in place) and holes."""
        timeline_service.write_runs(db_session=self.s, channel_id=self.chan.channel_id, runs=runs,
                           replace_first_seq=replace_first_seq)
        timeline_service.add_holes(db_session=self.s, channel_id=self.chan.channel_id, holes=holes)
        tails = self.rt.state(IngestMemory).tails
        written = (self.chan.version, runs[-1])
        run_after_commit(self.s, lambda: tails.__setitem__(self.chan.channel_id, written))
        notify_after_commit(self.s, timeline_service.TIMELINE_TOPIC + self.chan.channel_id,
                            {"version": self.chan.version, "last_seq": runs[-1].last_seq})


Txn = DbTxn | MemoryTxn


def _transact(rt: Runtime, channel_id: str, take: Callable[[Txn], T]) -> T:
    """Run take on the channel's ingest state in one transaction: in the database, or, while the
    database is away, in this process's memory (streaming/ingest/provisional.py). take may run twice (a
    database that fails mid-way): it changes nothing outside the transaction but idempotent deletes."""
    timelines = provisional(rt)
    while True:
        err: DatabaseUnavailable | None = None
        if not timelines.carrying(channel_id) and rt.health.is_up("database"):
            try:
                with rt.db.session(timeout_s=INGEST_DB_TIMEOUT_S) as s:
                    txn = DbTxn(rt, s, ingest_store.load_ingest(db_session=s, channel_id=channel_id))
                    result = take(txn)
                    ingest_store.save_ingest(db_session=s, chan=txn.chan)
                timelines.remember(txn.chan)
                return result
            except DatabaseUnavailable as failed:
                err = failed
        with timelines.lock(channel_id):
            if timelines.carrying(channel_id) and rt.health.is_up("database"):
                try:
                    timelines.catch_up(channel_id)
                except DatabaseUnavailable as failed:
                    err = failed
                else:
                    # Caught up: the database again, with the lock released (the lock is not
                    # reentrant; a database failing again in there used to wait on it for ever).
                    continue
            timelines.begin(channel_id, err or DatabaseUnavailable("database unavailable"))
            with timelines.transaction(channel_id) as txn:
                return take(txn)


def _read_state(rt: Runtime, channel_id: str, read: Callable[[ChannelIngest], T]) -> T:
    """Read the channel's ingest state (from the database, or from memory while it is away)."""
    timelines = provisional(rt)
    if not timelines.carrying(channel_id) and rt.health.is_up("database"):
        try:
            with rt.db.session(write=False, timeout_s=INGEST_DB_TIMEOUT_S) as s:
                return read(ingest_store.load_ingest(db_session=s, channel_id=channel_id))
        except DatabaseUnavailable:
            pass
    return _transact(rt, channel_id, lambda txn: read(txn.chan))


def publish_rules(rt: Runtime, spec: timeline_service.ChannelSpec) -> PublishRules:
    """Return the publishing rules of a channel under this process's settings."""
    td_us = spec.target_duration_s * 1_000_000
    return PublishRules(
        tracks=spec.tracks, nominal_us=spec.segment_duration_us, target_us=td_us,
        deadline_us=int(rt.settings.publish_deadline_factor * td_us),
        hold_us=timeline_service.gap_hold_us(spec, rt.settings.publish_deadline_factor),
    )


def _publish(rt: Runtime, spec: timeline_service.ChannelSpec, txn: Txn, now_us: int) -> int:
    """Publish what is ready and write it: runs, holes; delete the bytes of dropped segments."""
    loaded: list[Run | None] = []

    def load_tail() -> Run | None:
        loaded.append(txn.tail())
        return loaded[-1]

    chan = txn.chan
    out = publish_ready(chan, publish_rules(rt, spec), load_tail, now_us=now_us)
    for track, p in out.dropped:
        log.warning("dropping segment %s/%s of %s %s: no timing arrived", p.session, p.encseq, spec.id, track)
    for track, p in out.refused:
        log.warning("refusing segment %s/%s of %s %s: it would end ahead of the wall clock (another "
                    "pusher's, or pushed faster than real time)", p.session, p.encseq, spec.id, track)
    if out.dropped or out.refused:
        spool.delete(rt, [timeline_service.segment_key(spec.id, t, p.session, p.encseq) for t, p in out.dropped + out.refused])
    if out.count:
        old_tail = loaded[0] if loaded else None
        txn.write([out.runs[k] for k in sorted(out.runs)], old_tail.first_seq if old_tail else None, out.holes)
    return out.count
