"""The cloud DVR's jobs: start and finish recordings, private copies, series rules, expiry."""

from __future__ import annotations

import datetime as dt
import logging

from infra.jobs import JobSpec, queue_job
from infra.runtime import Runtime
from recorder import series, service
from streaming.copies import service as copies

log = logging.getLogger(__name__)


def reconcile_recordings(rt: Runtime) -> dict[str, int]:
    """Start the recordings whose window began; queue the jobs that finish recordings whose window
    ended, make private copies of finished ones and delete released ones. Queued again on every
    pass until done, so a lost job costs one pass (job ids keep each queued once)."""
    now = dt.datetime.now(dt.UTC)
    with rt.db.session() as s:
        started = service.start_due(db_session=s, now=now)
        due = service.finalize_due(db_session=s, now=now)
        to_copy = service.copies_to_make(db_session=s)
        released = service.released_copies(db_session=s)
    for recording_id in due:
        queue_job(rt, "recorder.finalize_recording", f"recorder.finalize:{recording_id}", recording_id=recording_id)
    for copy_id in to_copy:
        queue_job(rt, "recorder.make_private_copy", f"recorder.copy:{copy_id}", copy_id=copy_id)
    for copy_id in released:
        delete_private_copy(rt, copy_id)
    return {"started": started, "finishing": len(due), "copying": len(to_copy), "deleted": len(released)}


def apply_series_rules(rt: Runtime, channel_id: str) -> int:
    """Record what each series rule of a channel does not hold yet (after its guide changed), one
    rule per transaction, so one subscriber's failure stops nobody else's; return how many ran."""
    with rt.db.session(write=False) as s:
        rule_ids = series.channel_rule_ids(db_session=s, channel_id=channel_id)
    failed = []
    for rule_id in rule_ids:
        try:
            with rt.db.session() as s:
                series.apply_rule_by_id(rt, db_session=s, rule_id=rule_id)
        except Exception:
            log.exception("series rule %s failed", rule_id)
            failed.append(rule_id)
    if failed:  # the job is retried; the rules that ran hold what they recorded and skip it
        raise RuntimeError(f"{len(failed)} of {len(rule_ids)} series rules failed on channel {channel_id}")
    return len(rule_ids)


def reconcile_series_rules(rt: Runtime) -> int:
    """Queue the series rules of every channel that has some (their job after a guide import may
    have been lost with Redis); return how many channels were queued."""
    with rt.db.session(write=False) as s:
        channel_ids = series.channels_with_rules(db_session=s)
    for channel_id in channel_ids:
        queue_job(rt, "recorder.apply_series_rules", f"recorder.series:{channel_id}", channel_id=channel_id)
    return len(channel_ids)


def finalize_recording(rt: Runtime, recording_id: str) -> str | None:
    """Finish a recording whose window is over (completed, partial or failed), in one transaction."""
    with rt.db.session() as s:
        return service.finalize(rt, db_session=s, recording_id=recording_id, now=dt.datetime.now(dt.UTC))


def make_private_copy(rt: Runtime, copy_id: str) -> int:
    """Copy a finished recording's window into its private copy, then release its archive pin;
    return the bytes copied. Copying again after a crash is harmless: the index is written last."""
    with rt.db.session(write=False) as s:
        todo = service.copy_to_make(db_session=s, copy_id=copy_id)
    if todo is None:
        return 0
    channel_id, start_us, end_us = todo
    size = copies.make_copy(rt, copy_id=copy_id, channel_id=channel_id, start_us=start_us, end_us=end_us)
    with rt.db.session() as s:
        stands = service.copy_made(db_session=s, copy_id=copy_id, size=size)
    if not stands:  # its recording was deleted while it was being made: what it wrote goes too
        copies.delete_copy(rt, copy_id)
        return 0
    return size


def delete_private_copy(rt: Runtime, copy_id: str) -> None:
    """Delete a released private copy: its objects first, then its row."""
    copies.delete_copy(rt, copy_id)
    with rt.db.session() as s:
        service.forget_copy(db_session=s, copy_id=copy_id)


def expire_recordings(rt: Runtime) -> int:
    """Delete recordings past their retention; their copies go once nobody else uses them."""
    with rt.db.session() as s:
        return service.expire(db_session=s, now=dt.datetime.now(dt.UTC))


JOBS = (
    JobSpec("recorder.reconcile_recordings", reconcile_recordings, timeout_s=300, max_tries=1, every_s=2),
    JobSpec("recorder.finalize_recording", finalize_recording, timeout_s=120, max_tries=5),
    JobSpec("recorder.make_private_copy", make_private_copy, timeout_s=1800, max_tries=5),
    JobSpec("recorder.apply_series_rules", apply_series_rules, timeout_s=1800, max_tries=5),
    JobSpec("recorder.reconcile_series_rules", reconcile_series_rules, timeout_s=300, max_tries=1, every_s=3600),
    JobSpec("recorder.expire_recordings", expire_recordings, timeout_s=600, max_tries=1, every_s=3600),
)
