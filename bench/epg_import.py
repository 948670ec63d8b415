"""XMLTV import speed and peak memory, for a guide and for one twice its size.

A generated guide of N channels x D days (a programme every 20 to 60 minutes, Polish titles and
descriptions of about 700 bytes, episode numbers and ratings), imported into a fresh database by
the import the worker runs (read as a stream into staging, then reconciled channel by channel).
Each import runs in its own process, so its peak memory (ru_maxrss) is its own, and its growth is
that peak less the process's peak before the import; the second guide has twice the channels.
``--target-mb`` picks the days that make the first guide about that large (one channel of 85 MB
is the guide of issue 19 that made the API grow 3 GB); ``--once`` imports only that one.

    .venv/bin/python -m bench.epg_import --mode distributed --channels 300 --days 7
    .venv/bin/python -m bench.epg_import --channels 1 --target-mb 90 --once
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, mode_env
from catalog.channels import service as catalog_service
from catalog.channels.schemas import ChannelCreate
from catalog.guide import sources as epg
from catalog.guide.imports import run_import
from catalog.guide.schemas import EpgSourceCreate
from infra.composition.wiring import build
from infra.db import new_id
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]


def write_guide(path: Path, channels: int, days: int) -> int:
    """Write a guide; return how many programmes it has."""
    rng = random.Random(11)
    start = dt.datetime(2026, 11, 20, 5, tzinfo=dt.UTC)
    desc = ("Opis odcinka: zażółć gęślą jaźń, " * 22).strip()
    n = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<tv generator-info-name="bench">\n')
        for c in range(channels):
            out.write(f'  <channel id="ch{c}.pl"><display-name lang="pl">Kanał {c}</display-name></channel>\n')
        for c in range(channels):
            t = start
            while t < start + dt.timedelta(days=days):
                end = t + dt.timedelta(minutes=rng.choice((20, 30, 45, 60)))
                n += 1
                out.write(
                    f'  <programme start="{t:%Y%m%d%H%M%S} +0000" stop="{end:%Y%m%d%H%M%S} +0000" channel="ch{c}.pl">'
                    f'<title lang="pl">Serial {n % 97}</title><desc lang="pl">{desc}</desc>'
                    f'<category lang="en">series</category><episode-num system="xmltv_ns">{n % 5}.{n % 20}.</episode-num>'
                    f'<episode-num system="dd_progid">SER{n % 97:04d}{n % 10000:04d}</episode-num>'
                    f'<rating system="KRRiT"><value>12</value></rating></programme>\n')
                t = end
        out.write("</tv>\n")
    return n


def run_one(guide: str, channels: int) -> None:
    """Import one guide in this process and print its figures (the child side)."""

    settings = get_settings()
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)
    with rt.db.session() as s:
        for c in range(channels):
            catalog_service.create(db_session=s, channel_in=ChannelCreate(id=f"ch{c}.pl", name=f"ch{c}", renditions=[
                {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]))
        epg.create_source(db_session=s, source_in=EpgSourceCreate(id="bench", name="bench"))
    key = f"{epg.UPLOAD_PREFIX}bench"
    rt.store.put_file(key, Path(guide))
    import_id = new_id()
    with rt.db.session() as s:
        epg.queue_import(db_session=s, source_id="bench", origin="file", object_key=key, import_id=import_id,
                         claimed=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    status = run_import(rt, import_id)
    seconds = time.perf_counter() - t
    with rt.db.session(write=False) as s:
        report = epg.get_import(db_session=s, import_id=import_id).report
    print(json.dumps({"status": status, "seconds": seconds, "programmes": report["added"],
                      "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "rss_before_kb": base}))
    rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--target-mb", type=float, help="days enough for a first guide of about this size")
    parser.add_argument("--once", action="store_true", help="import only the first guide")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child[0], int(args.child[1]))
        return
    if args.target_mb:  # about 36 programmes of 1.06 kB a day per channel
        args.days = max(1, round(args.target_mb * 2**20 / (args.channels * 36 * 1085)))
    results = []
    for factor in (1,) if args.once else (1, 2):
        tmp = Path(tempfile.mkdtemp(prefix="smartgo-bench-"))
        guide = tmp / "guide.xml"
        n = write_guide(guide, args.channels * factor, args.days)
        env = {**os.environ, **mode_env(args.mode, tmp)}
        out = subprocess.run([sys.executable, "-m", "bench.epg_import", "--child", str(guide),
                              str(args.channels * factor)], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=3600)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        assert r["status"] == "succeeded" and r["programmes"] == n, r
        results.append({"channels": args.channels * factor, "days": args.days, "programmes": n,
                        "guide_mb": round(guide.stat().st_size / 2**20, 1), "seconds": round(r["seconds"], 1),
                        "programmes_per_s": round(n / r["seconds"]), "peak_rss_mb": round(r["peak_rss_kb"] / 1024, 1),
                        "rss_before_import_mb": round(r["rss_before_kb"] / 1024, 1),
                        "growth_mb": round((r["peak_rss_kb"] - r["rss_before_kb"]) / 1024, 1)})
    out = {"mode": args.mode, "imports": results, "machine": machine()}
    if len(results) == 2:
        out["peak_rss_double_over_single"] = round(results[1]["peak_rss_mb"] / results[0]["peak_rss_mb"], 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
