"""The packager's jobs: outage slates for channels with an MPEG-TS set."""

from __future__ import annotations

import logging

from catalog.channels import service as catalog_service
from infra.jobs import JobSpec, queue_job
from infra.runtime import Runtime
from streaming.packager import slate
from streaming.timeline import service as timeline_service

log = logging.getLogger(__name__)


def reconcile_slates(rt: Runtime) -> list[str]:
    """Queue slates for every enabled channel with the TS set whose slates are missing (a new
    channel, a new ladder) and could be made (not after ffmpeg failed on them); return the
    channels queued."""
    with rt.db.session(write=False) as s:
        failed = catalog_service.slate_error_ids(db_session=s)
        specs = [timeline_service.channel_spec(db_session=s, channel_id=c) for c in timeline_service.ts_channel_ids(db_session=s)
                 if c not in failed]
    due = [spec.id for spec in specs
           if not all(rt.store.exists(slate.slate_key(spec, name)) for name in slate.slate_shapes(spec))]
    for channel_id in due:
        queue_job(rt, "streaming.make_slates", f"streaming.slates:{channel_id}", channel_id=channel_id)
    return due


JOBS = (
    JobSpec("streaming.make_slates", slate.make_slates, timeout_s=300, max_tries=3),
    JobSpec("streaming.reconcile_slates", reconcile_slates, timeout_s=120, max_tries=1, every_s=30),
)
