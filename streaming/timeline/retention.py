"""Retention: delete the segments that have left every window, driven by the index.

A segment may go once it ended longer ago than the channel keeps anything (its time-shift
window or its archive for catch-up, whichever is longer) and no pin covers it (a recording's
shared copy, recorder/). Objects go first, then the index rows, so a purge cut short leaves
only rows whose objects may be gone, which the next run deletes again (deleting a missing
object is not an error): nothing is orphaned in storage. Objects are deleted in batches of
1,000 keys (one S3 DeleteObjects request each).

An S3 lifecycle rule deleting whole days after, say, 35 days may back this up for objects a
bug left behind; it cannot replace it, since it knows nothing of pins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from catalog.channels import service as channel_service
from infra.runtime import Runtime
from streaming.timeline import service
from streaming.timeline.models import (
    ChannelTimelineState,
    SegmentHole,
    SegmentRun,
)
from streaming.timeline.runs import Run, cut_run, expired_ranges

DELETE_BATCH = 1000


@dataclass
class PurgeReport:
    """What a purge did."""

    channels: int = 0
    segments: int = 0
    objects: int = 0
    store_requests: int = 0
    runs_changed: int = 0


def keep_us(timeshift_window_s: int, archive_days: int) -> int:
    """Return how long a channel's segments are kept, in microseconds."""
    return max(timeshift_window_s, archive_days * 86400) * 1_000_000


def purge(rt: Runtime, *, now_us: int | None = None, channel_ids: list[str] | None = None) -> PurgeReport:
    """Delete expired, unpinned segments of every channel (or of those given)."""
    now_us = now_us if now_us is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
    report = PurgeReport()
    with rt.db.session(write=False) as s:
        channels = [(cid, now_us - keep_us(window, days))
                    for cid, window, days in channel_service.archive_spans(db_session=s, channel_ids=channel_ids)]
    for channel_id, cutoff in channels:
        report.channels += 1
        _purge_channel(rt, channel_id, cutoff, report)
    return report


def _purge_channel(rt: Runtime, channel_id: str, cutoff_us: int, report: PurgeReport) -> None:
    with rt.db.session(write=False) as s:
        spec = service.channel_spec(db_session=s, channel_id=channel_id)
        pins = service.pins_of(db_session=s, channel_id=channel_id)
        runs = [service.to_run(r) for r in s.scalars(
            select(SegmentRun).where(SegmentRun.channel_id == channel_id, SegmentRun.start_us < cutoff_us)
            .order_by(SegmentRun.start_us))]
    keys: list[str] = []
    for run in runs:
        drop = expired_ranges(run, cutoff_us, pins)
        if not drop:
            continue
        if not run.gap:  # gap entries have no objects
            # The channel's tracks now and those the run was made with (a rendition since removed).
            tracks = sorted(set(spec.tracks) | set(run.inits))
            keys += [service.segment_key(channel_id, track, run.session, seq - run.enc_offset)
                     for lo, hi in drop for seq in range(run.first_seq + lo, run.first_seq + hi)
                     for track in tracks]
        report.segments += sum(hi - lo for lo, hi in drop)
        while len(keys) >= DELETE_BATCH:
            report.store_requests += rt.store.delete_many(keys[:DELETE_BATCH])
            report.objects += DELETE_BATCH
            keys = keys[DELETE_BATCH:]
        # Rows may only go once their objects have: flush the rest of this run's keys first.
        if keys:
            report.store_requests += rt.store.delete_many(keys)
            report.objects += len(keys)
            keys = []
        _replace_run(rt, channel_id, run, drop)
        report.runs_changed += 1


def _replace_run(rt: Runtime, channel_id: str, run: Run, drop: list[tuple[int, int]]) -> None:
    with rt.db.session() as s:
        # Under the channel's ingest lock, and with its version bumped: the run may be the tail
        # that ingest is appending to, and ingest reloads a tail whose version moved.
        state = s.get(ChannelTimelineState, channel_id, with_for_update=True)
        row = s.scalar(select(SegmentRun).where(SegmentRun.channel_id == channel_id,
                                                SegmentRun.first_seq == run.first_seq))
        if row is None:
            return
        pieces = cut_run(service.to_run(row), drop)
        s.execute(delete(SegmentRun).where(SegmentRun.channel_id == channel_id,
                                           SegmentRun.first_seq == run.first_seq))
        for lo, hi in drop:
            s.execute(delete(SegmentHole).where(SegmentHole.channel_id == channel_id,
                                                SegmentHole.seq >= run.first_seq + lo,
                                                SegmentHole.seq < run.first_seq + hi))
        if pieces:
            service.write_runs(db_session=s, channel_id=channel_id, runs=pieces)
        if state is not None:
            state.version += 1
