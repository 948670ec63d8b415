"""Periodic job cadence, and what a worker logs while its Redis is away (issue 19).

    python -m bench.job_cadence [--seconds 60] [--outage 30] [--database-url URL]

1. Two `smartgo worker` processes on a Redis of their own (and SQLite, or --database-url):
   each periodic job's observed interval (p50, p95, max) over --seconds against its
   configured one; for jobs longer than the window, the computed schedule (next due minus last run).
2. The same on the embedded in-process runner.
3. One worker whose Redis is killed for --outage seconds, then restarted empty, then frozen
   (SIGSTOP) for as long and thawed: log lines per second during each outage, tracebacks, and
   how long after Redis's return the first periodic run came.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.common import machine, mode_env, percentile
from infra.composition.wiring import build
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import Settings
from tests.support.services import OwnRedis
from tests.support.workers import PERIODIC, WorkerProcess, isolated_env, runs_since
from workers.runner import InProcessJobRunner
from workers.schedule_store import JobRecord, RedisScheduleStore

SWEEP = "streaming.sweep_ingest"


def cadence_rows(records: dict[str, JobRecord], since: float) -> list[str]:
    """Return a table row per periodic job: configured interval, runs, observed p50/p95/max."""
    rows = []
    for name, every in sorted(PERIODIC.items(), key=lambda item: item[1]):
        record = records[name]
        runs = sorted(t for t in record.runs if t >= since)
        gaps = [b - a for a, b in zip(runs, runs[1:])]
        if gaps:
            observed = f"{percentile(gaps, 50):.3f} | {percentile(gaps, 95):.3f} | {max(gaps):.3f}"
        else:  # longer than the window: its computed schedule
            last = max(record.runs)
            observed = f"ran at start ({len(record.runs)} run); next due {record.next_due - last:.1f} s after it | - | -"
        rows.append(f"| {name} | {every:g} | {len(runs)} | {observed} |")
    return rows


def on_workers(base: dict[str, str], folder: Path, seconds: float) -> list[str]:
    """Measure the cadence on two worker processes."""
    own = OwnRedis().start()
    env = isolated_env(base, folder, own.url)
    upgrade(env["SMARTGO_DATABASE_URL"])
    store = RedisScheduleStore(own.url)
    workers = [WorkerProcess(env, folder / f"worker{i}.log") for i in range(2)]
    try:
        for worker in workers:
            worker.start()
        time.sleep(2)  # let start-up settle (imports, first runs of every job)
        since = time.time()
        time.sleep(seconds)
        return cadence_rows(store.records(list(PERIODIC)), since)
    finally:
        for worker in workers:
            worker.kill()
        own.stop()


def in_process(folder: Path, seconds: float) -> list[str]:
    """Measure the cadence on the embedded in-process runner."""
    settings = Settings(data_dir=folder)
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)

    async def run() -> list[str]:
        jobs = InProcessJobRunner(rt)
        await jobs.start()
        try:
            await asyncio.sleep(2)
            since = time.time()
            await asyncio.sleep(seconds)
            return cadence_rows(jobs.scheduler.store.records(list(PERIODIC)), since)
        finally:
            await jobs.stop()

    try:
        return asyncio.run(run())
    finally:
        rt.close()


def outages(base: dict[str, str], folder: Path, seconds: float) -> list[str]:
    """Kill, then freeze, the worker's Redis for `seconds` each; return a row per outage."""
    own = OwnRedis().start()
    env = isolated_env(base, folder, own.url)
    upgrade(env["SMARTGO_DATABASE_URL"])
    store = RedisScheduleStore(own.url, timeout_s=1)
    worker = WorkerProcess(env, folder / "outage.log").start()
    rows = []
    try:
        time.sleep(3)
        for kind, begin, end in (("killed, restarted empty", own.kill, own.start), ("frozen (SIGSTOP/SIGCONT)",
                                                                                  own.freeze, own.thaw)):
            before = len(worker.log_lines())
            begin()
            time.sleep(seconds)
            lines = worker.log_lines()[before:]
            end()
            back = time.time()
            first = None
            while first is None and time.time() - back < 30:
                runs = runs_since(store, SWEEP, back)
                first = runs[0] - back if runs else None
                time.sleep(0.05)
            tracebacks = sum("Traceback" in line for line in lines)
            rows.append(f"| {kind} | {seconds:g} | {len(lines)} | {len(lines) / seconds:.2f} | {tracebacks} | "
                        f"{'-' if first is None else f'{first:.2f}'} | {'yes' if worker.proc.poll() is None else 'no'} |")
            time.sleep(3)
        return rows
    finally:
        worker.kill()
        own.stop()


def main() -> None:
    """Run the three measurements and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--outage", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = {**os.environ, **mode_env("embedded", folder)}
        for sub in ("workers", "embedded", "outage"):
            (folder / sub).mkdir()
        head = ["| job | every (s) | runs | p50 (s) | p95 (s) | max (s) |", "|---|---|---|---|---|---|"]
        print(f"Machine: {machine()}\n")
        print(f"Two `smartgo worker` processes, {args.seconds:g} s:\n")
        print("\n".join(head + on_workers(base, folder / "workers", args.seconds)))
        print(f"\nEmbedded in-process runner, {args.seconds:g} s:\n")
        print("\n".join(head + in_process(folder / "embedded", args.seconds)))
        print("\nOne worker, its Redis away:\n")
        print("| outage | seconds | log lines | lines/s | tracebacks | first periodic run after return (s) | alive |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(outages(base, folder / "outage", args.outage)))


if __name__ == "__main__":
    main()
