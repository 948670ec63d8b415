"""Ingest's jobs: publish what is complete or past its deadline."""

from __future__ import annotations

import logging
import time

from infra.jobs import JobSpec
from infra.runtime import Runtime
from streaming.ingest import service as ingest
from streaming.ingest import store

log = logging.getLogger(__name__)


def sweep_ingest(rt: Runtime) -> int:
    """Publish pending segments that are complete or past their deadline, on every channel."""
    with rt.db.session(write=False) as s:
        channels = store.channels_with_pending(db_session=s)
    now = time.time_ns() // 1000
    return sum(ingest.publish_due(rt, ch, now) for ch in channels)


JOBS = (
    JobSpec("streaming.sweep_ingest", sweep_ingest, timeout_s=30, max_tries=1, every_s=0.5),
)
