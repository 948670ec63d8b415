"""``smartgo worker`` with one job more, ``test.hold``, that runs until the test lets it end.

    python -m tests.support.holding_worker [worker options]

The job writes MARKER.started (holding the worker's pid), waits for MARKER.release to appear
(at most a minute), then writes MARKER.done: a long job whose end the test decides.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from infra.composition import cli
from infra.composition import jobs as registry
from infra.jobs import JobSpec


def hold(rt, marker: str) -> str:  # noqa: ANN001
    """Say the job started, wait to be released, say it is done."""
    path = Path(marker)
    path.with_suffix(".started").write_text(str(os.getpid()))
    end = time.monotonic() + 60
    while not path.with_suffix(".release").exists() and time.monotonic() < end:
        time.sleep(0.05)
    path.with_suffix(".done").write_text(str(os.getpid()))
    return marker


_every_job = registry.job_specs
registry.job_specs = lambda: {**_every_job(), "test.hold": JobSpec("test.hold", hold, timeout_s=90, max_tries=1)}

if __name__ == "__main__":
    raise SystemExit(cli.main(["worker", *sys.argv[1:]]))
