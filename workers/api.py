"""Operators' view of the periodic jobs: interval, last runs, last error, next due time."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from infra.deps import RuntimeDep, require_staff
from infra.runtime import Runtime
from workers.schedule_store import (
    MemoryScheduleStore,
    RedisScheduleStore,
    ScheduleStore,
)
from workers.scheduler import (
    RUN_LEASE,
    SCHEDULER_LEASE,
    PeriodicScheduler,
    schedule_report,
)

router = APIRouter()


def _schedule(rt: Runtime) -> tuple[ScheduleStore, object]:
    """Return the schedule store and leases of whatever runs this deployment's periodic jobs."""
    scheduler = rt.peek(PeriodicScheduler)  # this process runs them (embedded mode)
    if scheduler is not None:
        return scheduler.store, scheduler.leases
    if rt.settings.redis_url:  # the workers do, and keep their schedule in Redis
        return rt.state(RedisScheduleStore, lambda rt: RedisScheduleStore(rt.settings.redis_url)), rt.leases
    return MemoryScheduleStore(), rt.leases  # nothing runs them here: nothing to show


@router.get("/v1/admin/jobs", tags=["jobs"], dependencies=[Depends(require_staff("operator"))])
def periodic_jobs(rt: RuntimeDep) -> dict:
    """Show each periodic job's interval, last run start times, last error and next due time, and
    which worker schedules them."""
    store, leases = _schedule(rt)
    names = [name for name, spec in rt.job_specs.items() if spec.every_s]
    records = store.records(names)
    holders = {RUN_LEASE + name: leases.holder(RUN_LEASE + name) for name in names}
    return {"scheduler": leases.holder(SCHEDULER_LEASE),
            "jobs": schedule_report(rt.job_specs.values(), records, holders, time.time())}
