"""Private copies: a window of a channel's timeline copied, objects and index, under a prefix of its own.

Some rights holders require each subscriber's recording to play from a copy of its own (design
section 5). A copy holds every segment of its window on every track, the init segments they
need, and an index (the window's runs and holes) written last: a copy without its index is
unfinished and is simply made again (copying an object twice is harmless). The origin serves a
copy from its index and objects alone, so the archive may purge the originals afterwards.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from infra.errors import ObjectNotFound
from infra.runtime import Runtime
from streaming.formats.windows import Window
from streaming.timeline import service
from streaming.timeline.runs import Run, Segment, segments_in
from streaming.timeline.windows import contains

COPY_THREADS = 8


def copy_prefix(copy_id: str) -> str:
    """Return the key prefix every object of a copy lives under."""
    return f"copies/{copy_id}/"


def copied_key(copy_id: str, key: str) -> str:
    """Return the key of a copy's object made from the archive's object key."""
    return copy_prefix(copy_id) + key


def index_key(copy_id: str) -> str:
    """Return the key of a copy's index, the object that marks the copy complete."""
    return copy_prefix(copy_id) + "index.json"


def encode_index(runs: list[Run], holes: set[tuple[int, str]]) -> bytes:
    """Return a copy's index: the runs and holes its window was made from."""
    items = []
    for run in runs:
        item = asdict(run)
        item["durations"] = base64.b64encode(run.durations).decode() if run.durations is not None else None
        items.append(item)
    return json.dumps({"version": 1, "runs": items, "holes": sorted([seq, track] for seq, track in holes)},
                      separators=(",", ":")).encode()


def decode_index(data: bytes) -> tuple[list[Run], set[tuple[int, str]]]:
    """Return the runs and holes of a copy's index."""
    doc = json.loads(data)
    runs = []
    for item in doc["runs"]:
        if item["durations"] is not None:
            item["durations"] = base64.b64decode(item["durations"])
        runs.append(Run(**item))
    return runs, {(seq, track) for seq, track in doc["holes"]}


def _segment_keys(channel_id: str, segment: Segment, track: str) -> list[str]:
    run = segment.run
    keys = [service.segment_key(channel_id, track, run.session, segment.seq - run.enc_offset)]
    if track in run.inits:
        keys.append(service.init_key(channel_id, track, run.inits[track]))
    return keys


def make_copy(rt: Runtime, *, copy_id: str, channel_id: str, start_us: int, end_us: int) -> int:
    """Copy a window of a channel into a copy of its own, index last; return the bytes copied.

    A segment the archive lost (a hole the index did not record) is marked a hole in the copy,
    so the copy never names an object it does not have.
    """
    window = Window(channel_id, start_us // 1_000_000, -(-end_us // 1_000_000), "vod", 0)
    with rt.db.session(write=False) as s:
        tracks = service.channel_spec(db_session=s, channel_id=channel_id).tracks
        runs = service.runs_in_window(db_session=s, channel_id=channel_id, start_us=start_us, end_us=end_us)
        holes = service.holes_from(db_session=s, channel_id=channel_id, first_seq=runs[0].first_seq) if runs else set()
    holes = {h for h in holes if runs and h[0] <= runs[-1].last_seq}  # the index keeps only its own
    users: dict[str, list[tuple[int, str]]] = {}  # each object once, with the entries that need it
    for segment in segments_in(runs, window.start_us, window.end_us):
        if segment.gap or not contains(window, segment):
            continue
        for track in tracks:
            if (segment.seq, track) not in holes:
                for key in _segment_keys(channel_id, segment, track):
                    users.setdefault(key, []).append((segment.seq, track))

    def copy_one(key: str) -> bool:
        try:
            rt.store.copy(key, copied_key(copy_id, key))
            return True
        except ObjectNotFound:
            return False

    # Object copies are one request each: several at a time, as a two-hour programme is thousands.
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        copied = dict(zip(users, pool.map(copy_one, users)))
    for key, ok in copied.items():
        if not ok:
            holes.update(users[key])
    # One listing, not a request per object; the segments only: a run of this job cut short before
    # may already have written the index beside them.
    total = rt.store.total_size(copied_key(copy_id, "live/"))
    rt.store.put(index_key(copy_id), encode_index(runs, holes), "application/json")
    return total


def load_index(rt: Runtime, copy_id: str) -> tuple[list[Run], set[tuple[int, str]]] | None:
    """Return a copy's runs and holes, or None while the copy is not complete."""
    try:
        return decode_index(rt.store.get(index_key(copy_id)).data)
    except ObjectNotFound:
        return None


def delete_copy(rt: Runtime, copy_id: str) -> int:
    """Delete every object of a copy, its index first (so a half-deleted copy is never served)."""
    rt.store.delete_many([index_key(copy_id)])
    return rt.store.delete_many(list(rt.store.list(copy_prefix(copy_id))))
