"""Publish latency: last byte of a segment's last-rendition PUT to the first playlist listing it.

N channels push two renditions every 1.92 s (staggered, as independent encoders do) into one
`smartgo api` process; after each push the channel's media playlist is polled every 2 ms
until it lists the segment. The clock starts just before the last rendition's segment PUT
(so the figure includes that upload and the playlist PUT that follows it).

    .venv/bin/python -m bench.publish_latency --mode distributed --channels 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from bench.common import (
    Replayer,
    create_channel,
    machine,
    percentile,
    run,
    sample_encode,
    start_server,
)

SEGMENT_S = 1.92


async def channel_loop(rep: Replayer, client: httpx.AsyncClient, url: str, offset: float,
                       until: float, out: list[float]) -> None:
    await rep.start()
    t_start = time.time() + offset
    await asyncio.sleep(max(0.0, t_start - time.time()))
    k = 0
    while time.time() < until:
        due = t_start + k * SEGMENT_S
        await asyncio.sleep(max(0.0, due - time.time()))
        start_us = int((due - SEGMENT_S) * 1_000_000)
        t0 = await rep.push_next(start_us)
        want = f"360p/{k}.m4s"
        while True:
            text = (await client.get(f"{url}/live/{rep.channel_id}/cmaf/360p.m3u8")).text
            if want in text:
                out.append(time.perf_counter() - t0)
                break
            if time.perf_counter() - t0 > 5:
                out.append(float("inf"))
                break
            await asyncio.sleep(0.002)
        k += 1


async def main_async(url: str, channels: int, seconds: float, warmup: float) -> list[float]:
    sample = sample_encode()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        reps = []
        for i in range(channels):
            cid = f"bench-{i}"
            reps.append(Replayer(client, url, cid, create_channel(url, cid), sample))
        latencies: list[float] = []
        until = time.time() + warmup + seconds
        tasks = [channel_loop(rep, client, url, i * SEGMENT_S / channels, until, latencies)
                 for i, rep in enumerate(reps)]
        warm: list[float] = []

        async def drop_warmup() -> None:
            await asyncio.sleep(warmup)
            warm.extend(latencies)
            latencies.clear()

        await asyncio.gather(drop_warmup(), *tasks)
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    args = parser.parse_args()
    server = start_server(args.mode)
    try:
        lat = run(main_async(server.url, args.channels, args.seconds, args.warmup))
    finally:
        server.stop()
    ms = [x * 1000 for x in lat]
    result = {
        "mode": args.mode, "channels": args.channels, "segments": len(ms),
        "p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
        "p99_over_segment_duration": round(percentile(ms, 99) / (SEGMENT_S * 1000), 4),
        "target": "p99 <= 0.05 of the segment duration", "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
