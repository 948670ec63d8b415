"""Cost of checking pushed media (issue 19) next to hashing the same bytes with sha256.

Every segment and init segment pushed to ingest is checked by streaming/ingest/media_check.py before
it is stored. This times the checks on real ffmpeg output (our packager's two-rendition CMAF
test pattern, and the same pattern as MPEG-TS) against sha256 of the same bytes, in one run;
docs/benchmarks.md puts them beside the API CPU a push costs (bench.ingest_cpu).

    .venv/bin/python -m bench.media_check --repeat 2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import machine, sample_encode
from streaming.ffmpeg import ffmpeg_exe
from streaming.ingest.media_check import Expect, check_fmp4_segment, check_init, check_ts_segment
from streaming.packager.arguments import testcard_push_args

MUXED = Expect(video=True, audio=True)


def ts_encode() -> Path:
    """Encode the same two-rendition test pattern as MPEG-TS segments once (cached in /tmp)."""
    out = Path(tempfile.gettempdir()) / "smartgo-bench-sample-ts"
    if not (out / "360p" / "index.m3u8").exists():
        args = testcard_push_args(ffmpeg=ffmpeg_exe(), base_url=str(out), segment_s=1.92, realtime=False,
                                  duration_s=8.0, headers=None)
        args[args.index("fmp4")] = "mpegts"
        args = [a.replace("seg_%d.m4s", "seg_%d.ts") for a in args]
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(args, check=True, capture_output=True, timeout=300)
    return out


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    """Return the median of five timings of repeat calls, in µs per call."""
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        runs.append((time.perf_counter() - t) / repeat * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    cmaf, ts = sample_encode(), ts_encode()
    cases = [("CMAF init", p.read_bytes(), check_init, MUXED) for p in sorted(cmaf.glob("*/init*.mp4"))]
    cases += [("CMAF segment", p.read_bytes(), check_fmp4_segment, None) for p in sorted(cmaf.glob("*/seg_*.m4s"))]
    cases += [("MPEG-TS segment", p.read_bytes(), check_ts_segment, MUXED) for p in sorted(ts.glob("*/seg_*.ts"))]
    rows: dict[str, dict[str, list[float]]] = {}
    for kind, data, check, expect in cases:
        if len(data) < 20_000 and kind != "CMAF init":
            continue  # the short last segment of the encode
        call = (lambda: check(data, expect)) if expect is not None else (lambda: check(data))
        row = rows.setdefault(kind, {"bytes": [], "check_us": [], "sha256_us": []})
        row["bytes"].append(len(data))
        row["check_us"].append(per_call_us(call, args.repeat))
        row["sha256_us"].append(per_call_us(lambda: hashlib.sha256(data).digest(), args.repeat))
    result = {kind: {"files": len(r["bytes"]), "mean_bytes": round(statistics.mean(r["bytes"])),
                     "check_us": round(statistics.mean(r["check_us"]), 1),
                     "sha256_us": round(statistics.mean(r["sha256_us"]), 1),
                     "check_over_sha256": round(statistics.mean(r["check_us"]) / statistics.mean(r["sha256_us"]), 3)}
              for kind, r in rows.items()}
    print(json.dumps({"machine": machine(), "repeat": args.repeat, "results": result}, indent=2))


if __name__ == "__main__":
    main()
