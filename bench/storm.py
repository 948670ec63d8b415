"""A zapping storm at the door: thousands of signed-in players change channel within seconds.

    .venv/bin/python -m bench.storm --players 5000 --within 5

Half-time of a derby: every player is watching channel A, and all of them ask for channel B
within `--within` seconds (arrivals spread evenly), each on its own device and sign-in and its
own TCP connection, so each start hands the player's stream over as a real channel change does.
A player refused with 429 waits its Retry-After and asks again, as the apps do. One `smartgo
api` process in distributed mode (local PostgreSQL and Redis); the accounts are made with the
product's own services before the clock starts. Reported: the time until every player has had
a first answer, the time until every player plays (after its retries), answers by status and
code, 5xx, timeouts, and latency percentiles of the first answers.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import resource
import time
from urllib.parse import urlsplit

import httpx
import uvloop

from bench.common import ADMIN, create_channel, machine, percentile, start_server
from entitlements.accounts import auth
from entitlements.accounts import service as accounts
from entitlements.accounts.schemas import BillingSubscriberUpsert, DeviceInfo, PackageGrant
from infra.composition.wiring import build
from infra.runtime import set_runtime
from infra.settings import Settings

ANSWER_TIMEOUT_S = 60.0


def make_players(env: dict[str, str], n: int, package: str = "storm") -> list[str]:
    """Create n subscribers holding package, each signed in on its own device; return their access tokens."""
    settings = Settings(**{k[len("SMARTGO_"):].lower(): v for k, v in env.items() if k.startswith("SMARTGO_")})
    rt = build(settings)
    set_runtime(rt)
    tokens = []
    try:
        for first in range(0, n, 250):
            with rt.db.session() as db_session:
                for i in range(first, min(n, first + 250)):
                    sub, _ = accounts.upsert_subscriber(db_session=db_session, customer_number=f"S{i:07d}",
                                                        body=BillingSubscriberUpsert(), actor="bench")
                    accounts.set_packages(db_session=db_session, sub=sub, grants=[PackageGrant(code=package)],
                                          actor="bench")
                    pair = auth.start_session(rt, db_session=db_session, subscriber_id=sub.id,
                                              device=DeviceInfo(type="web", name=f"player {i}"))
                    tokens.append(pair.access_token)
    finally:
        set_runtime(None)
        rt.db.dispose()
    return tokens


async def ask(host: str, port: int, token: str, channel: str) -> tuple[int, str, float | None]:
    """POST /v1/playback on a connection of its own; return status, error code and Retry-After."""
    body = json.dumps({"content": {"type": "channel", "id": channel}}).encode()
    head = (f"POST /v1/playback HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + body)
        raw = await reader.read()
    finally:
        writer.close()
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    retry = next((float(v) for k, _, v in (h.partition(": ") for h in lines[1:]) if k.lower() == "retry-after"), None)
    code = "" if status == 200 else json.loads(payload).get("error", {}).get("code", "")
    return status, code, retry


async def storm(url: str, tokens: list[str], channel: str, within_s: float) -> dict:
    """Every player asks for channel within within_s, retrying after Retry-After; return the figures."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    first_answer: list[float] = []
    first_answer_at: list[float] = []
    firsts, answers = collections.Counter(), collections.Counter()
    done_at: list[float] = []
    failures = collections.Counter()
    t0 = time.monotonic()

    async def player(i: int, token: str) -> None:
        await asyncio.sleep(within_s * i / len(tokens))
        asked = time.monotonic()
        first = True
        while True:
            try:
                status, code, retry = await asyncio.wait_for(ask(host, port, token, channel), ANSWER_TIMEOUT_S)
            except TimeoutError:
                failures["timeout"] += 1
                return
            except OSError as err:
                failures[f"connection: {err.__class__.__name__}"] += 1
                return
            key = f"{status} {code}".strip()
            answers[key] += 1
            if first:
                first_answer.append(time.monotonic() - asked)
                first_answer_at.append(time.monotonic() - t0)
                firsts[key] += 1
                first = False
            if status == 429 and retry is not None:
                await asyncio.sleep(retry)
                continue
            if status == 200:
                done_at.append(time.monotonic() - t0)
            else:
                failures[key] += 1
            return

    await asyncio.gather(*(player(i, t) for i, t in enumerate(tokens)))
    return {
        "players": len(tokens), "within_s": within_s,
        "all_first_answers_by_s": round(max(first_answer_at), 2) if len(first_answer_at) == len(tokens) else None,
        "all_playing_by_s": round(max(done_at), 2) if len(done_at) == len(tokens) else None,
        "playing": len(done_at), "first_answers": dict(firsts), "all_answers": dict(answers),
        "5xx": sum(v for k, v in answers.items() if k.startswith("5")), "failures": dict(failures),
        "first_answer_p50_ms": round(percentile(first_answer, 50) * 1000, 1),
        "first_answer_p99_ms": round(percentile(first_answer, 99) * 1000, 1),
        "first_answer_max_ms": round(max(first_answer) * 1000, 1),
    }


async def warm(url: str, tokens: list[str], channel: str, connections: int) -> None:
    """Start every player on channel, a few at a time (each then has a stream to hand over)."""
    queue = list(tokens)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def worker() -> None:
            while queue:
                token = queue.pop()
                resp = await client.post("/v1/playback", headers={"Authorization": f"Bearer {token}"},
                                         json={"content": {"type": "channel", "id": channel}})
                if resp.status_code == 429:
                    queue.append(token)
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                else:
                    resp.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(connections)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--players", type=int, default=5000)
    p.add_argument("--within", type=float, default=5.0)
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a connection per player (the server inherits it)
    srv = start_server("distributed")
    try:
        for channel in ("before", "storm"):
            create_channel(srv.url, channel)
        httpx.post(f"{srv.url}/v1/admin/packages", headers={"X-API-Key": ADMIN}, json={
            "code": "storm", "name": "Storm", "kind": "base", "max_streams": 2,
            "channels": ["before", "storm"]}).raise_for_status()
        t = time.monotonic()
        tokens = make_players(srv.env, args.players)
        setup_s = time.monotonic() - t
        t = time.monotonic()
        uvloop.run(warm(srv.url, tokens, "before", 8))
        warm_s = time.monotonic() - t
        result = uvloop.run(storm(srv.url, tokens, "storm", args.within))
    finally:
        srv.stop()
    result.update(bench="storm", setup_s=round(setup_s, 1), warm_starts_per_s=round(args.players / warm_s, 1),
                  targets={"all_first_answers_by_s": "<= 30", "5xx": 0, "failures": "none"}, machine=machine())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
