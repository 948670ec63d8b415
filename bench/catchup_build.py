"""Catch-up playlist build against the size of the archive, and the size of the timeline index.

Channels with jittering segment durations (1.90 to 2.10 s, so varied runs with a packed
duration array) and a discontinuity every 30 minutes. First one day of the archive is written
for every channel and a 4-hour catch-up window is built from the index (the origin's own code:
the index read, the window's segments, the playlist rendered; no cache) many times; then six
more days are added and the same window is built again, in the same run. Also reports the
index's rows and bytes for the jittered archive and for a stable encoder (uniform runs).

    .venv/bin/python -m bench.catchup_build --mode distributed --channels 300 --days 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, func, select, text

from bench.common import machine, mode_env
from catalog.channels import service as catalog_service
from catalog.channels.schemas import ChannelCreate
from entitlements.playback.gate import PlaybackGate
from infra.composition.wiring import build
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import get_settings
from streaming.formats.windows import Window
from streaming.origin.app import Origin
from streaming.origin.rendering import window_gaps, window_playlist
from streaming.timeline import service
from streaming.timeline.models import SegmentRun
from streaming.timeline.runs import make_run, pack_durations
from streaming.timeline.windows import ArchiveRuns

SEG = 2_000_000
HALF_HOUR = 1800 * 1_000_000
DAY = 86400 * 1_000_000


def jittered_runs(day_start_us: int, first_seq: int, disc_count: int, rng: random.Random) -> list:
    """One day of runs: a discontinuity every 30 minutes, durations jittering around 2 s."""

    runs, seq, t = [], first_seq, day_start_us
    for _ in range(48):
        durations, total = [], 0
        while total < HALF_HOUR - 2_100_000:
            d = rng.randint(1_900_000, 2_100_000)
            durations.append(d)
            total += d
        durations.append(HALF_HOUR - total)  # the run ends on the half hour
        runs.append(make_run(first_seq=seq, start_us=t, count=len(durations), durations=pack_durations(durations),
                             discontinuity=True, disc_count=disc_count, session=disc_count, enc_offset=seq,
                             inits={"cmaf/360p": "0" * 16}))
        seq, t, disc_count = seq + len(durations), t + HALF_HOUR, disc_count + 1
    return runs


def write_days(rt, channels: list[str], days: range, total_days: int, t0: int) -> None:  # noqa: ANN001
    """Write the given days of every channel; each channel's whole archive is generated the same
    way every time (its own seed), so days written later line up with those written before."""

    for cid in channels:
        rng = random.Random(cid)
        seq, disc = 0, 0
        for day in range(total_days):
            runs = jittered_runs(t0 + day * DAY, seq, disc, rng)
            seq, disc = runs[-1].last_seq + 1, runs[-1].disc_count + 1
            if day in days:
                with rt.db.session() as s:
                    service.write_runs(db_session=s, channel_id=cid, runs=runs)


def index_size(rt) -> dict:  # noqa: ANN001
    """Rows, the bytes of the rows themselves, and the table with its indexes on disk (compacted)."""


    pg = rt.settings.database_url.startswith("postgresql")
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL segment_runs" if pg else "VACUUM"))
    with rt.db.session(write=False) as s:
        rows = s.scalar(select(func.count()).select_from(SegmentRun))
        if pg:
            size = s.execute(text("select pg_total_relation_size('segment_runs')")).scalar()
            row_bytes = s.execute(text("select sum(pg_column_size(r.*)) from segment_runs r")).scalar()
        else:
            size = s.execute(text("select sum(pgsize) from dbstat where name like '%segment_runs%'")).scalar()
            row_bytes = None  # SQLite has no per-row size; the table's pages are the figure
    return {"rows": rows, "row_bytes": int(row_bytes) if row_bytes is not None else None,
            "table_and_index_bytes": int(size or 0)}


async def build_times(rt, cid: str, window, repeat: int) -> list[float]:  # noqa: ANN001

    origin = Origin(rt, app=None, gate=PlaybackGate(rt))
    view = await origin.view(cid)
    times = []
    for _ in range(repeat):
        origin.windows.kept = ArchiveRuns()  # every build reads the index
        view.rendered.clear()
        t = time.perf_counter()
        runs, holes = await origin.windows.of(view, window)
        body, _, _ = window_playlist(view, "cmaf/360p", window, runs, holes, window_gaps(view, window, rt.settings))
        times.append(time.perf_counter() - t)
    assert body.count(b"#EXT-X-DISCONTINUITY\n") >= 7, "a 4-hour window crosses 7 or 8 discontinuities"
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    os.environ.update(mode_env(args.mode, Path(tempfile.mkdtemp(prefix="smartgo-bench-"))))

    settings = get_settings()
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)

    channels = [f"arch{i:03d}" for i in range(args.channels)]
    with rt.db.session() as s:
        for cid in channels:
            catalog_service.create(db_session=s, channel_in=ChannelCreate(
                id=cid, name=cid, timeshift_window_s=3600, archive_days=args.days, renditions=[
                    {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]))
    t0 = (int(time.time()) // 86400 - args.days) * DAY  # midnights, ending today
    target = channels[len(channels) // 2]
    t = time.perf_counter()
    write_days(rt, channels, range(args.days - 1, args.days), args.days, t0)  # the newest day only first
    write_one = time.perf_counter() - t
    # 4 hours from 10:15 on the day present, crossing discontinuities at every half hour.
    start = (t0 + (args.days - 1) * DAY) // 1_000_000 + 10 * 3600 + 900
    window = Window(target, start, start + 4 * 3600, "vod", 0)
    one_day = asyncio.run(build_times(rt, target, window, args.repeat))
    size_one = index_size(rt)
    # The older days, written before the first, so the index holds them around the window.
    write_days(rt, channels, range(args.days - 1), args.days, t0)
    full = asyncio.run(build_times(rt, target, window, args.repeat))
    size_full = index_size(rt)
    with rt.db.session() as s:

        s.execute(delete(SegmentRun))
    uniform = uniform_index(rt, channels, args.days, t0)
    med1, medf = statistics.median(one_day), statistics.median(full)
    print(json.dumps({
        "mode": args.mode, "channels": args.channels, "days": args.days, "window_hours": 4,
        "builds_each": args.repeat,
        "build_ms_one_day": {"median": round(med1 * 1000, 3), "p90": round(sorted(one_day)[int(0.9 * len(one_day))] * 1000, 3)},
        "build_ms_all_days": {"median": round(medf * 1000, 3), "p90": round(sorted(full)[int(0.9 * len(full))] * 1000, 3)},
        "all_over_one_day": round(medf / med1, 3), "target": "all_over_one_day <= 1.2",
        "index_jittered_one_day": size_one, "index_jittered_all_days": size_full,
        "index_uniform_all_days": uniform, "write_one_day_s": round(write_one, 1),
        "machine": machine(),
    }, indent=2))
    rt.close()


def uniform_index(rt, channels: list[str], days: int, t0: int) -> dict:  # noqa: ANN001
    """A stable encoder's archive: one uniform run per channel (a run breaks only at a discontinuity)."""

    for cid in channels:
        run = make_run(first_seq=0, start_us=t0, count=days * 86400 * 1_000_000 // SEG, duration_us=SEG,
                       inits={"cmaf/360p": "0" * 16})
        with rt.db.session() as s:
            service.write_runs(db_session=s, channel_id=cid, runs=[run])
    return index_size(rt)


if __name__ == "__main__":
    main()
