"""Job functions. Each receives the runtime and ids (never objects) and is idempotent."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from infra.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A job: its function, limits and, for periodic jobs, how often it runs."""

    name: str
    func: Callable[..., Any]
    timeout_s: float = 60.0
    max_tries: int = 5
    every_s: float | None = None


def sweep_ingest(rt: Runtime) -> int:
    """Publish pending segments that are complete or past their deadline, on every channel."""
    from streaming.ingest import service as ingest
    from streaming.ingest import store as service

    with rt.db.session(write=False) as s:
        channels = service.channels_with_pending(db_session=s)
    now = time.time_ns() // 1000
    return sum(ingest.publish_due(rt, ch, now) for ch in channels)


def purge_playback_records(rt: Runtime) -> dict[str, int]:
    """Delete playback decisions past their retention and long-ended sessions."""
    from entitlements.playback import service as playback

    with rt.db.session() as s:
        return playback.purge_old(db_session=s)


def run_guide_imports(rt: Runtime, max_imports: int = 5) -> list[str]:
    """Queue the guide refreshes that are due, then claim and run queued imports one by one."""
    import datetime as dt

    from catalog.guide import service as epg
    from catalog.guide.imports import run_import

    with rt.db.session() as s:
        epg.queue_due_refreshes(db_session=s, now=dt.datetime.now(dt.UTC))
    done = []
    for _ in range(max_imports):
        with rt.db.session() as s:
            import_id = epg.claim_next(db_session=s, now=dt.datetime.now(dt.UTC))
        if import_id is None:
            break
        run_import(rt, import_id)
        done.append(import_id)
    return done


def purge_archive(rt: Runtime) -> dict:
    """Delete segments that left every window (time-shift and archive) and that no recording pins."""
    from dataclasses import asdict

    from streaming.timeline.retention import purge

    return asdict(purge(rt))


def reconcile_recordings(rt: Runtime) -> dict[str, int]:
    """Start the recordings whose window began; queue the jobs that finish recordings whose window
    ended, make private copies of finished ones and delete released ones. Queued again on every
    pass until done, so a lost job costs one pass (job ids keep each queued once)."""
    import datetime as dt

    from recorder import service

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


def queue_job(rt: Runtime, name: str, job_id: str, **kwargs: Any) -> None:
    """Queue a job through this process's runner; with none (a one-off command), run it here."""
    if rt.jobs is not None:
        rt.jobs.enqueue(name, job_id=job_id, **kwargs)
    else:
        JOBS[name].func(rt, **kwargs)


def apply_series_rules(rt: Runtime, channel_id: str) -> int:
    """Record what each series rule of a channel does not hold yet (after its guide changed), one
    rule per transaction, so one subscriber's failure stops nobody else's; return how many ran."""
    from recorder import series

    with rt.db.session(write=False) as s:
        rule_ids = series.channel_rule_ids(db_session=s, channel_id=channel_id)
    failed = []
    for rule_id in rule_ids:
        try:
            with rt.db.session() as s:
                series.apply_rule_by_id(db_session=s, rule_id=rule_id)
        except Exception:
            log.exception("series rule %s failed", rule_id)
            failed.append(rule_id)
    if failed:  # the job is retried; the rules that ran hold what they recorded and skip it
        raise RuntimeError(f"{len(failed)} of {len(rule_ids)} series rules failed on channel {channel_id}")
    return len(rule_ids)


def reconcile_series_rules(rt: Runtime) -> int:
    """Queue the series rules of every channel that has some (their job after a guide import may
    have been lost with Redis); return how many channels were queued."""
    from recorder import series

    with rt.db.session(write=False) as s:
        channel_ids = series.channels_with_rules(db_session=s)
    for channel_id in channel_ids:
        queue_job(rt, "recorder.apply_series_rules", f"recorder.series:{channel_id}", channel_id=channel_id)
    return len(channel_ids)


def finalize_recording(rt: Runtime, recording_id: str) -> str | None:
    """Finish a recording whose window is over (completed, partial or failed), in one transaction."""
    import datetime as dt

    from recorder import service

    with rt.db.session() as s:
        return service.finalize(db_session=s, recording_id=recording_id, now=dt.datetime.now(dt.UTC))


def make_private_copy(rt: Runtime, copy_id: str) -> int:
    """Copy a finished recording's window into its private copy, then release its archive pin;
    return the bytes copied. Copying again after a crash is harmless: the index is written last."""
    from recorder import service
    from streaming.timeline import copies

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
    from recorder import service
    from streaming.timeline import copies

    copies.delete_copy(rt, copy_id)
    with rt.db.session() as s:
        service.forget_copy(db_session=s, copy_id=copy_id)


def expire_recordings(rt: Runtime) -> int:
    """Delete recordings past their retention; their copies go once nobody else uses them."""
    import datetime as dt

    from recorder import service

    with rt.db.session() as s:
        return service.expire(db_session=s, now=dt.datetime.now(dt.UTC))


def ingest_asset(rt: Runtime, asset_id: str) -> str:
    """Probe, transcode, store and index one VOD asset if it is still to do; return its state."""
    from streaming.vod.ingest import ingest_asset as run

    return run(rt, asset_id)


def reconcile_assets(rt: Runtime) -> int:
    """Queue ingest for every asset that waits for it (queued, or its worker went silent) with tries
    left, fail those without; drop multipart uploads abandoned for two days."""
    import datetime as dt

    from infra.errors import ServiceUnavailable
    from streaming.vod import service as assets
    from streaming.vod import uploads

    now = dt.datetime.now(dt.UTC)
    with rt.db.session() as s:
        given_up = assets.give_up(db_session=s, now=now)
        due = assets.to_ingest(db_session=s, now=now)
        abandoned = uploads.abandoned(db_session=s, now=now)
    for asset_id in given_up:
        log.warning("asset %s failed: its ingest used every try", asset_id)
    for asset_id in abandoned:
        try:
            with rt.db.session() as s:
                uploads.abort(db_session=s, store=rt.store, asset_id=asset_id, now=now)
        except ServiceUnavailable:
            log.warning("abandoned upload %s: storage unavailable, dropped on a later pass", asset_id)
        except Exception:  # storage refuses to drop the parts: forget the upload (its parts expire there)
            log.exception("abandoned upload %s: its parts could not be dropped", asset_id)
            with rt.db.session() as s:
                uploads.forget(db_session=s, asset_id=asset_id, now=now)
    for asset_id in due:
        queue_job(rt, "streaming.ingest_asset", f"streaming.ingest:{asset_id}", asset_id=asset_id)
    return len(due)


def make_slates(rt: Runtime, channel_id: str) -> list[str]:
    """Make the outage slates a channel's MPEG-TS tracks lack (streaming/slate.py)."""
    from streaming.packager.slate import make_slates as run

    return run(rt, channel_id)


def reconcile_slates(rt: Runtime) -> list[str]:
    """Queue slates for every enabled channel with the TS set whose slates are missing (a new
    channel, a new ladder) and could be made (not after ffmpeg failed on them); return the
    channels queued."""
    from catalog.channels import service as catalog_service
    from streaming.packager.slate import slate_key, slate_shapes
    from streaming.timeline import service

    with rt.db.session(write=False) as s:
        failed = catalog_service.slate_error_ids(db_session=s)
        specs = [service.channel_spec(db_session=s, channel_id=c) for c in service.ts_channel_ids(db_session=s)
                 if c not in failed]
    due = [spec.id for spec in specs
           if not all(rt.store.exists(slate_key(spec, name)) for name in slate_shapes(spec))]
    for channel_id in due:
        queue_job(rt, "streaming.make_slates", f"streaming.slates:{channel_id}", channel_id=channel_id)
    return due


def deliver_webhooks(rt: Runtime) -> dict:
    """Send due outbox events to SMARTGO_WEBHOOK_URL, signed (nothing, and no query, when unset)."""
    from infra import webhooks

    return webhooks.deliver_webhooks(rt)


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("streaming.sweep_ingest", sweep_ingest, timeout_s=30, max_tries=1, every_s=0.5),
        JobSpec("entitlements.purge_playback_records", purge_playback_records, timeout_s=300, max_tries=3,
                every_s=3600),
        JobSpec("catalog.run_guide_imports", run_guide_imports, timeout_s=1800, max_tries=1, every_s=2),
        JobSpec("streaming.purge_archive", purge_archive, timeout_s=3000, max_tries=1, every_s=600),
        JobSpec("recorder.reconcile_recordings", reconcile_recordings, timeout_s=300, max_tries=1, every_s=2),
        JobSpec("recorder.finalize_recording", finalize_recording, timeout_s=120, max_tries=5),
        JobSpec("recorder.make_private_copy", make_private_copy, timeout_s=1800, max_tries=5),
        JobSpec("recorder.apply_series_rules", apply_series_rules, timeout_s=1800, max_tries=5),
        JobSpec("recorder.reconcile_series_rules", reconcile_series_rules, timeout_s=300, max_tries=1, every_s=3600),
        JobSpec("recorder.expire_recordings", expire_recordings, timeout_s=600, max_tries=1, every_s=3600),
        JobSpec("streaming.ingest_asset", ingest_asset, timeout_s=6 * 3600, max_tries=3),
        JobSpec("streaming.reconcile_assets", reconcile_assets, timeout_s=60, max_tries=1, every_s=2),
        JobSpec("infra.deliver_webhooks", deliver_webhooks, timeout_s=120, max_tries=1, every_s=1),
        JobSpec("streaming.make_slates", make_slates, timeout_s=300, max_tries=3),
        JobSpec("streaming.reconcile_slates", reconcile_slates, timeout_s=120, max_tries=1, every_s=30),
    )
}
