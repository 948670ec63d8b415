"""VOD ingest against the bare ffmpeg run that makes the same renditions, in the same run.

A mezzanine (1080p test pattern, two audio tracks, default 120 s) is made once. Then, alternating
to spread any drift of the machine over both: the bare ffmpeg command (`transcode_args`, the very
argument list ingest runs) into a folder, and our whole ingest of an uploaded asset, timed from
the queued row to the ready one: fetching the mezzanine from storage and hashing it (as for a multipart upload), probing it (every packet
demuxed), the transcode with its progress reports, the poster frame, the index with the I-frame
byte ranges, and storing every object. Reports speed as a multiple of real time and the ratio
of the medians (ours / bare).

    .venv/bin/python -m bench.vod_ingest --seconds 120 --runs 2
    .venv/bin/python -m bench.vod_ingest --s3 http://127.0.0.1:9573   # storage on an S3 server
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from bench.common import machine
from infra.composition.wiring import build
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import Settings
from streaming.ffmpeg import ffmpeg_exe
from streaming.vod import service as assets
from streaming.vod.ingest import ingest_asset
from streaming.vod.media import (
    parse_ladder,
    plan_audio,
    plan_ladder,
    probe,
    transcode_args,
)
from streaming.vod.models import MediaAsset


def make_mezzanine(path: Path, seconds: float) -> Path:
    """Encode a 1080p25 test pattern with two AAC tracks (pol, eng) as a mezzanine."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=880:sample_rate=48000:duration={seconds}",
            "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
            "-metadata:s:a:0", "language=pol", "-metadata:s:a:1", "language=eng", "-movflags", "+faststart", str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=1800)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--ladder", default=None, help="SMARTGO_VOD_LADDER (default: the product's default)")
    parser.add_argument("--s3", default="", help="an S3 endpoint to store objects on (default: a local folder)")
    opts = parser.parse_args()


    work = Path(tempfile.mkdtemp(prefix="smartgo-bench-vod-"))
    extra = {"vod_ladder": opts.ladder} if opts.ladder else {}
    if opts.s3:
        extra.update(storage_url=f"s3://bench-vod-{secrets.token_hex(4)}/o", s3_endpoint_url=opts.s3,
                     s3_access_key_id="testing", s3_secret_access_key="testing")
    settings = Settings(data_dir=work / "data", **extra)
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)
    source = make_mezzanine(work / "mezzanine.mp4", opts.seconds)
    found = probe(source)
    rungs = plan_ladder(parse_ladder(settings.vod_ladder), found)
    audio = plan_audio(found, [])
    bare_s, ours_s = [], []
    for i in range(opts.runs):
        out = work / f"bare-{i}"
        out.mkdir()
        args = transcode_args(ffmpeg=ffmpeg_exe(), source=str(source), out_dir=str(out), rungs=rungs, audio=audio,
                              segment_s=settings.vod_segment_s, frame_rate=found.frame_rate, preset=settings.vod_preset)
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, timeout=7200)
        bare_s.append(time.perf_counter() - t0)

        asset_id = secrets.token_hex(16)
        rt.store.put_file(assets.source_key(asset_id), source)
        with rt.db.session() as s:
            assets.create(db_session=s, asset_id=asset_id, filename="bench.mp4", size=source.stat().st_size,
                          sha256=None, created_by="bench", now=dt.datetime.now(dt.UTC), audio_labels=[])
        t0 = time.perf_counter()
        state = ingest_asset(rt, asset_id)
        ours_s.append(time.perf_counter() - t0)
        assert state == "ready", state
        # The same mezzanine again would be the same asset (a duplicate): forget this one's hash.
        with rt.db.session() as s:
            s.execute(update(MediaAsset).where(MediaAsset.id == asset_id).values(sha256=None))
        print(f"run {i + 1}: bare ffmpeg {bare_s[-1]:.2f} s, ingest {ours_s[-1]:.2f} s", flush=True)
    bare, ours = statistics.median(bare_s), statistics.median(ours_s)
    print(json.dumps({
        "machine": machine(), "storage": "s3 " + opts.s3 if opts.s3 else "local folder",
        "mezzanine": f"{opts.seconds:g} s 1920x1080 25 fps, 2 AAC tracks", "ladder": [r.name for r in rungs],
        "segment_s": settings.vod_segment_s, "preset": settings.vod_preset, "runs": opts.runs,
        "bare_ffmpeg_s": [round(v, 2) for v in bare_s], "ingest_s": [round(v, 2) for v in ours_s],
        "bare_speed_x_realtime": round(opts.seconds / bare, 3), "ingest_speed_x_realtime": round(opts.seconds / ours, 3),
        "ratio_ingest_to_bare": round(ours / bare, 3)}, indent=1))


if __name__ == "__main__":
    main()
