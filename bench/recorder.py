"""Cloud DVR (issue 7): many subscribers scheduling one match, and listing a subscriber's recordings.

    .venv/bin/python -m bench.recorder schedule --mode distributed --subscribers 100000 --threads 1,2
    .venv/bin/python -m bench.recorder schedule --mode distributed --subscribers 5000 --via http
    .venv/bin/python -m bench.recorder list --mode distributed --recordings 1000000

schedule: N bulk-inserted subscribers (a package granting the channel with 100 recording hours,
a device, a sign-in) schedule the same 2-hour match tomorrow, one transaction per request as the
API's route runs it (token checked, `recorder.service.schedule`, response built, commit), from T
threads; --via http sends `POST /v1/me/recordings` to a `smartgo api` process instead. Baseline,
same run: the very rows that phase wrote, inserted again into the emptied table with a Core
INSERT, one transaction per row from T threads, then (once) all in one transaction.
list: R recordings (500 per subscriber, over a year) behind a `smartgo api` process; one
subscriber lists its 500 through `GET /v1/me/recordings` in several ways, in rounds with a
primary-key lookup `GET /v1/me/recordings/{id}`; then the list statements are EXPLAINed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import event, func, insert, select, text

from bench.common import machine, mode_env, percentile, start_server
from catalog.channels import service as catalog_service
from catalog.channels.schemas import ChannelCreate
from catalog.guide.models import Programme
from entitlements.accounts import auth
from entitlements.accounts.models import AuthSession, Device, Subscriber
from entitlements.accounts.passwords import hash_password
from entitlements.accounts.tokens import AccessClaims
from entitlements.packages import service as entitlements_service
from entitlements.packages.models import SubscriberPackage
from entitlements.packages.schemas import PackageCreate
from infra.composition.wiring import build
from infra.db import new_id
from infra.migrate import upgrade
from infra.runtime import set_runtime
from infra.settings import get_settings
from recorder import service as recorder_service
from recorder.models import Recording, StoredCopy
from recorder.schemas import RecordingCreate
from streaming.timeline.models import SegmentRun, TimelinePin

CHANNEL = "sport1"
PASSWORD = "bench password 1"
RENDITION = {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}


# -- setup shared by both benchmarks ---------------------------------------------------------------
def open_runtime(env: dict[str, str]):  # noqa: ANN201
    """Build this process's runtime on the database and Redis that env names (migrated)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("SMARTGO_")})
    settings = get_settings()
    upgrade(settings.database_url)
    rt = build(settings)
    set_runtime(rt)
    return rt


def insert_rows(rt, table, rows: Iterable[dict], batch: int = 5000) -> int:  # noqa: ANN001
    """Insert rows with SQLAlchemy Core (multi-row INSERTs), one transaction per batch; return how many."""
    n, it = 0, iter(rows)
    while chunk := list(itertools.islice(it, batch)):
        with rt.db.session() as s:
            s.execute(insert(table), chunk)
        n += len(chunk)
    return n


def make_catalogue(rt, channels: list[str], hours: int) -> str:  # noqa: ANN001
    """Create the channels and a base package granting them with recording hours; return its code."""
    with rt.db.session() as s:
        for cid in channels:
            catalog_service.create(db_session=s, channel_in=ChannelCreate(id=cid, name=cid, renditions=[RENDITION]))
        entitlements_service.create_package(db_session=s, package_in=PackageCreate(
            code="dvr", name="DVR", kind="base", recording_hours=hours, channels=channels))
    return "dvr"


def insert_programmes(rt, slots: list[tuple]) -> None:  # noqa: ANN001
    """Bulk-insert guide programmes given as (id, channel, start, end, title, series_id)."""
    insert_rows(rt, Programme.__table__, ({"id": pid, "channel_id": cid, "start_at": start, "end_at": end,
                                          "title": title, "series_id": series, "fingerprint": "", "status": "scheduled"}
                                         for pid, cid, start, end, title, series in slots))


def insert_subscribers(rt, n: int, package: str, prefix: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """Bulk-insert n active subscribers holding the package, each with a device and a sign-in;
    the first has PASSWORD. Return (subscriber, device, sign-in) ids."""
    now = dt.datetime.now(dt.UTC)
    people = [(new_id(), new_id(), new_id()) for _ in range(n)]
    first = hash_password(PASSWORD)
    insert_rows(rt, Subscriber.__table__, ({"id": s, "customer_number": f"{prefix}{i:07d}", "status": "active",
                                           "password_hash": first if i == 0 else None}
                                          for i, (s, _, _) in enumerate(people)))
    insert_rows(rt, SubscriberPackage.__table__, ({"subscriber_id": s, "package_code": package,
                                                  "valid_from": now - dt.timedelta(days=400), "valid_to": None}
                                                 for s, _, _ in people))
    insert_rows(rt, Device.__table__, ({"id": d, "subscriber_id": s, "device_type": "smart_tv", "name": "TV",
                                       "created_at": now, "last_seen_at": now} for s, d, _ in people))
    insert_rows(rt, AuthSession.__table__, ({"id": a, "subscriber_id": s, "device_id": d, "created_at": now,
                                            "expires_at": now + dt.timedelta(days=30)} for s, d, a in people))
    return people


def in_threads(threads: int, items: list, work: Callable) -> float:
    """Call work(item) for every item from `threads` threads taking the next item in turn; return seconds."""
    it, lock = iter(items), threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                item = next(it, None)
            if item is None:
                return
            work(item)

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: loop(), range(threads)))  # re-raises a worker's error
    return time.perf_counter() - t


def cpu_s(pid: int) -> float:
    """Return the CPU seconds a process has used: this one's, or all live threads of another's
    (scheduler nanoseconds, not ticks)."""
    if pid == os.getpid():
        return time.process_time()  # counts the pool threads that have ended, too
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total / 1e9


# -- schedule ---------------------------------------------------------------------------------------
def access_tokens(rt, people: list[tuple[str, str, str]]) -> list[str]:  # noqa: ANN001
    """Sign an access token for each (subscriber, device, sign-in), as login would."""
    now = int(time.time())
    return [auth.token_keys(rt).sign(AccessClaims(s, d, a, now + 86400), now) for s, d, a in people]


def service_scheduler(rt, programme_id: str) -> Callable[[str], None]:  # noqa: ANN001
    """Schedule as the API's route does, minus HTTP: one transaction, token checked, response built."""

    def schedule(token: str) -> None:
        with rt.db.session() as s:
            who = auth.authenticate(rt, db_session=s, access_token=token)
            body = RecordingCreate(programme_id=programme_id)
            recorder_service.to_read(recorder_service.schedule(rt, db_session=s, principal=who, body=body))

    return schedule


def http_scheduler(url: str, programme_id: str) -> Callable[[str], None]:
    """Schedule through POST /v1/me/recordings (a keep-alive client per thread)."""
    local = threading.local()

    def schedule(token: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
        resp = local.client.post("/v1/me/recordings", json={"programme_id": programme_id},
                                 headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 201, resp.text

    return schedule


def empty_recordings(rt, people: list[tuple[str, str, str]] | None = None) -> None:  # noqa: ANN001
    """Empty the recordings table; given the people, also drop the stored copies, their pins and
    the accounts' cached facts, so every run starts as cold as the first."""
    with rt.db.session() as s:
        s.execute(text("DELETE FROM recordings" if rt.db.is_sqlite else "TRUNCATE recordings"))
        if people is not None:
            s.execute(text("DELETE FROM stored_copies"))
            s.execute(text("DELETE FROM timeline_pins"))
    keys = [f"account-facts:{s}" for s, _, _ in people or []]
    for i in range(0, len(keys), 1000):
        rt.cache.delete(*keys[i:i + 1000])


def storage_check(rt, programme_id: str) -> dict:  # noqa: ANN001
    """Count the programme's recordings, the channel's stored copies, pins and stored segment runs."""
    count = lambda s, q: s.scalar(select(func.count()).select_from(q.subquery()))  # noqa: E731
    with rt.db.session(write=False) as s:
        copies = s.scalars(select(StoredCopy).where(StoredCopy.channel_id == CHANNEL)).all()
        pins = s.scalars(select(TimelinePin).where(TimelinePin.channel_id == CHANNEL)).all()
        mine = select(Recording.id).where(Recording.programme_id == programme_id)
        return {"recordings": count(s, mine), "stored_copies": len(copies), "timeline_pins": len(pins),
                "recordings_referencing_that_copy": count(s, mine.where(Recording.copy_id == copies[0].id)),
                "pin_is_the_copy_window": [(p.start_us, p.end_us) for p in pins] == [(c.start_us, c.end_us)
                                                                                     for c in copies],
                "copy_window_s": [(c.end_us - c.start_us) // 1_000_000 for c in copies],
                "segment_runs_stored": count(s, select(SegmentRun.id).where(SegmentRun.channel_id == CHANNEL))}


def bench_schedule(args: argparse.Namespace) -> dict:
    """Scheduling throughput against plain inserts of the same rows; the storage afterwards."""
    srv = start_server(args.mode) if args.via == "http" else None
    rt = open_runtime(srv.env if srv else mode_env(args.mode, Path(tempfile.mkdtemp(prefix="smartgo-bench-"))))
    table, runs, n = Recording.__table__, [], args.subscribers
    try:
        package = make_catalogue(rt, [CHANNEL], hours=100)
        start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        programme = new_id()
        insert_programmes(rt, [(programme, CHANNEL, start, start + dt.timedelta(hours=2), "Mecz: Polska - Hiszpania",
                                None)])
        people = insert_subscribers(rt, n, package, "S")
        tokens = access_tokens(rt, people)
        schedule = http_scheduler(srv.url, programme) if srv else service_scheduler(rt, programme)
        worker = srv.proc.pid if srv else os.getpid()  # the process whose CPU a schedule costs
        statements = itertools.count()
        event.listen(rt.db.engine, "before_cursor_execute", lambda *_: next(statements))

        def insert_one(row: dict) -> None:
            with rt.db.session() as s:
                s.execute(insert(table), row)

        for threads in args.threads:
            empty_recordings(rt, people)
            cpu, sql = cpu_s(worker), next(statements)
            scheduled_s = in_threads(threads, tokens, schedule)
            cpu, sql = cpu_s(worker) - cpu, next(statements) - sql - 1
            storage = storage_check(rt, programme)
            assert storage["recordings"] == storage["recordings_referencing_that_copy"] == n, storage
            assert storage["stored_copies"] == storage["timeline_pins"] == 1, storage
            with rt.db.session(write=False) as s:
                rows = [dict(r) for r in s.execute(select(table)).mappings()]
            empty_recordings(rt)  # the copy stays: the rows refer to it
            inserted_s = in_threads(threads, rows, insert_one)
            empty_recordings(rt)
            runs.append({"threads": threads, "schedules_per_s": round(n / scheduled_s, 1),
                         "plain_inserts_per_s": round(n / inserted_s, 1), "ratio": round(inserted_s / scheduled_s, 4),
                         "schedule_s": round(scheduled_s, 1), "insert_s": round(inserted_s, 1),
                         "cpu_ms_per_schedule": round(cpu * 1000 / n, 2),
                         "sql_statements_per_schedule": None if srv else round(sql / n, 2),
                         "load_average": os.getloadavg()[0], "storage_after": storage})
        t = time.perf_counter()
        with rt.db.session() as s:
            s.execute(insert(table), rows)
        bulk_s = time.perf_counter() - t
    finally:
        rt.close()
        if srv:
            srv.stop()
    return {"bench": "schedule", "mode": args.mode, "via": args.via, "subscribers": n, "programme_minutes": 120,
            "runs": runs, "bulk_insert_one_transaction_per_s": round(n / bulk_s, 1),
            "schedule_over_bulk": [round(r["schedules_per_s"] * bulk_s / n, 5) for r in runs], "machine": machine()}


# -- list -------------------------------------------------------------------------------------------
WORDS = ("Wielki", "Ostatni", "Nocny", "Zielony", "Tajny", "Dziki", "Złoty", "Cichy", "Nowy", "Stary")
NOUNS = ("ogród", "detektyw", "pociąg", "las", "port", "świat", "dom", "szlak", "mecz", "kraj", "rejs", "sąd")


def guide_slots(channels: list[str], series_channels: int, now: dt.datetime, rng: random.Random) -> list[tuple]:
    """Every channel's guide from 361 days ago to 14 days ahead as (id, channel, start, end, title, series);
    on the first channels a fifth of the programmes are episodes of the channel's series."""
    slots, first = [], (now - dt.timedelta(days=361)).replace(minute=0, second=0, microsecond=0)
    for c, cid in enumerate(channels):
        t = first
        while t < now + dt.timedelta(days=14):
            end = t + dt.timedelta(minutes=rng.choice((30, 45, 60, 60, 90, 120)))
            if c < series_channels and rng.random() < 0.2:
                title, series = f"Serial {cid} ({rng.choice(NOUNS)})", f"SER{c:04d}"
            else:
                title, series = f"{rng.choice(WORDS)} {rng.choice(NOUNS)} {rng.randint(1, 40)}", None
            slots.append((new_id(), cid, t, end, title, series))
            t = end
    return slots


def picks(slots: list[tuple], by_channel: dict[str, list[int]], series_channels: int, per: int,
          rng: random.Random) -> list[int]:
    """One subscriber's recordings as slot indices, in time order: up to 150 episodes of one or two
    series, the rest mostly from four favourite channels."""
    channels = list(by_channel)
    follows = rng.sample(channels[:series_channels], rng.choice((1, 2)))
    episodes = [i for c in follows for i in by_channel[c] if slots[i][5] is not None]
    chosen = set(rng.sample(episodes, min(150, len(episodes))))
    favourites = rng.sample(channels, 4)
    while len(chosen) < per:
        chosen.add(rng.choice(by_channel[rng.choice(favourites) if rng.random() < 0.8 else rng.choice(channels)]))
    return sorted(chosen, key=lambda i: slots[i][2])


def recording_row(subscriber: str, slot: tuple, now: dt.datetime, rng: random.Random) -> dict:
    """A recording of a guide slot, in the state its time gives it (finished ones mostly completed)."""
    pid, cid, start, end, title, series = slot
    done = end + dt.timedelta(seconds=128) <= now
    state = ("scheduled" if start - dt.timedelta(seconds=60) > now else "recording" if not done
             else rng.choices(("completed", "partial", "failed"), (92, 6, 2))[0])
    return {"id": new_id(), "subscriber_id": subscriber, "channel_id": cid, "programme_id": pid,
            "series_rule_id": None, "series_id": series, "title": title, "start_at": start, "end_at": end,
            "pad_before_s": 60, "pad_after_s": 120, "state": state, "copy_id": None, "deleted_at": None,
            "failure_reason": "nothing was recorded: the channel was off the air" if state == "failed" else None,
            "gaps": [[int(start.timestamp()) + 600, int(start.timestamp()) + 660]] if state == "partial" else [],
            "created_at": start - dt.timedelta(hours=rng.randint(1, 240)),
            "completed_at": end + dt.timedelta(seconds=128) if done else None,
            "expires_at": end + dt.timedelta(days=365)}


def interleaved(people: list[tuple[str, str, str]], chosen: list[list[int]], slots: list[tuple],
                rng: random.Random) -> Iterable[dict]:
    """Every subscriber's first recording, then every second...: a subscriber's rows lie all over the
    table, as after a year of scheduling among everyone else's."""
    now = dt.datetime.now(dt.UTC)
    for j in range(len(chosen[0])):
        for (subscriber, _, _), mine in zip(people, chosen):
            yield recording_row(subscriber, slots[mine[j]], now, rng)


def explain_lists(rt, subscriber_id: str, cases: dict[str, dict], full: bool) -> dict:  # noqa: ANN001
    """EXPLAIN (ANALYZE in PostgreSQL) the statements list_recordings runs for each case."""
    seen: list[tuple[str, object]] = []
    listener = lambda _c, _cur, sql, params, _ctx, _many: seen.append((sql, params))  # noqa: E731
    prefix = "EXPLAIN QUERY PLAN " if rt.db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    out = {}
    for name, p in cases.items():
        seen.clear()
        event.listen(rt.db.engine, "before_cursor_execute", listener)
        with rt.db.session(write=False) as s:
            recorder_service.list_recordings(db_session=s, subscriber_id=subscriber_id, state=p.get("state"),
                                    channel_id=p.get("channel"), series_id=p.get("series"),
                                    order=p.get("order", "-start"), offset=p.get("offset", 0), limit=p.get("limit", 50))
        event.remove(rt.db.engine, "before_cursor_execute", listener)
        with rt.db.engine.connect() as conn:
            plans = [[str(r[-1]) for r in conn.exec_driver_sql(prefix + sql, params)] for sql, params in list(seen)]
        timing = [[line.strip() for line in plan if "Execution Time" in line] for plan in plans]
        out[name] = plans if full or rt.db.is_sqlite else timing
    return out


def measure(http: httpx.Client, pid: int, cases: dict[str, Callable[[int], tuple[str, dict]]], rounds: int,
            warmup: int) -> dict[str, tuple[list[float], float]]:
    """In each round, one request of every case in turn; return each case's latencies and the server's CPU."""
    out = {name: ([], 0.0) for name in cases}
    for r in range(warmup + rounds):
        for name, request in cases.items():
            path, params = request(r)
            cpu, t = cpu_s(pid), time.perf_counter()
            resp = http.get(path, params=params)
            elapsed, cpu = time.perf_counter() - t, cpu_s(pid) - cpu
            assert resp.status_code == 200, resp.text
            if r >= warmup:
                out[name] = (out[name][0] + [elapsed], out[name][1] + cpu)
    return out


def bench_list(args: argparse.Namespace) -> dict:
    """p50/p99 of listing one subscriber's 500 recordings among many, against a primary-key lookup."""
    rng, now, load = random.Random(7), dt.datetime.now(dt.UTC), [os.getloadavg()[0]]
    if args.gc_threshold:  # tune the server's garbage collector at its start, through a sitecustomize module
        site = Path(tempfile.mkdtemp(prefix="smartgo-bench-site-"))
        (site / "sitecustomize.py").write_text(f"import gc\ngc.set_threshold({args.gc_threshold})\n")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    srv = start_server(args.mode)
    rt = open_runtime(srv.env)
    try:
        channels = [f"tv{i:02d}" for i in range(args.channels)]
        people = insert_subscribers(rt, args.recordings // args.per_subscriber,
                                    make_catalogue(rt, channels, hours=100_000), "L")
        slots = guide_slots(channels, args.series_channels, now, rng)
        insert_programmes(rt, slots)
        by_channel: dict[str, list[int]] = {}
        for i, slot in enumerate(slots):
            by_channel.setdefault(slot[1], []).append(i)
        chosen = [picks(slots, by_channel, args.series_channels, args.per_subscriber, rng) for _ in people]
        total = insert_rows(rt, Recording.__table__, interleaved(people, chosen, slots, rng))
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in args.index:
                conn.execute(text(statement))
            conn.execute(text("ANALYZE" if rt.db.is_sqlite else "VACUUM ANALYZE"))
        mine = [slots[i] for i in chosen[0]]
        pages = {"first page (50, newest first)": {}, "state=completed": {"state": "completed"},
                 "channel (the favourite)": {"channel": max(by_channel, key=[s[1] for s in mine].count)},
                 "series": {"series": next(s[5] for s in mine if s[5])}, "order=title": {"order": "title"},
                 "one page of 500": {"limit": 500}}
        http = httpx.Client(base_url=srv.url, timeout=60)
        resp = http.post("/v1/auth/login", json={"login": "L0000000", "password": PASSWORD,
                                                 "device": {"type": "smart_tv", "name": "bench"}})
        http.headers["Authorization"] = f"Bearer {resp.raise_for_status().json()['access_token']}"
        ids = [r["id"] for r in http.get("/v1/me/recordings", params={"limit": 500}).json()["items"]]
        assert len(ids) == args.per_subscriber == len(set(ids)), len(ids)
        cases = {name: (lambda _r, p=p: ("/v1/me/recordings", {"limit": 50, **p})) for name, p in pages.items()}
        cases["walk 500 in pages of 50"] = lambda r: ("/v1/me/recordings", {"limit": 50, "offset": 50 * (r % 10)})
        cases["by id (baseline)"] = lambda _r: (f"/v1/me/recordings/{rng.choice(ids)}", {})
        results = measure(http, srv.proc.pid, cases, args.requests, -(-args.warmup // 10) * 10)
        load.append(os.getloadavg()[0])
        explain = explain_lists(rt, people[0][0], {**pages, "last page of the walk": {"offset": 450}}, args.explain)
    finally:
        rt.close()
        srv.stop()
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    pk99 = percentile(results["by id (baseline)"][0], 99)
    walk = results["walk 500 in pages of 50"][0]
    walks = [sum(walk[i:i + 10]) for i in range(0, len(walk) - 9, 10)]
    return {"bench": "list", "mode": args.mode, "recordings": total, "subscribers": len(people),
            "guide_programmes": len(slots), "indexes_added": args.index, "server_gc_threshold": args.gc_threshold,
            "requests_per_case": args.requests, "load_average_before_after": load,
            "cases": {name: {"p50_ms": ms(percentile(v, 50)), "p90_ms": ms(percentile(v, 90)),
                             "p99_ms": ms(percentile(v, 99)), "max_ms": ms(max(v)),
                             "p99_over_pk_p99": round(percentile(v, 99) / pk99, 2),
                             "server_cpu_ms_per_request": ms(cpu / len(v))} for name, (v, cpu) in results.items()},
            "whole_walk_ms": {"walks": len(walks), "p50": ms(percentile(walks, 50)), "p99": ms(percentile(walks, 99))},
            "explain": explain, "machine": machine()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    schedule, listing = sub.add_parser("schedule"), sub.add_parser("list")
    for a in (schedule, listing):
        a.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    schedule.add_argument("--subscribers", type=int, default=100_000)
    schedule.add_argument("--threads", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    schedule.add_argument("--via", choices=["service", "http"], default="service")
    for name, default in (("--recordings", 1_000_000), ("--per-subscriber", 500), ("--channels", 20),
                          ("--series-channels", 6), ("--requests", 300), ("--warmup", 30)):
        listing.add_argument(name, type=int, default=default)
    listing.add_argument("--index", action="append", default=[], help="SQL run after the load, e.g. CREATE INDEX ...")
    listing.add_argument("--gc-threshold", help="the server's gc.set_threshold arguments, e.g. 20000,20,20")
    listing.add_argument("--explain", action="store_true", help="print whole plans, not only execution times")
    args = p.parse_args()
    if getattr(args, "via", None) == "http" and args.mode == "embedded":
        p.error("--via http needs --mode distributed (the server's cache must be shared to start cold)")
    print(json.dumps({"schedule": bench_schedule, "list": bench_list}[args.what](args), indent=2, default=str))


if __name__ == "__main__":
    main()
