"""Subscriber accounts: login throughput with argon2id, lock-out under parallel guessing, and
the delay from a billing package change to its event reaching a consumer.

    .venv/bin/python -m bench.accounts logins --mode distributed --seconds 20
    .venv/bin/python -m bench.accounts guessing --mode distributed --seconds 120 --scale 60
    .venv/bin/python -m bench.accounts events --changes 500

logins: N concurrent players sign in against one `smartgo api` process; the baseline is
argon2id verifying the same hash on as many threads as there are cores, in this process,
measured right before and after (the ceiling any login can reach here).
guessing: 16 parallel guessers hammer one account with wrong passwords; every answer is
counted as checked (401) or throttled (429). With --scale K the throttle's durations are
divided by K, so the run covers K times its length of throttle time.
events: a consumer process subscribed to the Redis bus (as the playback side will be)
receives the event of each billing change; the clock starts before the signed PUT is sent.
The baseline is a bare Redis PUBLISH to the same subscriber in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis

from bench.common import (
    ADMIN,
    BILLING_KEY_ID,
    BILLING_SECRET,
    machine,
    percentile,
    start_server,
)
from entitlements.accounts.billing import signature
from entitlements.accounts.passwords import HASHER
from infra.settings import Settings

PASSWORD = "bench password 1"
DEVICE = {"type": "web", "name": "bench"}


def signed(method: str, target: str, body: object) -> tuple[bytes, dict]:
    """Return the body and headers of a signed billing change."""
    raw = json.dumps(body).encode()
    ts, rid = str(int(time.time())), uuid.uuid4().hex
    return raw, {"X-SmartGo-Key-Id": BILLING_KEY_ID, "X-SmartGo-Timestamp": ts, "Idempotency-Key": rid,
                 "X-SmartGo-Signature": signature(BILLING_SECRET, ts, method, target, raw, rid),
                 "Content-Type": "application/json"}


def make_subscriber(url: str, number: str, packages: list[str] | None = None) -> None:
    """Create a subscriber (and its packages) through the billing API."""
    target = f"/v1/billing/subscribers/{number}"
    raw, h = signed("PUT", target, {"email": f"{number.lower()}@example.com", "password": PASSWORD})
    httpx.put(url + target, content=raw, headers=h, timeout=120).raise_for_status()
    if packages is not None:
        raw, h = signed("PUT", target + "/packages", {"packages": [{"code": c} for c in packages]})
        httpx.put(url + target + "/packages", content=raw, headers=h, timeout=120).raise_for_status()


def argon2_rate(seconds: float) -> float:
    """Return argon2id verifications per second on one thread per core (the baseline)."""

    stored = HASHER.hash(PASSWORD)
    end = time.monotonic() + seconds

    def work() -> int:
        n = 0
        while time.monotonic() < end:
            HASHER.verify(stored, PASSWORD)
            n += 1
        return n

    start = time.monotonic()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        total = sum(pool.map(lambda _: work(), range(os.cpu_count() or 1)))
    return total / (time.monotonic() - start)


async def login_load(url: str, numbers: list[str], seconds: float, concurrency: int) -> tuple[int, list[float]]:
    """Sign in as fast as concurrency allows; return successes and latencies."""
    latencies: list[float] = []
    ok = 0
    end = time.monotonic() + seconds
    device_ids: dict[str, str] = {}

    async def player(i: int, client: httpx.AsyncClient) -> None:
        nonlocal ok
        k = i
        while time.monotonic() < end:
            number = numbers[k % len(numbers)]
            k += concurrency
            device = {**DEVICE, **({"id": device_ids[number]} if number in device_ids else {})}
            t0 = time.perf_counter()
            resp = await client.post(f"{url}/v1/auth/login", json={"login": number, "password": PASSWORD,
                                                                   "device": device})
            latencies.append(time.perf_counter() - t0)
            if resp.status_code == 200:
                ok += 1
                device_ids.setdefault(number, resp.json()["device_id"])

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(player(i, client) for i in range(concurrency)))
    return ok, latencies


def bench_logins(args: argparse.Namespace) -> dict:
    srv = start_server(args.mode)
    try:
        numbers = [f"B{i:07d}" for i in range(64)]
        for n in numbers:
            make_subscriber(srv.url, n)
        asyncio.run(login_load(srv.url, numbers, 3, args.concurrency))  # warm-up
        before = argon2_rate(5)
        ok, lat = asyncio.run(login_load(srv.url, numbers, args.seconds, args.concurrency))
        after = argon2_rate(5)
    finally:
        srv.stop()
    rate, base = ok / args.seconds, (before + after) / 2
    return {"bench": "logins", "mode": args.mode, "concurrency": args.concurrency, "logins_per_s": round(rate, 1),
            "argon2_verify_per_s_all_cores": round(base, 1), "ratio": round(rate / base, 3),
            "p50_ms": round(percentile(lat, 50) * 1000, 1), "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "argon2_before_after": [round(before, 1), round(after, 1)], "machine": machine()}


def bench_guessing(args: argparse.Namespace) -> dict:

    default = Settings(data_dir="/tmp")
    k = args.scale
    env = {"SMARTGO_LOGIN_DELAY_S": str(default.login_delay_s / k),
           "SMARTGO_LOGIN_MAX_DELAY_S": str(default.login_max_delay_s / k),
           "SMARTGO_LOGIN_LOCK_S": str(default.login_lock_s / k),
           "SMARTGO_LOGIN_ADDRESS_FAILURES": "1000000"}
    os.environ.update(env)
    srv = start_server(args.mode)
    try:
        number = f"G{uuid.uuid4().hex[:8].upper()}"
        make_subscriber(srv.url, number)
        counts = {"checked": 0, "throttled": 0, "other": 0}
        first_checked_at: list[float] = []
        end = time.monotonic() + args.seconds
        lock = threading.Lock()

        def guesser(i: int) -> None:
            with httpx.Client(timeout=30) as client:
                j = 0
                while time.monotonic() < end:
                    j += 1
                    resp = client.post(f"{srv.url}/v1/auth/login", json={
                        "login": number, "password": f"guess-{i}-{j}", "device": DEVICE})
                    kind = {401: "checked", 429: "throttled"}.get(resp.status_code, "other")
                    with lock:
                        counts[kind] += 1
                        if kind == "checked":
                            first_checked_at.append(time.monotonic())

        with ThreadPoolExecutor(args.guessers) as pool:
            list(pool.map(guesser, range(args.guessers)))
        # The right password works again once the lock has passed (when that is soon enough).
        works = None
        if default.login_lock_s / k <= 120:
            time.sleep(default.login_lock_s / k + 0.5)
            works = httpx.post(f"{srv.url}/v1/auth/login", json={"login": number, "password": PASSWORD,
                                                                  "device": DEVICE}).status_code == 200
    finally:
        srv.stop()
        for key in env:
            os.environ.pop(key, None)
    covered_h = args.seconds * k / 3600
    return {"bench": "guessing", "mode": args.mode, "guessers": args.guessers, "seconds": args.seconds,
            "scale": k, "throttle_hours_covered": round(covered_h, 2), **counts,
            "checked_per_account_hour": round(counts["checked"] / covered_h, 1),
            "policy_bound_per_hour": default.login_lock_after * 3600 / default.login_lock_s,
            "right_password_after_lock": works, "machine": machine()}


def bench_events(args: argparse.Namespace) -> dict:

    srv = start_server("distributed")
    received: dict[str, float] = {}
    arrived = threading.Condition()
    r = redis.Redis.from_url(srv.env["SMARTGO_REDIS_URL"])
    pubsub = r.pubsub()
    pubsub.psubscribe("smartgo:bus:entitlements.account.*", "bench:ping")

    def listen() -> None:
        try:
            for msg in pubsub.listen():
                on_message(msg)
        except (redis.ConnectionError, ValueError):
            pass  # closed at the end of the run

    def on_message(msg: dict) -> None:
        if msg["type"] not in ("pmessage", "message"):
            return
        now = time.perf_counter()
        data = json.loads(msg["data"])
        key = data.get("ping") or data.get("subscriber_id")
        with arrived:
            received[key] = now
            arrived.notify_all()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)
    try:
        base = "bench-base"
        httpx.post(f"{srv.url}/v1/admin/packages", headers={"X-API-Key": ADMIN},
                   json={"code": base, "name": "Base", "kind": "base"}).raise_for_status()
        numbers = [f"E{i:07d}" for i in range(args.changes)]
        ids = {}
        for n in numbers:
            target = f"/v1/billing/subscribers/{n}"
            raw, h = signed("PUT", target, {"email": f"{n.lower()}@example.com"})
            ids[n] = httpx.put(srv.url + target, content=raw, headers=h).json()["id"]
        time.sleep(0.5)

        def wait_for(key: str, t0: float) -> float:
            with arrived:
                arrived.wait_for(lambda: received.get(key, 0) > t0, timeout=5)
                return received.get(key, 0) - t0

        change, bare, answered = [], [], []
        with httpx.Client(timeout=30) as client:
            for n in numbers:
                target = f"/v1/billing/subscribers/{n}/packages"
                raw, h = signed("PUT", target, {"packages": [{"code": base}]})
                t0 = time.perf_counter()
                assert client.put(srv.url + target, content=raw, headers=h).status_code == 200
                answered.append(time.perf_counter() - t0)
                change.append(wait_for(ids[n], t0))
                ping = uuid.uuid4().hex
                t0 = time.perf_counter()
                r.publish("bench:ping", json.dumps({"ping": ping}))
                bare.append(wait_for(ping, t0))
                time.sleep(0.02)
    finally:
        pubsub.close()
        srv.stop()
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    return {"bench": "events", "changes": len(change), "p50_ms": ms(statistics.median(change)),
            "p99_ms": ms(percentile(change, 99)), "max_ms": ms(max(change)),
            "billing_response_p50_ms": ms(statistics.median(answered)),
            "billing_response_p99_ms": ms(percentile(answered, 99)),
            "bare_redis_p50_ms": ms(statistics.median(bare)), "bare_redis_p99_ms": ms(percentile(bare, 99)),
            "machine": machine()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("logins")
    a.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    a.add_argument("--seconds", type=float, default=20)
    a.add_argument("--concurrency", type=int, default=8)
    a = sub.add_parser("guessing")
    a.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    a.add_argument("--seconds", type=float, default=120)
    a.add_argument("--scale", type=float, default=60)
    a.add_argument("--guessers", type=int, default=16)
    a = sub.add_parser("events")
    a.add_argument("--changes", type=int, default=500)
    args = p.parse_args()
    result = {"logins": bench_logins, "guessing": bench_guessing, "events": bench_events}[args.what](args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
