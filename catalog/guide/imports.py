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
from sqlalchemy import bindparam, delete, insert, select, tuple_, update

from catalog.channels.models import Channel
from catalog.guide.events import GuideChanged
from catalog.guide.fetch import FeedError, fetch, parse_allow
from catalog.guide.models import EpgImport, EpgSource, Programme, StagedProgramme
from catalog.guide.xmltv import (
    MAX_PROGRAMME_S,
    GuideError,
    GuideProgramme,
    Rejected,
    read_guide,
    time_zone,
)
from infra import events
from infra.db import new_id, utc
from infra.errors import SmartGoError
from infra.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 1000
MAX_REJECTIONS_LISTED = 200
MOVE_WINDOW = dt.timedelta(hours=6)  # how far a programme may move and keep its id
_GZIP = b"\x1f\x8b"
UNPACKED_PIECE = 1 << 20
MAX_UNKNOWN_CHANNELS_LISTED = 200


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
        self.unknown_other = 0  # programmes of unknown channels past the first MAX_UNKNOWN_CHANNELS_LISTED

    def unknown(self, channel: str) -> None:
        if channel in self.unknown_channels or len(self.unknown_channels) < MAX_UNKNOWN_CHANNELS_LISTED:
            self.unknown_channels[channel] += 1
        else:
            self.unknown_other += 1

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
                "unknown_channels_other": self.unknown_other,
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
            report.unknown(item.channel)
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
    if plan["origin"] == "url":
        if not plan["url"]:
            raise FeedError("the source has no URL")
        raw = fetch(plan["url"], allow=parse_allow(rt.settings.epg_fetch_allow), timeout_s=rt.settings.epg_fetch_timeout_s,
                    cap=cap)
    else:
        raw = rt.store.read_chunks(plan["object_key"])
    seen, unzip = 0, None
    for i, chunk in enumerate(raw):
        if i == 0 and chunk[:2] == _GZIP:
            unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # A compressed chunk is unpacked a piece at a time: 64 kB of a guide that compresses well
        # is megabytes, and the reader holds every programme of a piece until it is parsed.
        for piece in _unpacked(unzip, chunk) if unzip is not None else (chunk,):
            seen += len(piece)
            if seen > cap:
                raise FeedError(f"the guide is larger than SMARTGO_EPG_MAX_BYTES ({cap} bytes)")
            yield piece
    if unzip is not None and not unzip.eof:
        raise FeedError("the compressed guide ends early (truncated)")


def _unpacked(unzip, chunk: bytes) -> Iterator[bytes]:  # noqa: ANN001 - a zlib decompressor
    """Yield a compressed chunk unpacked, UNPACKED_PIECE bytes at most at a time."""
    try:
        while chunk:
            piece = unzip.decompress(chunk, UNPACKED_PIECE)
            chunk = unzip.unconsumed_tail
            if piece:
                yield piece
    except zlib.error as err:
        raise FeedError(f"the compressed guide is corrupt: {err}") from err


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
# A channel's staged programmes are worked through in pages ordered by start, and what is decided
# about each (dropped, trimmed, matched to an existing programme) is written back to its staged
# row, not held: memory is bounded by a page and the programmes around it, not by the channel (a
# guide of one channel of 85 MB held every programme three times over and grew the API by 3 GB).
PAGE = 2000


def reconcile_channel(*, db_session, import_id: str, channel_id: str, source_id: str,  # noqa: ANN001
                      report: _Report) -> None:
    """Make a channel's guide over the span the import covers match the import."""
    span = _resolve(db_session, import_id, channel_id, report)
    if span is None:
        return
    report.counts["channels"] += 1
    lo, hi = span
    now = dt.datetime.now(dt.UTC)
    # An older programme running into the new span ends where the span starts; a changed
    # fingerprint: the next import that sends it whole again puts it back.
    db_session.execute(update(Programme).where(
        Programme.channel_id == channel_id, Programme.start_at < lo, Programme.end_at > lo,
        Programme.status == "scheduled").values(end_at=lo, updated_at=now, fingerprint="")
        .execution_options(synchronize_session=False))
    _match_exact(db_session, import_id, channel_id)
    _match_near(db_session, import_id, channel_id, lo, hi, now)
    _apply(db_session, import_id, channel_id, source_id, report, now)
    staged = select(StagedProgramme.programme_id).where(StagedProgramme.import_id == import_id,
                                                        StagedProgramme.programme_id == Programme.id)
    report.counts["cancelled"] += db_session.execute(update(Programme).where(
        Programme.channel_id == channel_id, Programme.start_at >= lo, Programme.start_at < hi,
        Programme.status == "scheduled", ~staged.exists()).values(status="cancelled", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount

    events.publish(db_session, GuideChanged(channel_id=channel_id))


def _pages(db_session, import_id: str, channel_id: str, *, unmatched: bool = False):  # noqa: ANN001, ANN202
    """Yield the channel's staged rows in pages, by start (after _resolve, no two share one)."""
    after = None
    while True:
        query = select(StagedProgramme).where(StagedProgramme.import_id == import_id,
                                              StagedProgramme.channel_id == channel_id)
        if unmatched:
            query = query.where(StagedProgramme.programme_id.is_(None))
        if after is not None:
            query = query.where(tuple_(StagedProgramme.start_at, StagedProgramme.position) > after)
        page = list(db_session.scalars(query.order_by(StagedProgramme.start_at, StagedProgramme.position)
                                       .limit(PAGE)))
        if not page:
            return
        yield page
        after = (page[-1].start_at, page[-1].position)
        db_session.expunge_all()  # what a page loaded goes with it


def _set_staged(db_session, import_id: str, values: list[dict]) -> None:  # noqa: ANN001
    """Write back what was decided about staged rows ({position, end_at or programme_id})."""
    table = StagedProgramme.__table__  # Core: a list of parameters is an executemany, not an ORM bulk update
    for key in ("end_at", "programme_id"):
        rows = [{"pos": v["position"], "value": v[key]} for v in values if key in v]
        if rows:
            db_session.execute(update(table).where(table.c.import_id == import_id, table.c.position == bindparam("pos"))
                               .values({key: bindparam("value")}), rows)


def _resolve(db_session, import_id: str, channel_id: str, report: _Report) -> tuple | None:  # noqa: ANN001
    """Apply the overlap rule to the channel's staged programmes in place (the later start wins; of
    two at one start, the later in the file); drop what has no stop or lasts too long; return the
    span the rest covers (first start, last end), or None when nothing is left."""
    prev: dict | None = None
    dropped: list[int] = []
    changed: list[dict] = []
    lo = hi = None

    def keep(row: dict) -> None:
        nonlocal lo, hi
        if row["end_at"] is None:
            report.reject(Rejected(row["line"], None, row["start_at"].isoformat(), "NO_STOP",
                                   "the channel's last programme has no stop time"))
        elif (row["end_at"] - row["start_at"]).total_seconds() > MAX_PROGRAMME_S:
            # a programme without a stop may have been stretched over a long hole
            report.reject(Rejected(row["line"], None, row["start_at"].isoformat(), "TOO_LONG",
                                   "a programme may last 24 hours at most"))
        else:
            lo, hi = lo or row["start_at"], max(hi or row["end_at"], row["end_at"])
            if row["trimmed"]:
                changed.append({"position": row["position"], "end_at": row["end_at"]})
            return
        dropped.append(row["position"])

    for page in _pages(db_session, import_id, channel_id):
        for st in page:
            row = {"position": st.position, "start_at": utc(st.start_at), "end_at": utc(st.end_at),
                   "line": st.data.get("line"), "trimmed": False}
            if prev is not None and prev["start_at"] == row["start_at"]:
                dropped.append(prev["position"])  # two entries at one start: the later in the file is the correction
                report.counts["overlaps"] += 1
            elif prev is not None:
                if prev["end_at"] is None or prev["end_at"] > row["start_at"]:
                    if prev["end_at"] is not None:
                        report.counts["overlaps"] += 1
                    prev["end_at"], prev["trimmed"] = row["start_at"], True
                keep(prev)
            prev = row
        _write_resolved(db_session, import_id, dropped, changed)
    if prev is not None:
        keep(prev)
    _write_resolved(db_session, import_id, dropped, changed)
    return (lo, hi) if lo is not None else None


def _write_resolved(db_session, import_id: str, dropped: list[int], changed: list[dict]) -> None:  # noqa: ANN001
    if dropped:
        db_session.execute(delete(StagedProgramme).where(StagedProgramme.import_id == import_id,
                                                         StagedProgramme.position.in_(dropped)))
    _set_staged(db_session, import_id, changed)
    dropped.clear()
    changed.clear()


def _near_programmes(db_session, channel_id: str, start: dt.datetime, end: dt.datetime) -> list[Programme]:  # noqa: ANN001
    return list(db_session.scalars(select(Programme).where(
        Programme.channel_id == channel_id, Programme.start_at >= start, Programme.start_at <= end)
        .order_by(Programme.start_at, Programme.id)))


def _match_exact(db_session, import_id: str, channel_id: str) -> None:  # noqa: ANN001
    """Pair each staged programme with the existing one at the same start with the same source id,
    else the same title (every existing programme at a staged start is in the span)."""
    for page in _pages(db_session, import_id, channel_id):
        exact: dict[tuple, Programme] = {}
        for p in _near_programmes(db_session, channel_id, utc(page[0].start_at), utc(page[-1].start_at)):
            exact.setdefault((utc(p.start_at), "t", _norm(p.title)), p)
            if p.source_programme_id:
                exact.setdefault((utc(p.start_at), "s", p.source_programme_id), p)
        pairs, taken = [], set()
        for st in page:
            start, spid = utc(st.start_at), st.data.get("source_programme_id")
            old = exact.get((start, "s", spid)) if spid else None
            old = old or exact.get((start, "t", _norm(st.data.get("title") or "")))
            if old is not None and old.id not in taken:
                taken.add(old.id)
                pairs.append({"position": st.position, "programme_id": old.id})
        _set_staged(db_session, import_id, pairs)


def _match_near(db_session, import_id: str, channel_id: str, lo: dt.datetime, hi: dt.datetime,  # noqa: ANN001
                now: dt.datetime) -> None:
    """Pair each staged programme left with the nearest free existing one within MOVE_WINDOW with
    the same source id (or, without one, title). Programmes outside the span may take part only if
    they have not started: an aired programme never moves into the future."""
    for page in _pages(db_session, import_id, channel_id, unmatched=True):
        first, last = utc(page[0].start_at), utc(page[-1].start_at)
        taken = set(db_session.scalars(select(StagedProgramme.programme_id).where(
            StagedProgramme.import_id == import_id, StagedProgramme.programme_id.is_not(None),
            StagedProgramme.start_at >= first - 2 * MOVE_WINDOW, StagedProgramme.start_at <= last + 2 * MOVE_WINDOW)))
        free = [p for p in _near_programmes(db_session, channel_id, first - MOVE_WINDOW, last + MOVE_WINDOW)
                if p.id not in taken and (lo <= utc(p.start_at) < hi or (p.status == "scheduled"
                                                                          and utc(p.start_at) > now))]
        pairs = []
        for st in page:
            start, spid, title = utc(st.start_at), st.data.get("source_programme_id"), _norm(st.data.get("title") or "")

            def same(p: Programme) -> bool:
                if spid and p.source_programme_id:
                    return p.source_programme_id == spid
                return _norm(p.title) == title

            near = [p for p in free if same(p) and abs(utc(p.start_at) - start) <= MOVE_WINDOW]
            if near:
                old = min(near, key=lambda p: abs(utc(p.start_at) - start))
                free.remove(old)
                pairs.append({"position": st.position, "programme_id": old.id})
        _set_staged(db_session, import_id, pairs)


def _apply(db_session, import_id: str, channel_id: str, source_id: str, report: _Report,  # noqa: ANN001
           now: dt.datetime) -> None:
    """Add the staged programmes that matched none, and update the matched ones that changed."""
    for page in _pages(db_session, import_id, channel_id):
        matched = {p.id: p for p in db_session.scalars(select(Programme).where(
            Programme.id.in_([st.programme_id for st in page if st.programme_id])))}
        added = []
        for st in page:
            new = _programme_fields({"start_at": utc(st.start_at), "end_at": utc(st.end_at), **st.data})
            old = matched.get(st.programme_id) if st.programme_id else None
            if old is None:
                pid = new_id()
                db_session.add(Programme(id=pid, channel_id=channel_id, source_id=source_id, status="scheduled",
                                         **new))
                added.append({"position": st.position, "programme_id": pid})
                report.counts["added"] += 1
            elif old.fingerprint == new["fingerprint"] and old.status == "scheduled":
                report.counts["unchanged"] += 1
            else:
                for key, value in new.items():
                    setattr(old, key, value)
                old.status, old.source_id, old.updated_at = "scheduled", source_id, now
                report.counts["updated"] += 1
        db_session.flush()
        _set_staged(db_session, import_id, added)


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
