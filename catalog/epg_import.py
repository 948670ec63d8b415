"""Importing a guide: read it into staging as a stream, then reconcile each channel's guide.

Reading never touches the guide players see: a guide that is not well-formed, or a feed that
breaks off, fails the import and the previous guide stays. Reconciling then works one channel
at a time (memory bounded by a channel's programmes, not the file), in its own transaction, and
is idempotent, so a worker killed half-way is finished by the next run. The rules (overlaps,
holes, matching programmes across imports) are in docs/epg.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict

import orjson
from sqlalchemy import delete, insert, select, update

from catalog.models import Channel, EpgImport, EpgSource, Programme, StagedProgramme
from catalog.xmltv import MAX_PROGRAMME_S, GuideError, GuideProgramme, Rejected, read_guide, time_zone
from infra.db import new_id, utc
from infra.errors import SmartGoError
from infra.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 1000
MAX_REJECTIONS_LISTED = 200
MOVE_WINDOW = dt.timedelta(hours=6)  # how far a programme may move and keep its id
_GZIP = b"\x1f\x8b"


class FeedError(Exception):
    """The guide could not be fetched or read in full."""


def run_import(rt: Runtime, import_id: str) -> str:
    """Run a queued (or interrupted) import to its end; return its final status."""
    with rt.db.session() as s:
        imp = s.get(EpgImport, import_id)
        if imp is None or imp.status in ("succeeded", "failed"):
            return imp.status if imp else "missing"
        source = s.get(EpgSource, imp.source_id)
        if imp.claimed_at is None:  # run directly (not claimed by the job): claim it now
            imp.claimed_at = dt.datetime.now(dt.UTC)
        imp.status, imp.error = "running", None
        plan = {"claim": imp.claimed_at, "tz": source.time_zone, "map": dict(source.channel_map or {}), "url": source.url,
                "origin": imp.origin, "object_key": imp.object_key, "source_id": source.id}
        known = set(s.scalars(select(Channel.id)))
    report = _Report()
    try:
        _stage(rt, import_id, plan, known, report)
        with rt.db.session(write=False) as s:
            channels = sorted(s.scalars(select(StagedProgramme.channel_id).distinct()
                                        .where(StagedProgramme.import_id == import_id)))
        for channel_id in channels:
            with rt.db.session() as s:
                if not _still_ours(s, import_id, plan):
                    return "superseded"
                reconcile_channel(db_session=s, import_id=import_id, channel_id=channel_id,
                                  source_id=plan["source_id"], report=report)
    except (GuideError, FeedError, SmartGoError) as err:
        line = getattr(err, "line", None)
        return _finish(rt, import_id, plan, report, error=f"{err}" + (f" (line {line})" if line else ""))
    except _Superseded:
        return "superseded"
    except Exception as err:  # a guide must never leave its import running forever
        log.exception("guide import %s failed", import_id)
        return _finish(rt, import_id, plan, report, error=f"the import failed: {type(err).__name__}: {err}"[:500])
    return _finish(rt, import_id, plan, report)


class _Superseded(Exception):
    """Another runner claimed this import after ours stalled: ours stops and leaves it alone."""


def _still_ours(s, import_id: str, plan: dict) -> bool:  # noqa: ANN001
    """Tell whether this runner still holds the import, and renew its claim (a heartbeat)."""
    now = dt.datetime.now(dt.UTC)
    changed = s.execute(update(EpgImport).where(EpgImport.id == import_id, EpgImport.claimed_at == plan["claim"])
                        .values(claimed_at=now)).rowcount
    if changed:
        plan["claim"] = now
    return bool(changed)


class _Report:
    """What an import did, for the staff who read it."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.rejected: Counter = Counter()
        self.rejections: list[dict] = []
        self.unknown_channels: Counter = Counter()

    def reject(self, item: Rejected) -> None:
        self.rejected[item.reason] += 1
        if len(self.rejections) < MAX_REJECTIONS_LISTED:
            self.rejections.append(asdict(item))

    def to_dict(self) -> dict:
        return {"programmes_read": self.counts["read"], "added": self.counts["added"],
                "updated": self.counts["updated"], "unchanged": self.counts["unchanged"],
                "cancelled": self.counts["cancelled"], "overlaps_resolved": self.counts["overlaps"],
                "rejected": sum(self.rejected.values()), "rejected_by_reason": dict(self.rejected),
                "rejections": self.rejections, "unknown_channels": dict(self.unknown_channels),
                "channels": self.counts["channels"]}


def _stage(rt: Runtime, import_id: str, plan: dict, known: set[str], report: _Report) -> None:
    with rt.db.session() as s:
        s.execute(delete(StagedProgramme).where(StagedProgramme.import_id == import_id))
    batch: list[dict] = []
    tz = time_zone(plan["tz"])
    for position, item in enumerate(read_guide(_feed(rt, plan), tz)):
        if isinstance(item, Rejected):
            report.reject(item)
            continue
        report.counts["read"] += 1
        channel_id = plan["map"].get(item.channel) or (item.channel if item.channel in known else None)
        if channel_id is None or channel_id not in known:
            report.unknown_channels[item.channel] += 1
            continue
        batch.append({"import_id": import_id, "position": position, "channel_id": channel_id,
                      "start_at": item.start, "end_at": item.stop, "data": _data(item)})
        if len(batch) >= BATCH:
            _insert(rt, batch, import_id, plan)
            batch = []
    if batch:
        _insert(rt, batch, import_id, plan)


def _insert(rt: Runtime, rows: list[dict], import_id: str, plan: dict) -> None:
    with rt.db.session() as s:
        if not _still_ours(s, import_id, plan):
            raise _Superseded(import_id)
        s.execute(insert(StagedProgramme), rows)


def _data(item: GuideProgramme) -> dict:
    return {"line": item.line, "title": item.title, "titles": item.titles, "sub_titles": item.sub_titles,
            "descriptions": item.descriptions, "categories": item.categories, "series_id": item.series_id,
            "season": item.season, "episode": item.episode, "episode_label": item.episode_label,
            "source_programme_id": item.source_programme_id, "age_rating": item.age_rating,
            "feed_rights": item.rights}


def _feed(rt: Runtime, plan: dict) -> Iterator[bytes]:
    """Yield the guide's bytes (gzip or not) from its URL or stored upload, within the size cap."""
    cap = rt.settings.epg_max_bytes
    raw = _from_url(plan["url"], rt.settings.epg_fetch_timeout_s, cap) if plan["origin"] == "url" \
        else rt.store.read_chunks(plan["object_key"])
    seen, unzip = 0, None
    for i, chunk in enumerate(raw):
        if i == 0 and chunk[:2] == _GZIP:
            unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if unzip is not None:
            try:
                chunk = unzip.decompress(chunk, cap + 1 - seen)
            except zlib.error as err:
                raise FeedError(f"the compressed guide is corrupt: {err}") from err
        seen += len(chunk)
        if seen > cap:
            raise FeedError(f"the guide is larger than SMARTGO_EPG_MAX_BYTES ({cap} bytes)")
        yield chunk
    if unzip is not None and not unzip.eof:
        raise FeedError("the compressed guide ends early (truncated)")


def _from_url(url: str | None, timeout_s: float, cap: int) -> Iterator[bytes]:
    import httpx

    if not url:
        raise FeedError("the source has no URL")
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise FeedError(f"the feed answered HTTP {resp.status_code}")
            length = resp.headers.get("content-length")
            if length and length.isdigit() and int(length) > cap:
                raise FeedError(f"the feed is larger than SMARTGO_EPG_MAX_BYTES ({cap} bytes)")
            yield from resp.iter_raw(1 << 16)
    except httpx.HTTPError as err:
        raise FeedError(f"the feed could not be read: {type(err).__name__}") from err


def _finish(rt: Runtime, import_id: str, plan: dict, report: _Report, error: str | None = None) -> str:
    status = "failed" if error else "succeeded"
    with rt.db.session() as s:
        if not _still_ours(s, import_id, plan):
            return "superseded"
        s.execute(delete(StagedProgramme).where(StagedProgramme.import_id == import_id))
        now = dt.datetime.now(dt.UTC)
        s.execute(update(EpgImport).where(EpgImport.id == import_id).values(
            status=status, error=error[:2000] if error else None, report=report.to_dict(), finished_at=now))
        s.execute(update(EpgSource).where(EpgSource.id == plan["source_id"]).values(last_import_at=now))
    if plan["object_key"]:
        try:
            rt.store.delete_many([plan["object_key"]])
        except SmartGoError:
            log.warning("could not delete the uploaded guide %s", plan["object_key"])
    return status


# -- reconciling one channel -----------------------------------------------------------------
def reconcile_channel(*, db_session, import_id: str, channel_id: str, source_id: str,  # noqa: ANN001
                      report: _Report) -> None:
    """Make a channel's guide over the span the import covers match the import."""
    staged = list(db_session.scalars(select(StagedProgramme).where(
        StagedProgramme.import_id == import_id, StagedProgramme.channel_id == channel_id)
        .order_by(StagedProgramme.start_at, StagedProgramme.position)))
    incoming = _resolve(staged, report)
    if not incoming:
        return
    report.counts["channels"] += 1
    lo, hi = incoming[0]["start_at"], max(p["end_at"] for p in incoming)
    existing = list(db_session.scalars(select(Programme).where(
        Programme.channel_id == channel_id, Programme.start_at >= lo - MOVE_WINDOW,
        Programme.start_at < hi + MOVE_WINDOW)))
    covered = [p for p in existing if lo <= utc(p.start_at) < hi]
    now = dt.datetime.now(dt.UTC)
    for p in existing:  # an older programme running into the new span ends where the span starts
        if utc(p.start_at) < lo < utc(p.end_at) and p.status == "scheduled":
            # A changed fingerprint: the next import that sends it whole again puts it back.
            p.end_at, p.updated_at, p.fingerprint = lo, now, ""
    # Programmes outside the span may take part only if they have not started: an aired
    # programme never moves into the future.
    pairs = _match(incoming, [p for p in existing if p in covered or (p.status == "scheduled"
                                                                       and utc(p.start_at) > now)])
    matched_ids = set()
    for new, old in pairs:
        if old is None:
            db_session.add(Programme(id=new_id(), channel_id=channel_id, source_id=source_id,
                                     status="scheduled", **new))
            report.counts["added"] += 1
            continue
        matched_ids.add(old.id)
        if old.fingerprint == new["fingerprint"] and old.status == "scheduled":
            report.counts["unchanged"] += 1
            continue
        for key, value in new.items():
            setattr(old, key, value)
        old.status, old.source_id, old.updated_at = "scheduled", source_id, dt.datetime.now(dt.UTC)
        report.counts["updated"] += 1
    for p in covered:
        if p.id not in matched_ids and p.status == "scheduled":
            p.status, p.updated_at = "cancelled", dt.datetime.now(dt.UTC)
            report.counts["cancelled"] += 1
    db_session.flush()
    from recorder import service as recorder_service  # recordings follow their programmes (recorder/)

    recorder_service.follow_guide(db_session=db_session, channel_id=channel_id)


def _resolve(staged: list[StagedProgramme], report: _Report) -> list[dict]:
    """Order a channel's staged programmes and apply the overlap rule (the later start wins)."""
    out: list[dict] = []
    for st in staged:
        row = {"start_at": utc(st.start_at), "end_at": utc(st.end_at) if st.end_at else None, **st.data}
        if out and out[-1]["start_at"] == row["start_at"]:
            out[-1] = row  # two entries at one start: the later in the file is the correction
            report.counts["overlaps"] += 1
            continue
        if out and (out[-1]["end_at"] is None or out[-1]["end_at"] > row["start_at"]):
            if out[-1]["end_at"] is not None:
                report.counts["overlaps"] += 1
            out[-1]["end_at"] = row["start_at"]
        out.append(row)
    if out and out[-1]["end_at"] is None:
        last = out.pop()
        report.reject(Rejected(last["line"], None, last["start_at"].isoformat(), "NO_STOP",
                               "the channel's last programme has no stop time"))
    kept = []
    for row in out:  # a programme without a stop may have been stretched over a long hole
        if (row["end_at"] - row["start_at"]).total_seconds() > MAX_PROGRAMME_S:
            report.reject(Rejected(row["line"], None, row["start_at"].isoformat(), "TOO_LONG",
                                   "a programme may last 24 hours at most"))
        else:
            kept.append(row)
    return [_programme_fields(r) for r in kept]


def _programme_fields(row: dict) -> dict:
    fields = {k: row.get(k) for k in ("start_at", "end_at", "title", "titles", "sub_titles", "descriptions",
                                      "categories", "series_id", "season", "episode", "episode_label",
                                      "source_programme_id", "age_rating", "feed_rights")}
    fields["title"] = (fields["title"] or "")[:400]
    digest = orjson.dumps({**fields, "start_at": fields["start_at"].isoformat(),
                           "end_at": fields["end_at"].isoformat()}, option=orjson.OPT_SORT_KEYS)
    fields["fingerprint"] = hashlib.md5(digest, usedforsecurity=False).hexdigest()
    return fields


def _norm(title: str) -> str:
    return " ".join(title.casefold().split())


def _match(incoming: list[dict], existing: list[Programme]) -> list[tuple[dict, Programme | None]]:
    """Pair each incoming programme with the existing one it is (same start and title or source
    id; else the nearest within MOVE_WINDOW with the same source id, or title), or None."""
    free = {p.id: p for p in existing}
    exact: dict[tuple, Programme] = {}
    for p in existing:
        exact.setdefault((utc(p.start_at), "t", _norm(p.title)), p)
        if p.source_programme_id:
            exact.setdefault((utc(p.start_at), "s", p.source_programme_id), p)
    pairs: list[tuple[dict, Programme | None]] = []
    pending = []
    for new in incoming:
        old = exact.get((new["start_at"], "s", new["source_programme_id"])) if new["source_programme_id"] else None
        old = old or exact.get((new["start_at"], "t", _norm(new["title"])))
        if old is not None and old.id in free:
            del free[old.id]
            pairs.append((new, old))
        else:
            pending.append(new)
    for new in pending:
        def same(p: Programme) -> bool:
            if new["source_programme_id"] and p.source_programme_id:
                return p.source_programme_id == new["source_programme_id"]
            return _norm(p.title) == _norm(new["title"])

        near = [p for p in free.values() if same(p) and abs(utc(p.start_at) - new["start_at"]) <= MOVE_WINDOW]
        old = min(near, key=lambda p: abs(utc(p.start_at) - new["start_at"])) if near else None
        if old is not None:
            del free[old.id]
        pairs.append((new, old))
    return pairs
