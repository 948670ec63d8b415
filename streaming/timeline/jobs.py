"""The timeline's jobs: retention."""

from __future__ import annotations

import logging
from dataclasses import asdict

from infra.jobs import JobSpec
from infra.runtime import Runtime
from streaming.timeline.retention import purge

log = logging.getLogger(__name__)


def purge_archive(rt: Runtime) -> dict:
    """Delete segments that left every window (time-shift and archive) and that no recording pins."""
    return asdict(purge(rt))


JOBS = (
    JobSpec("streaming.purge_archive", purge_archive, timeout_s=3000, max_tries=1, every_s=600),
)
