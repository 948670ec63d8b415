"""Retention purge of an expired stretch of N channels: time and object-store requests.

Each channel gets a stable encoder's archive (uniform 2 s segments, one rendition) of which
the oldest --hours have left every window; the purge deletes their objects in batches of
1,000 keys and cuts the index. With --objects every segment object is created first (so the
deletes are real); without, the keys are deleted as if they were there (the same requests and
index work; for scales whose objects would take too long to create here).

    .venv/bin/python -m bench.purge --mode distributed --channels 300 --hours 1 --objects
    .venv/bin/python -m bench.purge --mode distributed --channels 300 --hours 24
    .venv/bin/python -m bench.purge --mode distributed --channels 30 --hours 1 --objects --s3 http://127.0.0.1:9573
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import machine, mode_env
from catalog.channels import service as catalog_service
from catalog.channels.schemas import ChannelCreate
from infra.composition.wiring import build
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import get_settings
from streaming.timeline import service
from streaming.timeline.retention import purge
from streaming.timeline.runs import make_run

SEG = 2_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--objects", action="store_true", help="create every segment object first")
    parser.add_argument("--s3", metavar="ENDPOINT", help="an S3 endpoint (e.g. moto_server's) instead of the folder")
    args = parser.parse_args()
    os.environ.update(mode_env(args.mode, Path(tempfile.mkdtemp(prefix="smartgo-bench-"))))
    if args.s3:
        os.environ.update(SMARTGO_STORAGE_URL=f"s3://smartgo-bench-{int(time.time())}/objects",
                          SMARTGO_S3_ENDPOINT_URL=args.s3, SMARTGO_S3_ACCESS_KEY_ID="testing",
                          SMARTGO_S3_SECRET_ACCESS_KEY="testing")

    settings = get_settings()
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)
    now_us = int(time.time()) * 1_000_000
    keep_s = 86400  # archive_days=1
    expired = args.hours * 3600 * 1_000_000 // SEG
    t0 = now_us - keep_s * 1_000_000 - args.hours * 3600 * 1_000_000
    total = expired + 3600 * 1_000_000 // SEG  # an hour more that stays
    channels = [f"pg{i:03d}" for i in range(args.channels)]
    created = 0
    t = time.perf_counter()
    for cid in channels:
        with rt.db.session() as s:
            catalog_service.create(db_session=s, channel_in=ChannelCreate(
                id=cid, name=cid, timeshift_window_s=3600, archive_days=1, renditions=[
                    {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]))
            service.write_runs(db_session=s, channel_id=cid, runs=[make_run(
                first_seq=0, start_us=t0, count=total, duration_us=SEG, inits={"cmaf/360p": "0" * 16})])
        if args.objects:
            for seq in range(expired + 10):
                rt.store.put(service.segment_key(cid, "cmaf/360p", 0, seq), b"x")
                created += 1
    setup_s = time.perf_counter() - t
    t = time.perf_counter()
    report = purge(rt, now_us=now_us)
    seconds = time.perf_counter() - t
    left = sum(rt.store.exists(service.segment_key(c, "cmaf/360p", 0, s)) for c in channels[:3] for s in range(expired))
    kept = sum(rt.store.exists(service.segment_key(c, "cmaf/360p", 0, s)) for c in channels[:3]
               for s in range(expired, expired + 10))
    print(json.dumps({
        "mode": args.mode, "store": "s3 " + args.s3 if args.s3 else "folder", "channels": args.channels, "hours_expired": args.hours,
        "objects_created_first": args.objects, "objects": created, "setup_s": round(setup_s, 1),
        "purge_s": round(seconds, 2), "segments_deleted": report.segments, "store_requests": report.store_requests,
        "keys_per_request": round(report.objects / max(1, report.store_requests)),
        "segments_per_s": round(report.segments / seconds),
        "checked_left_behind": left, "checked_kept": kept, "machine": machine(),
    }, indent=2))
    rt.close()


if __name__ == "__main__":
    main()
