"""The door's jobs: playback records past their retention."""

from __future__ import annotations

import logging

from entitlements.playback import service as playback
from infra.jobs import JobSpec
from infra.runtime import Runtime

log = logging.getLogger(__name__)


def purge_playback_records(rt: Runtime) -> dict[str, int]:
    """Delete playback decisions past their retention and long-ended sessions."""
    with rt.db.session() as s:
        return playback.purge_old(rt, db_session=s)


JOBS = (
    JobSpec("entitlements.purge_playback_records", purge_playback_records, timeout_s=300, max_tries=3, every_s=3600),
)
