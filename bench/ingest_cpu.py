"""API CPU per ingested segment: what one `smartgo api` process spends per pushed segment.

N channels push two renditions (segment + playlist PUT each, as ffmpeg does) every 1.92 s
into one API process over keep-alive connections; the API process's CPU seconds over the
measured window are divided by the segments published in it. A diagnostic behind the
packager CPU figures (bench.packager_cpu), which it isolates from ffmpeg and the packager.

    .venv/bin/python -m bench.ingest_cpu --mode distributed --channels 10 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from bench.common import (
    Replayer,
    cpu_seconds,
    create_channel,
    machine,
    run,
    sample_encode,
    start_server,
)

SEGMENT_S = 1.92


async def channel_loop(rep: Replayer, offset: float, until: float, pushed: list[int]) -> None:
    await rep.start()
    t_start = time.time() + offset
    k = 0
    while time.time() < until:
        due = t_start + k * SEGMENT_S
        await asyncio.sleep(max(0.0, due - time.time()))
        await rep.push_next(int((due - SEGMENT_S) * 1_000_000))
        pushed.append(1)
        k += 1


async def main_async(url: str, pid: int, channels: int, seconds: float, warmup: float) -> dict:
    sample = sample_encode()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        reps = [Replayer(client, url, f"cpu-{i}", create_channel(url, f"cpu-{i}"), sample)
                for i in range(channels)]
        pushed: list[int] = []
        until = time.time() + warmup + seconds
        tasks = [asyncio.create_task(channel_loop(r, i * SEGMENT_S / channels, until, pushed))
                 for i, r in enumerate(reps)]
        await asyncio.sleep(warmup)
        n0, c0, t0 = len(pushed), cpu_seconds(pid), time.time()
        await asyncio.sleep(seconds)
        n1, c1, t1 = len(pushed), cpu_seconds(pid), time.time()
        await asyncio.gather(*tasks)
    segments = n1 - n0
    return {"segments": segments, "api_cpu_s": round(c1 - c0, 3),
            "api_cpu_ms_per_segment": round((c1 - c0) * 1000 / max(1, segments), 3),
            "api_cores_per_channel": round((c1 - c0) / (t1 - t0) / channels, 5)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=8)
    args = parser.parse_args()
    server = start_server(args.mode)
    try:
        result = run(main_async(server.url, server.proc.pid, args.channels, args.seconds, args.warmup))
    finally:
        server.stop()
    print(json.dumps({"mode": args.mode, "channels": args.channels, "renditions": 2,
                      "puts_per_segment": 4, **result, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
