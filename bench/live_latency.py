"""Live latency in hls.js with default settings, for 2 s and 6 s segments.

A real ffmpeg pushes a live test pattern (realtime, program date-time from the wall clock) to a
`smartgo api` process; the test page plays it with hls.js in headless Chromium, untouched
settings, and samples every 500 ms how far the picture is behind the wall clock (hls.js's
`playingDate`, the PDT of the playing position). The bound is the player's hold-back (hls.js:
`liveSyncDurationCount` 3 x the target duration, which is also RFC 8216's default HOLD-BACK)
plus 1.5 segment durations. A player's latency is set where it joins (hls.js does not speed up to
catch up by default) and depends on when it joins between two segments, so several players join
one after another, spread over that phase; the figures are the median and the worst sample
over the bound.

    .venv/bin/python -m bench.live_latency --segments 2,6 --joins 6
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import time

import httpx

from bench.common import ROOT, create_channel, machine, percentile, start_server
from streaming.ffmpeg import ffmpeg_exe
from streaming.packager.arguments import testcard_push_args

HOLD_BACK_TARGET_DURATIONS = 3  # hls.js liveSyncDurationCount, and RFC 8216's default HOLD-BACK


def measure(url: str, segment_s: float, warmup: float, seconds: float, n_joins: int) -> dict:
    """Push a channel with segment_s segments and measure the latency of n_joins hls.js players joining it."""
    cid = f"latency-{int(segment_s * 1000)}"
    password = create_channel(url, cid, segment_duration_ms=int(segment_s * 1000))
    push = subprocess.Popen(testcard_push_args(
        ffmpeg=ffmpeg_exe(), base_url=f"{url}/ingest/{cid}/cmaf", segment_s=segment_s, realtime=True,
        duration_s=None, headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{password}".encode()).decode()}),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 60
        while httpx.get(f"{url}/live/{cid}/cmaf/360p.m3u8").text.count(".m4s") < 4:
            if time.monotonic() > end or push.poll() is not None:
                raise RuntimeError("the channel did not go live")
            time.sleep(0.5)
        page = f"{url}/demo/?player=hls&nolist=1&src=/live/{cid}/cmaf/master.m3u8"
        joins = []
        for k in range(n_joins):
            # Players join at any moment between two segments: join k starts k/n of a segment
            # duration after a segment was published.
            _next_publish(f"{url}/live/{cid}/cmaf/360p.m3u8")
            time.sleep(k * segment_s / n_joins)
            joins.append(_join(page, warmup, seconds))
    finally:
        push.terminate()
        push.wait(timeout=10)
    errors = [e for j in joins for e in j["errors"]]
    if errors or not all(j["samples"] for j in joins):
        raise RuntimeError(f"playback failed: {errors}")
    target_duration = joins[0]["targetDuration"]
    bound = HOLD_BACK_TARGET_DURATIONS * target_duration + 1.5 * segment_s
    samples = [x for j in joins for x in j["samples"]]
    return {"segment_s": segment_s, "target_duration_s": target_duration, "joins": len(joins),
            "samples": len(samples), "stalled_samples": sum(j["stalls"] for j in joins),
            "hls_js_target_latency_s": joins[0]["targetLatency"],
            "latency_by_join_s": [round(percentile(j["samples"], 50), 2) for j in joins],
            "latency_p50_s": round(percentile(samples, 50), 2), "latency_p95_s": round(percentile(samples, 95), 2),
            "latency_max_s": round(max(samples), 2), "bound_s": bound,
            "p50_over_bound": round(percentile(samples, 50) / bound, 3),
            "max_over_bound": round(max(samples) / bound, 3)}


def _next_publish(playlist_url: str) -> None:
    """Return as soon as the media playlist lists a segment it did not list before."""
    last = httpx.get(playlist_url).text.rstrip().rsplit("\n", 1)[-1]
    while httpx.get(playlist_url).text.rstrip().rsplit("\n", 1)[-1] == last:
        time.sleep(0.02)


def _join(page: str, warmup: float, seconds: float) -> dict:
    """Start a fresh hls.js player on the channel and sample its latency (bench/live_latency.mjs)."""
    proc = subprocess.run([shutil.which("node"), str(ROOT / "bench" / "live_latency.mjs"), page,
                           "--warmup", str(warmup), "--seconds", str(seconds)],
                          capture_output=True, text=True, timeout=warmup + seconds + 120, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"no result from the browser: {proc.stdout} {proc.stderr}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--segments", default="2,6", help="segment durations in seconds, comma-separated")
    parser.add_argument("--joins", type=int, default=6, help="players joining each channel, one after another")
    parser.add_argument("--seconds", type=float, default=12, help="sampled per join, after the warm-up")
    parser.add_argument("--warmup", type=float, default=12)
    args = parser.parse_args()
    server = start_server(args.mode)
    try:
        results = [measure(server.url, float(s), args.warmup, args.seconds, args.joins)
                   for s in args.segments.split(",")]
    finally:
        server.stop()
    print(json.dumps({"mode": args.mode, "results": results,
                      "target": "latency <= hold-back (3 target durations) + 1.5 segment durations",
                      "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
