"""Playback authorization: the pure decision, the door over HTTP, and revocation end to end.

    .venv/bin/python -m bench.playback decide
    .venv/bin/python -m bench.playback door --mode distributed --seconds 15
    .venv/bin/python -m bench.playback revoke --mode distributed --runs 20

decide: `entitlements.decision.decide` on prepared facts (warm: nothing to fetch), one thread,
for a mix of allowed and denied requests.
door: 8 concurrent players call POST /v1/playback (each on its own account and device, so
each call hands its previous stream over) against one `smartgo api` process; the baseline
is GET /healthz of the same app (fixed JSON), measured alternately in the same run.
revoke: a player reloads its media playlist every 100 ms through its signed URL; billing
removes the package; the time from just before the billing PUT to the first refused playlist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx

from bench.accounts import PASSWORD, make_subscriber, signed
from bench.common import ADMIN, create_channel, machine, percentile, start_server


def bench_decide(args: argparse.Namespace) -> dict:
    from entitlements.decision import ActiveStream, PlaybackFacts, Rights, decide

    base = PlaybackFacts(
        mode="live", content="channel:tvp1", available=True,
        rights=Rights(device_types=frozenset({"smart_tv", "mobile", "web"}), countries=frozenset({"PL"}),
                      age_rating=16),
        granting_packages=frozenset({"start", "comfort"}), account_status="active",
        held_packages=frozenset({"comfort", "hbo"}), device_id="d1", device_type="mobile",
        device_within_limit=True, country="PL", parental_threshold=18, pin_ok=False, max_streams=3,
        streams=(ActiveStream("s1", "d2", "channel:tvn"), ActiveStream("s2", "d1", "channel:tvp2")))
    from dataclasses import replace

    mix = [base, replace(base, held_packages=frozenset({"sports"})), replace(base, country="DE"),
           replace(base, parental_threshold=12), replace(base, mode="timeshift"),
           replace(base, streams=base.streams * 2, max_streams=2)]
    outcomes = [decide(f).reason for f in mix]
    n = 0
    end = time.perf_counter() + args.seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        for f in mix:
            decide(f)
        n += len(mix)
    elapsed = time.perf_counter() - start
    return {"bench": "decide", "decisions_per_s_one_core": round(n / elapsed), "target": ">= 20000",
            "mix": outcomes, "machine": machine()}


def _setup(url: str, players: int) -> tuple[str, list[dict]]:
    password = create_channel(url, "door")
    httpx.post(f"{url}/v1/admin/packages", headers={"X-API-Key": ADMIN}, json={
        "code": "door", "name": "Door", "kind": "base", "max_streams": 2, "channels": ["door"]}).raise_for_status()
    accounts = []
    for i in range(players):
        number = f"P{i:07d}"
        make_subscriber(url, number, ["door"])
        tokens = httpx.post(f"{url}/v1/auth/login", json={"login": number, "password": PASSWORD,
                                                          "device": {"type": "web", "name": "bench"}}).json()
        accounts.append({"number": number, "tokens": tokens})
    return password, accounts


async def _load(url: str, method: str, path: str, accounts: list[dict], seconds: float) -> tuple[int, list[float]]:
    lat: list[float] = []
    end = time.monotonic() + seconds
    body = {"content": {"type": "channel", "id": "door"}}

    async def player(acct: dict, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {acct['tokens']['access_token']}"}
        while time.monotonic() < end:
            t0 = time.perf_counter()
            resp = await (client.post(url + path, json=body, headers=headers) if method == "POST"
                          else client.get(url + path))
            lat.append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.text

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(player(a, client) for a in accounts))
    return len(lat), lat


def bench_door(args: argparse.Namespace) -> dict:
    srv = start_server(args.mode)
    try:
        _, accounts = _setup(srv.url, args.players)
        asyncio.run(_load(srv.url, "POST", "/v1/playback", accounts, 2))  # warm-up
        rounds = {"door": [], "fixed": []}
        lat_door: list[float] = []
        for _ in range(args.rounds):
            n, lat = asyncio.run(_load(srv.url, "GET", "/healthz", accounts, args.seconds))
            rounds["fixed"].append(n / args.seconds)
            n, lat = asyncio.run(_load(srv.url, "POST", "/v1/playback", accounts, args.seconds))
            rounds["door"].append(n / args.seconds)
            lat_door += lat
    finally:
        srv.stop()
    import statistics

    door, fixed = statistics.median(rounds["door"]), statistics.median(rounds["fixed"])
    return {"bench": "door", "mode": args.mode, "players": args.players, "rounds": rounds,
            "door_rps": round(door, 1), "fixed_json_rps": round(fixed, 1), "ratio": round(door / fixed, 3),
            "door_p50_ms": round(percentile(lat_door, 50) * 1000, 1),
            "door_p99_ms": round(percentile(lat_door, 99) * 1000, 1), "machine": machine()}


def bench_revoke(args: argparse.Namespace) -> dict:
    from bench.playlist_throughput import keep_pushing
    import threading

    srv = start_server(args.mode)
    stop = threading.Event()
    delays = []
    try:
        password, accounts = _setup(srv.url, 1)
        threading.Thread(target=keep_pushing, args=(srv.url, "door", password, stop), daemon=True).start()
        acct = accounts[0]
        headers = {"Authorization": f"Bearer {acct['tokens']['access_token']}"}
        target = f"/v1/billing/subscribers/{acct['number']}/packages"
        with httpx.Client(timeout=10) as client:
            for _ in range(args.runs):
                raw, h = signed("PUT", target, {"packages": [{"code": "door"}]})
                client.put(srv.url + target, content=raw, headers=h).raise_for_status()
                start = client.post(f"{srv.url}/v1/playback", headers=headers,
                                    json={"content": {"type": "channel", "id": "door"}, "mode": "live"})
                start.raise_for_status()
                media = srv.url + urlsplit(start.json()["url"]).path.replace("master.m3u8", "360p.m3u8")
                deadline = time.time() + 30
                while client.get(media).status_code != 200 and time.time() < deadline:
                    time.sleep(0.1)  # until the channel has segments
                raw, h = signed("PUT", target, {"packages": []})
                t0 = time.perf_counter()
                client.put(srv.url + target, content=raw, headers=h).raise_for_status()
                while client.get(media).status_code == 200:
                    time.sleep(0.1)
                delays.append(time.perf_counter() - t0)
    finally:
        stop.set()
        srv.stop()
    return {"bench": "revoke", "mode": args.mode, "runs": len(delays),
            "median_s": round(sorted(delays)[len(delays) // 2], 3), "max_s": round(max(delays), 3),
            "target": "<= 10 s", "machine": machine()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("decide")
    a.add_argument("--seconds", type=float, default=5)
    a = sub.add_parser("door")
    a.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    a.add_argument("--seconds", type=float, default=10)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--players", type=int, default=8)
    a = sub.add_parser("revoke")
    a.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    a.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    result = {"decide": bench_decide, "door": bench_door, "revoke": bench_revoke}[args.what](args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
