"""Job functions. Each receives the runtime and ids (never objects) and is idempotent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from infra.runtime import Runtime


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
    from streaming import ingest, service

    with rt.db.session(write=False) as s:
        channels = service.channels_with_pending(db_session=s)
    now = time.time_ns() // 1000
    return sum(ingest.publish_due(rt, ch, now) for ch in channels)


def purge_playback_records(rt: Runtime) -> dict[str, int]:
    """Delete playback decisions past their retention and long-ended sessions."""
    from entitlements import playback

    with rt.db.session() as s:
        return playback.purge_old(db_session=s)


def run_guide_imports(rt: Runtime, max_imports: int = 5) -> list[str]:
    """Queue the guide refreshes that are due, then claim and run queued imports one by one."""
    import datetime as dt

    from catalog import epg
    from catalog.epg_import import run_import

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

    from streaming.retention import purge

    return asdict(purge(rt))


def finish_recordings(rt: Runtime) -> list[str]:
    """Start the recordings whose window began; finish those whose window ended (each in its own
    transaction, so one that fails waits for the next run and the others go on)."""
    import datetime as dt

    from recorder import service

    now = dt.datetime.now(dt.UTC)
    with rt.db.session() as s:
        service.start_due(db_session=s, now=now)
        due = service.finalize_due(db_session=s, now=now)
    done = []
    for recording_id in due:
        with rt.db.session() as s:
            done.append(f"{recording_id}:{service.finalize(db_session=s, recording_id=recording_id, now=now)}")
    return done


def expire_recordings(rt: Runtime) -> int:
    """Delete recordings past their retention; their copies go once nobody else uses them."""
    import datetime as dt

    from recorder import service

    with rt.db.session() as s:
        return service.expire(db_session=s, now=dt.datetime.now(dt.UTC))


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("streaming.sweep_ingest", sweep_ingest, timeout_s=30, max_tries=1, every_s=0.5),
        JobSpec("entitlements.purge_playback_records", purge_playback_records, timeout_s=300, max_tries=3,
                every_s=3600),
        JobSpec("catalog.run_guide_imports", run_guide_imports, timeout_s=1800, max_tries=1, every_s=2),
        JobSpec("streaming.purge_archive", purge_archive, timeout_s=3000, max_tries=1, every_s=600),
        JobSpec("recorder.finish_recordings", finish_recordings, timeout_s=300, max_tries=1, every_s=2),
        JobSpec("recorder.expire_recordings", expire_recordings, timeout_s=600, max_tries=1, every_s=3600),
    )
}
