"""Faults at full length: Redis and PostgreSQL away 30 s (killed, and frozen), storage 60 s, processes SIGKILLed.

    .venv/bin/python -m bench.faults
    .venv/bin/python -m bench.faults --faults pg-freeze,storage --outage 30 --storage-outage 60

The same stack and measurement as the fault tests (tests/support/fault_stack.py: PostgreSQL,
Redis and S3 of its own; an API, a worker and a packager; a channel our packager encodes live
at 360p/240p with 1.92 s segments; a player through the door), with the issue's lengths: for
each fault, seconds from its end to the first new segment in the archive, entries missing from
the archive 60 s after it ends (a gap, a hole, or bytes not in storage, per rendition), the
player's worst lag behind the live edge during it, and the log lines per second of each process
during it. Prints a Markdown table for docs/benchmarks.md and the raw reports as JSON.
"""

from __future__ import annotations

import argparse
import json

from bench.common import machine
from tests.support.fault_stack import FaultStack, measure_outage

FAULTS = ("redis-kill", "redis-freeze", "pg-kill", "pg-freeze", "storage", "api", "worker", "packager")


def _fault(stack: FaultStack, name: str, outage_s: float, storage_s: float):  # noqa: ANN202
    """Return (label, begin, end, length) of a fault."""
    proxy = stack.s3.proxy
    table = {
        "redis-kill": ("Redis killed (back empty)", stack.redis.kill, stack.redis.start, outage_s),
        "redis-freeze": ("Redis frozen (SIGSTOP)", stack.redis.freeze, stack.redis.thaw, outage_s),
        "pg-kill": ("PostgreSQL killed", stack.pg.kill, stack.pg.start, outage_s),
        "pg-freeze": ("PostgreSQL frozen (SIGSTOP)", stack.pg.freeze, stack.pg.thaw, outage_s),
        "storage": ("storage unreachable", proxy.cut, proxy.restore, storage_s),
    }
    if name in table:
        return table[name]
    process = stack.processes[name]
    return f"{name} SIGKILLed (restarted at once)", process.kill, process.start, 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--outage", type=float, default=30.0, help="Redis and PostgreSQL outages, seconds")
    parser.add_argument("--storage-outage", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=60.0, help="what is missing is counted this long after")
    args = parser.parse_args()
    stack = FaultStack().start()
    reports = []
    try:
        for name in args.faults.split(","):
            label, begin, end, length = _fault(stack, name, args.outage, args.storage_outage)
            report = measure_outage(stack, label, begin, end, length, settle_s=args.settle, wait_out=True)
            reports.append(report)
            print(json.dumps(report.__dict__), flush=True)
    finally:
        stack.close()
    print(f"\nMachine: {machine()}\n")
    print("| fault | length | served during it | worst player lag | first new segment after | missing after "
          f"{args.settle:.0f} s | log lines/s (api, worker, packager) |")
    print("|---|---|---|---|---|---|---|")
    for r in reports:
        served = ", ".join(f"{n}x {s}" for s, n in sorted(r.served.items()))
        logs = ", ".join(f"{r.log_lines_per_s.get(p, 0):.2f}" for p in ("api", "worker", "packager"))
        print(f"| {r.fault} | {r.outage_s:g} s | {served} | {r.player_stalled_s:.1f} s | {r.first_segment_after_s} s "
              f"| {len(r.missing)} of {2 * r.expected} | {logs} |")


if __name__ == "__main__":
    main()
