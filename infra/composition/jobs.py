"""The job registry: every package's jobs, assembled here and handed to the runner."""

from __future__ import annotations

from catalog.guide import jobs as guide_jobs
from entitlements.playback import jobs as playback_jobs
from infra import webhooks
from infra.jobs import JobSpec
from recorder import jobs as recorder_jobs
from streaming.ingest import jobs as ingest_jobs
from streaming.packager import jobs as packager_jobs
from streaming.timeline import jobs as timeline_jobs
from streaming.vod import jobs as vod_jobs

INFRA_JOBS = (JobSpec("infra.deliver_webhooks", webhooks.deliver_webhooks, timeout_s=120, max_tries=1, every_s=1),)


def job_specs() -> dict[str, JobSpec]:
    """Return every job of every package by name."""
    specs = (*ingest_jobs.JOBS, *playback_jobs.JOBS, *guide_jobs.JOBS, *timeline_jobs.JOBS, *recorder_jobs.JOBS,
             *vod_jobs.JOBS, *INFRA_JOBS, *packager_jobs.JOBS)
    return {spec.name: spec for spec in specs}
