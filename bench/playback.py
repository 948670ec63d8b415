"""Playback authorization: the pure decision, the door over HTTP, and revocation end to end.

    .venv/bin/python -m bench.playback decide
    .venv/bin/python -m bench.playback door --mode distributed --seconds 15
    .venv/bin/python -m bench.playback revoke --mode distributed --runs 20

decide: `entitlements.playback.decision.decide` on prepared facts (warm: nothing to fetch), one thread,
for a mix of allowed and denied requests.
door: wrk keeps 8 connections calling POST /v1/playback, turning through 8 signed-in players
(each on its own account and device, so each call hands its previous stream over) against one
`smartgo api` process; the baseline is wrk on GET /healthz of the same app (fixed JSON), with
the same connections, alternating in the same run.
revoke: a player reloads its media playlist every 100 ms through its signed URL; billing
removes the package; the time from just before the billing PUT to the first refused playlist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from bench.accounts import PASSWORD, make_subscriber, signed
from bench.common import ADMIN, create_channel, machine, percentile, start_server
from bench.playlist_throughput import ensure_tools, keep_pushing
from entitlements.packages.rules import Rights
from entitlements.playback.decision import ActiveStream, PlaybackFacts, decide


def bench_decide(args: argparse.Namespace) -> dict:

    base = PlaybackFacts(
        mode="live", content="channel:tvp1", available=True,
        rights=Rights(device_types=frozenset({"smart_tv", "mobile", "web"}), countries=frozenset({"PL"}),
                      age_rating=16),
        granting_packages=frozenset({"start", "comfort"}), account_status="active",
        held_packages=frozenset({"comfort", "hbo"}), device_id="d1", device_type="mobile",
        device_within_limit=True, country="PL", parental_threshold=18, pin_ok=False, max_streams=3,
        streams=(ActiveStream("s1", "d2", "channel:tvn"), ActiveStream("s2", "d1", "channel:tvp2")))

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


LUA = """
tokens = {%s}
n = 0
wrk.method = "POST"
wrk.body = '{"content": {"type": "channel", "id": "door"}}'
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  wrk.headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]
  return wrk.format(nil)
end
"""


def wrk_run(url: str, seconds: int, connections: int, script: str | None = None) -> dict:
    """Run wrk with latency percentiles; refuse a run with error responses."""

    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} error responses\n{out}")

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"wrk gave no figures\n{out}")
    return {"rps": float(rps.group(1)), "p50_ms": ms("50"),
            "p99_ms": ms("99")}


def bench_door_wrk(args: argparse.Namespace) -> dict:


    ensure_tools()
    srv = start_server(args.mode)
    try:
        _, accounts = _setup(srv.url, args.players)
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(LUA % ", ".join(f'"{a["tokens"]["access_token"]}"' for a in accounts))
        script.close()
        wrk_run(f"{srv.url}/v1/playback", 2, args.players, script.name)  # warm-up
        rounds = {"door": [], "fixed": []}
        for i in range(args.rounds):
            for name in (("door", "fixed") if i % 2 == 0 else ("fixed", "door")):
                if name == "door":
                    rounds[name].append(wrk_run(f"{srv.url}/v1/playback", args.seconds, args.players, script.name))
                else:
                    rounds[name].append(wrk_run(f"{srv.url}/healthz", args.seconds, args.players))
    finally:
        srv.stop()
    med = {k: statistics.median(r["rps"] for r in v) for k, v in rounds.items()}
    return {"bench": "door", "mode": args.mode, "connections": args.players, "rounds": rounds,
            "door_rps": round(med["door"], 1), "fixed_json_rps": round(med["fixed"], 1),
            "ratio": round(med["door"] / med["fixed"], 3),
            "door_p99_ms_worst_round": max(r["p99_ms"] for r in rounds["door"]),
            "door_p50_ms_median": statistics.median(r["p50_ms"] for r in rounds["door"]), "machine": machine()}


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

    door, fixed = statistics.median(rounds["door"]), statistics.median(rounds["fixed"])
    return {"bench": "door", "mode": args.mode, "players": args.players, "rounds": rounds,
            "door_rps": round(door, 1), "fixed_json_rps": round(fixed, 1), "ratio": round(door / fixed, 3),
            "door_p50_ms": round(percentile(lat_door, 50) * 1000, 1),
            "door_p99_ms": round(percentile(lat_door, 99) * 1000, 1), "machine": machine()}


def bench_revoke(args: argparse.Namespace) -> dict:


    srv = start_server(args.mode)
    stop = threading.Event()
    delays = []
    try:
        password, accounts = _setup(srv.url, 1)
        pusher = threading.Thread(target=keep_pushing, args=(srv.url, "door", password, stop), daemon=True)
        pusher.start()
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
        if "pusher" in locals():
            pusher.join(timeout=5)  # stop pushing before the server goes away
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
    result = {"decide": bench_decide, "door": bench_door_wrk, "revoke": bench_revoke}[args.what](args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
