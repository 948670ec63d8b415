"""VOD catalogue (issue 8): search and browse among 50,000 titles, against a primary-key lookup.

    .venv/bin/python -m bench.vod_search --mode embedded --titles 50000
    .venv/bin/python -m bench.vod_search --mode distributed --titles 50000

T titles are bulk-inserted behind a `smartgo api` process (Core INSERTs; the search words folded
by `catalog.vod.search.title_words`, as a write through the API folds them): movies, series and
shows, Polish and English titles and synopses drawn from a synthetic Polish-looking vocabulary
(Zipf-distributed, with diacritics), 1 to 3 of 24 genres, 4 people each, 90% published over
three years, the rest drafts or not yet available. One signed-in subscriber with 30 titles
started then sends, in rounds, one request of every case: searches of several shapes (queries
taken from the loaded titles), the browse rows, filtered list pages, and the title details by id
(the baseline), all over HTTP with keep-alive.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
from types import SimpleNamespace

import httpx
from sqlalchemy import text

from bench.common import machine, percentile, start_server
from bench.recorder import (
    PASSWORD,
    insert_rows,
    insert_subscribers,
    measure,
    open_runtime,
)
from catalog.vod.models import (
    Title,
    TitleGenre,
    TitlePackage,
    TitleText,
    TitleWord,
    WatchPosition,
)
from catalog.vod.search import fold, title_words, words
from entitlements.packages import service as entitlements_service
from entitlements.packages.schemas import PackageCreate

GENRES = ["drama", "comedy", "thriller", "horror", "documentary", "animation", "family", "crime", "romance",
          "sci-fi", "fantasy", "action", "adventure", "war", "history", "music", "sport", "western", "biography",
          "mystery", "kids", "reality", "news", "talk-show"]
SYLLABLES = ["ża", "ró", "łó", "dź", "ka", "ma", "wie", "sz", "cz", "no", "ta", "pię", "ść", "gó", "rze", "bia",
             "ły", "ko", "le", "śnie", "żu", "ra", "po", "wo", "mi", "ną", "dę", "ci", "la", "be", "tor", "on",
             "rek", "jan", "sta", "ło", "na", "ze", "ku", "zo", "lw", "dro", "gi", "ni", "ba", "wy"]
RATINGS = ["AL", "7", "12", "16", "18"]


def vocabulary(rng: random.Random, n: int) -> list[str]:
    """Return n distinct made-up words of 2 to 4 syllables, capitalised like titles."""
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))).capitalize())
    return sorted(out)


def generate(rng: random.Random, n: int, now: dt.datetime) -> dict[str, list[dict]]:
    """Return the rows of n titles for every VOD table, words included."""
    vocab = vocabulary(rng, 30_000)
    zipf = [1 / (i + 1) for i in range(len(vocab))]
    first, last = vocab[:400], vocab[400:3400]
    rows: dict[str, list[dict]] = {"titles": [], "texts": [], "genres": [], "words": [], "packages": []}
    for i in range(n):
        tid, roll = f"t{i:06d}", rng.random()
        published = now - dt.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
        credits = [{"role": rng.choice(["director", "actor"]), "name": f"{rng.choice(first)} {rng.choice(last)}",
                    "character": None} for _ in range(4)]
        genres = rng.sample(GENRES, rng.randint(1, 3))
        title = {"id": tid, "kind": rng.choices(["movie", "series", "show"], [8, 1, 1])[0], "parent_id": None,
                 "position": None, "status": "draft" if roll < 0.05 else "published", "original_title": None,
                 "year": published.year - rng.randint(0, 30), "countries": ["PL"], "genres": genres,
                 "credits": credits, "duration_s": rng.randint(1200, 9000), "age_rating": rng.choice(RATINGS),
                 "available_from": now + dt.timedelta(days=30) if 0.05 <= roll < 0.10 else None,
                 "available_to": None, "device_types": None, "download": "none", "asset_id": None, "images": {},
                 "published_at": None if roll < 0.05 else published, "version": 1, "created_at": published,
                 "updated_at": published}
        texts = [{"title_id": tid, "language": lang, "short_synopsis": None,
                  "title": " ".join(rng.choices(vocab[:12_000], k=rng.randint(1, 4))),
                  "synopsis": " ".join(rng.choices(vocab, zipf, k=rng.randint(12, 20))) + "."}
                 for lang in ("pol", "eng")]
        found = title_words(SimpleNamespace(**title), [SimpleNamespace(**t) for t in texts])
        rows["titles"].append(title)
        rows["texts"] += texts
        rows["genres"] += [{"genre": g, "title_id": tid} for g in genres]
        rows["words"] += [{"word": w, "title_id": tid, "weight": s} for w, s in found.items()]
        if rng.random() < 0.3:
            rows["packages"].append({"title_id": tid, "package_code": "vod"})
    return rows


def queries(rng: random.Random, rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Return 50 queries of each shape, taken from loaded published titles."""
    shown = [t for t in rows["titles"] if t["status"] == "published" and t["available_from"] is None]
    titles = {t["title_id"]: t["title"] for t in rows["texts"] if t["language"] == "pol"}
    picks = [(t, titles[t["id"]].split()) for t in rng.sample(shown, 50)]
    return {
        "search: a title word, typed without diacritics": [{"q": fold(w[0])} for _, w in picks],
        "search: a title word as written, upper case": [{"q": w[0].upper()} for _, w in picks],
        "search: the first 3 letters": [{"q": fold(w[0])[:3]} for _, w in picks],
        "search: two words, the last a prefix": [{"q": f"{w[0]} {w[-1][:4]}"} for _, w in picks],
        "search: a person's surname": [{"q": t["credits"][0]["name"].split()[1]} for t, _ in picks],
        "search: a word + genre filter": [{"q": words(w[0])[0], "genre": t["genres"][0]} for t, w in picks],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    p.add_argument("--titles", type=int, default=50_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    args = p.parse_args()
    rng, now = random.Random(8), dt.datetime.now(dt.UTC)
    srv = start_server(args.mode)
    rt = open_runtime(srv.env)
    try:
        with rt.db.session() as s:
            entitlements_service.create_package(db_session=s, package_in=PackageCreate(
                code="vod", name="VOD", kind="base", channels=[]))
        (subscriber, _, _), = insert_subscribers(rt, 1, "vod", "V")
        t0 = dt.datetime.now()
        rows = generate(rng, args.titles, now)
        generated_s = (dt.datetime.now() - t0).total_seconds()
        for table, key in ((Title, "titles"), (TitleText, "texts"), (TitleGenre, "genres"), (TitleWord, "words"),
                           (TitlePackage, "packages")):
            insert_rows(rt, table.__table__, rows[key])
        shown = [t["id"] for t in rows["titles"] if t["status"] == "published" and t["available_from"] is None]
        insert_rows(rt, WatchPosition.__table__, [
            {"subscriber_id": subscriber, "title_id": tid, "position_s": 600, "duration_s": 6000,
             "finished": False, "device_id": None, "updated_at": now - dt.timedelta(minutes=i)}
            for i, tid in enumerate(rng.sample(shown, 30))])
        loaded_s = (dt.datetime.now() - t0).total_seconds()
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE" if rt.db.is_sqlite else "VACUUM ANALYZE"))
        http = httpx.Client(base_url=srv.url, timeout=60)
        resp = http.post("/v1/auth/login", json={"login": "V0000000", "password": PASSWORD,
                                                 "device": {"type": "smart_tv", "name": "bench"}})
        http.headers["Authorization"] = f"Bearer {resp.raise_for_status().json()['access_token']}"
        shapes = queries(rng, rows)
        cases = {name: (lambda r, qs=qs: ("/v1/vod/search", qs[r % len(qs)])) for name, qs in shapes.items()}
        cases["browse rows"] = lambda _r: ("/v1/vod/rows", {})
        cases["list: genre + age rating, page 1"] = lambda r: (
            "/v1/vod/titles", {"genre": GENRES[r % len(GENRES)], "age_rating": "12"})
        cases["list: newest, page 5"] = lambda _r: ("/v1/vod/titles", {"offset": 80, "limit": 20})
        cases["title details by id (baseline)"] = lambda _r: (f"/v1/vod/titles/{rng.choice(shown)}", {})
        hits = {name: sum(http.get(path, params=params).json()["total"]
                          for path, params in map(cases[name], range(50))) / 50 for name in shapes}
        results = measure(http, srv.proc.pid, cases, args.requests, args.warmup)
    finally:
        rt.close()
        srv.stop()
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    pk99 = percentile(results["title details by id (baseline)"][0], 99)
    print(json.dumps({
        "bench": "vod_search", "mode": args.mode, "titles": args.titles, "search_words": len(rows["words"]),
        "generate_s": round(generated_s, 1), "load_s": round(loaded_s - generated_s, 1),
        "requests_per_case": args.requests, "load_average": os.getloadavg()[0],
        "mean_matches_per_search": hits,
        "cases": {name: {"p50_ms": ms(percentile(v, 50)), "p99_ms": ms(percentile(v, 99)), "max_ms": ms(max(v)),
                         "p99_over_pk_p99": round(percentile(v, 99) / pk99, 2),
                         "server_cpu_ms_per_request": ms(cpu / len(v))} for name, (v, cpu) in results.items()},
        "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
