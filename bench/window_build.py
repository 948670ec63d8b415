"""Playlist build for a 2-hour window: 7 days of timeline present vs 2 hours present.

Both channels get jittering durations (1.92 s ± 80 ms) and a discontinuity (new encoder
session) every 30 minutes. A build is what the origin does for a window it does not hold in
memory: the index query (`runs_in_window`) plus cutting the window and rendering it.

    .venv/bin/python -m bench.window_build --db sqlite
    .venv/bin/python -m bench.window_build --db postgresql
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time

from sqlalchemy import func, select

from bench.common import machine, reset_bench_database
from catalog.channels import service as catalog_service
from catalog.channels.schemas import ChannelCreate
from infra.bus import InProcessBus
from infra.db import Database
from infra.migrate import upgrade
from infra.runtime import Runtime, set_runtime
from infra.settings import Settings
from streaming.formats.hls import MediaPlaylistSpec, render_media
from streaming.timeline import service
from streaming.timeline.models import SegmentRun
from streaming.timeline.runs import NewSegment, plan_append, segments_in

HOUR = 3600 * 1_000_000
NOMINAL = 1_920_000


def build_timeline(db: Database, channel_id: str, hours: float, end_us: int, seed: int,
                   nominal_us: int = NOMINAL) -> None:
    """Insert a jittering timeline of `hours` ending at end_us for a channel (segments of nominal_us ± 80 ms)."""
    rng = random.Random(seed)
    t = end_us - int(hours * HOUR)
    tail, session, encseq, next_disc = None, 1, 0, t + HOUR // 2
    rows: list = []
    pending_tail = None
    while t < end_us:
        if t >= next_disc:
            session, encseq, next_disc = session + 1, 0, next_disc + HOUR // 2
        d = nominal_us + rng.randint(-80_000, 80_000)
        plan = plan_append(tail, NewSegment(t, d, session, encseq, {"cmaf/360p": "a" * 16}),
                           nominal_us=nominal_us)
        runs = list(plan.runs)
        if plan.replaces_tail:
            pending_tail = runs[-1]
        else:
            if pending_tail is not None:
                rows.append(pending_tail)
            pending_tail = runs[-1]
            for r in runs[:-1]:
                rows.append(r)
        tail = runs[-1]
        t += d
        encseq += 1
    rows.append(pending_tail)
    with db.session() as s:
        service.write_runs(db_session=s, channel_id=channel_id, runs=rows)


def build_playlist(db: Database, channel_id: str, start_us: int, end_us: int) -> int:
    """One cold build of a window's media playlist; returns its size in bytes."""
    with db.session(write=False) as s:
        runs = service.runs_in_window(db_session=s, channel_id=channel_id, start_us=start_us, end_us=end_us)
    segs = segments_in(runs, start_us, end_us)
    body = render_media(segs, MediaPlaylistSpec(
        target_duration=2, segment_ext="m4s", uri_prefix="360p/",
        init_uri=lambda seg: f"360p/init-{seg.run.inits['cmaf/360p']}.mp4",
        playlist_type="VOD", endlist=True))
    return len(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="smartgo-bench-")
    url = reset_bench_database() if args.db == "postgresql" else f"sqlite:///{data}/bench.db"
    upgrade(url)
    settings = Settings(data_dir=data, database_url=url, secret_key="s" * 20, ingest_secret="i" * 20,
                        bootstrap_admin_key="k" * 20, billing_keys="bench:" + "b" * 20)
    db = Database(url)
    set_runtime(Runtime(settings=settings, db=db, store=None, bus=InProcessBus()))  # type: ignore[arg-type]
    ladder = [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]
    with db.session() as s:
        for cid in ("week", "twohours"):
            catalog_service.create(db_session=s, channel_in=ChannelCreate(
                id=cid, name=cid, renditions=ladder, timeshift_window_s=7 * 86400))
    end = (int(time.time()) // 3600) * HOUR
    build_timeline(db, "week", 7 * 24, end, seed=1)
    build_timeline(db, "twohours", 2, end, seed=1)
    window = (end - 2 * HOUR, end)
    timings: dict[str, list[float]] = {"week": [], "twohours": []}
    sizes = {}
    for _ in range(5):  # warm caches on both
        for cid in timings:
            sizes[cid] = build_playlist(db, cid, *window)
    for _ in range(args.repeat):
        for cid in timings:
            t0 = time.perf_counter()
            build_playlist(db, cid, *window)
            timings[cid].append(time.perf_counter() - t0)
    with db.session(write=False) as s:
        rows = dict(s.execute(select(SegmentRun.channel_id, func.count()).group_by(SegmentRun.channel_id)).all())
        blob = s.scalar(select(func.sum(func.coalesce(func.length(SegmentRun.durations), 0)))
                        .where(SegmentRun.channel_id == "week"))
    med = {cid: statistics.median(v) * 1000 for cid, v in timings.items()}
    print(json.dumps({
        "db": args.db, "window": "2 h", "repeat": args.repeat,
        "median_ms_7_days_present": round(med["week"], 3),
        "median_ms_2_hours_present": round(med["twohours"], 3),
        "ratio": round(med["week"] / med["twohours"], 3), "target": "ratio <= 1.2",
        "playlist_bytes": sizes["week"], "runs_7_days": rows.get("week"),
        "duration_blob_bytes_7_days": blob, "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
