"""The guide's jobs: refreshes that are due, and queued imports."""

from __future__ import annotations

import datetime as dt
import logging

from catalog.guide import sources as epg
from catalog.guide.imports import run_import
from infra.jobs import JobSpec
from infra.runtime import Runtime

log = logging.getLogger(__name__)


def run_guide_imports(rt: Runtime, max_imports: int = 5) -> list[str]:
    """Queue the guide refreshes that are due, then claim and run queued imports one by one."""
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


JOBS = (
    JobSpec("catalog.run_guide_imports", run_guide_imports, timeout_s=1800, max_tries=1, every_s=2),
)
