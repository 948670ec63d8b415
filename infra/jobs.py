"""Jobs as the domain declares them, and the one way domain code queues one.

Each package declares its jobs beside its domain (``jobs.py``: a ``JOBS`` tuple of `JobSpec`);
the composition assembles them into the process's registry (``Runtime.job_specs``) and hands it
to the runner; domain code queues work through `queue_job`, never by importing ``workers``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from infra.runtime import Runtime


@dataclass(frozen=True)
class JobSpec:
    """A job: its function, limits and, for periodic jobs, how often it runs."""

    name: str
    func: Callable[..., Any]
    timeout_s: float = 60.0
    max_tries: int = 5
    every_s: float | None = None


class JobQueue(Protocol):
    """What runs queued jobs in this process: the in-process runner or arq's pool."""

    def enqueue(self, name: str, *, job_id: str, **kwargs: Any) -> bool:
        """Queue job name once under job_id; tell whether it was queued (False: it already was)."""


def queue_job(rt: Runtime, name: str, job_id: str, **kwargs: Any) -> None:
    """Queue a job through this process's runner; with none (a one-off command), run it here."""
    if rt.jobs is not None:
        rt.jobs.enqueue(name, job_id=job_id, **kwargs)
    else:
        rt.job_specs[name].func(rt, **kwargs)
