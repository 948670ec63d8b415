"""What ingest keeps per channel in the database: each track's bookkeeping and the packager epoch."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from catalog.channels.errors import ChannelNotFound
from streaming.ingest.models import IngestTrack
from streaming.ingest.state import ChannelIngest, PendingEntry, TrackIngest
from streaming.timeline.models import ChannelTimelineState

_TRACKS = IngestTrack.__table__
_STATE = ChannelTimelineState.__table__
# One statement locks the channel's state row and its track rows and reads them all: every
# ingest write starts with it, so a channel's pushes are serialised here.
_LOAD_INGEST = (select(_STATE.c.last_session, _STATE.c.version, _STATE.c.last_publish_us,
                       _STATE.c.packager_epoch, _TRACKS)
                .join_from(_STATE, _TRACKS, _TRACKS.c.channel_id == _STATE.c.channel_id)
                .where(_STATE.c.channel_id == bindparam("c")).order_by(_TRACKS.c.track)
                .with_for_update())
_TRACK_FIELDS = ("session", "last_encseq", "init_hash", "init_since_segment", "announced", "pending",
                 "pending_n", "peak_bps", "avg_bps", "init_timing")
_SAVE_TRACK = (update(_TRACKS)
               .where(_TRACKS.c.channel_id == bindparam("k_channel"), _TRACKS.c.track == bindparam("k_track"))
               .values({f: bindparam("v_" + f) for f in _TRACK_FIELDS}))
_SAVE_CHANNEL = (update(_STATE).where(_STATE.c.channel_id == bindparam("k_channel"))
                 .values(last_session=bindparam("v_last_session"), version=bindparam("v_version"),
                         last_publish_us=bindparam("v_last_publish_us"),
                         packager_epoch=bindparam("v_packager_epoch")))


def load_ingest(*, db_session: Session, channel_id: str) -> ChannelIngest:
    """Lock a channel's ingest rows (channel first, then its tracks) and return their state."""
    rows = db_session.connection().execute(_LOAD_INGEST, {"c": channel_id}).all()
    if not rows:

        raise ChannelNotFound(f"no channel {channel_id!r}")
    tracks = {
        r.track: TrackIngest(r.track, r.session, r.last_encseq, r.init_hash, r.init_since_segment,
                             list(r.announced or []), [PendingEntry.from_json(p) for p in r.pending or []],
                             r.peak_bps or 0, r.avg_bps or 0,
                             {int(t[0]): list(t[1:]) for t in r.init_timing or []})
        for r in rows
    }
    first = rows[0]
    return ChannelIngest(channel_id, first.last_session, first.version, first.last_publish_us or 0, tracks,
                         packager_epoch=first.packager_epoch or 0)


def save_ingest(*, db_session: Session, chan: ChannelIngest) -> None:
    """Write back what changed in a channel's ingest state (one statement per table)."""
    conn = db_session.connection()
    rows = [{"k_channel": chan.channel_id, "k_track": t.track, "v_session": t.session,
             "v_last_encseq": t.last_encseq, "v_init_hash": t.init_hash,
             "v_init_since_segment": t.init_since_segment, "v_announced": t.announced,
             "v_pending": [p.to_json() for p in t.pending], "v_pending_n": len(t.pending),
             "v_peak_bps": t.peak_bps, "v_avg_bps": t.avg_bps,
             "v_init_timing": [[k, *v] for k, v in t.init_timing.items()]}
            for t in chan.tracks.values() if t.changed]
    if rows:
        conn.execute(_SAVE_TRACK, rows)
    if chan.changed:
        conn.execute(_SAVE_CHANNEL, {"k_channel": chan.channel_id, "v_last_session": chan.last_session,
                                     "v_version": chan.version, "v_last_publish_us": chan.last_publish_us,
                                     "v_packager_epoch": chan.packager_epoch})


def take_packager_epoch(*, db_session: Session, channel_id: str) -> int:
    """Return a new packager epoch for a channel a node is taking (higher than any before)."""
    row = db_session.connection().execute(
        update(_STATE).where(_STATE.c.channel_id == channel_id)
        .values(packager_epoch=_STATE.c.packager_epoch + 1).returning(_STATE.c.packager_epoch)).first()
    if row is None:

        raise ChannelNotFound(f"no channel {channel_id!r}")
    return int(row[0])


def channels_with_pending(*, db_session: Session) -> list[str]:
    """Return the channels holding segments that wait to be published."""
    return list(db_session.connection().execute(
        select(_TRACKS.c.channel_id).where(_TRACKS.c.pending_n > 0).distinct()).scalars())
