"""VOD assets: the rows behind ingest (upload, queue, claim, progress, finish, cancel, retry).

Services take ``db_session`` and never commit. The database is the truth of what ingest should
do: a queued asset is transcoded, one whose worker stopped sending heartbeats is queued again,
so a lost job or a killed worker costs one reconcile pass (streaming/vod/jobs.py).
Other packages ask of an asset only its state and segment sets (`asset_state`, `asset_segment_sets`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infra.runtime import notify_after_commit
from infra.storage import ObjectStore
from streaming.vod.errors import AssetNotFound, AssetStateConflict
from streaming.vod.models import MediaAsset
from streaming.vod.subtitles import InvalidSubtitles

SOURCE_PREFIX = "vod-sources/"
ASSET_TOPIC = "vod.asset."  # a change players see (labels, subtitles): origins forget their copy
# A worker proves it still holds an asset this often; twice as long without, and it is taken back.
HEARTBEAT_S = 10
STALE_AFTER_S = 60
# Ingest runs an asset gets once queued (a worker killed by it, an error nobody foresaw) before it
# fails for good: a file that can never become a title must not be retried forever.
MAX_TRIES = 3
STATES = ("uploading", "queued", "processing", "ready", "failed", "cancelled")


class MezzanineMissing(AssetStateConflict):
    code = "MEZZANINE_MISSING"


def source_key(asset_id: str) -> str:
    """Return the object key of an asset's mezzanine (never built from the uploaded name)."""
    return f"{SOURCE_PREFIX}{asset_id}/source"


def clean_filename(name: str | None) -> str:
    """Return an uploaded file's name fit to show: no folders, no control characters, 200 characters at most."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip(" .")
    return base[:200] or "upload"


def get(*, db_session: Session, asset_id: str, lock: bool = False) -> MediaAsset:
    """Return an asset or raise AssetNotFound."""
    query = select(MediaAsset).where(MediaAsset.id == asset_id)
    row = db_session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise AssetNotFound(f"no asset {asset_id!r}", asset_id=asset_id)
    return row


def by_sha256(*, db_session: Session, sha256: str) -> MediaAsset | None:
    """Return the asset made from a file with this SHA-256, if any."""
    return db_session.scalar(select(MediaAsset).where(MediaAsset.sha256 == sha256))


def create(*, db_session: Session, asset_id: str, filename: str, size: int, sha256: str | None, created_by: str,
           now: dt.datetime, audio_labels: list[dict], state: str = "queued",
           segment_sets: tuple[str, ...] = ("cmaf",)) -> MediaAsset:
    """Record an uploaded mezzanine, queued for ingest (CMAF always; MPEG-TS too where asked)."""
    row = MediaAsset(id=asset_id, sha256=sha256, filename=clean_filename(filename), size=size,
                     source_key=source_key(asset_id), state=state, progress=0.0, attempt=0,
                     segment_sets=["cmaf", *(["ts"] if "ts" in segment_sets else [])],
                     audio_labels=audio_labels, subtitles=[], probe={}, manifest={}, created_by=created_by,
                     created_at=now)
    db_session.add(row)
    db_session.flush()
    return row


def list_assets(*, db_session: Session, state: str | None, offset: int, limit: int) -> tuple[list[MediaAsset], int]:
    """Return a page of assets, newest first, and the total."""
    query = select(MediaAsset)
    if state:
        query = query.where(MediaAsset.state == state)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db_session.scalars(query.order_by(MediaAsset.created_at.desc(), MediaAsset.id).offset(offset).limit(limit))
    return list(rows), total


def _waiting(now: dt.datetime):  # noqa: ANN202 - an SQL condition
    """Assets waiting for a worker: queued, or running with a worker gone silent."""
    stale = now - dt.timedelta(seconds=STALE_AFTER_S)
    return (MediaAsset.state == "queued") | ((MediaAsset.state == "processing") & (MediaAsset.heartbeat_at < stale))


def _claimable(now: dt.datetime):  # noqa: ANN202 - an SQL condition
    """Assets a worker may take: waiting, with tries left."""
    return _waiting(now) & (MediaAsset.tries < MAX_TRIES)


def claim(*, db_session: Session, asset_id: str, now: dt.datetime) -> MediaAsset | None:
    """Take a queued asset (or one whose worker went silent) for ingest; None if another holds it, it
    is done, or it has no tries left. The last try's error stays until this one ends."""
    taken = db_session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id, _claimable(now))
        .values(state="processing", heartbeat_at=now, progress=0.0, attempt=MediaAsset.attempt + 1,
                tries=MediaAsset.tries + 1)
        .execution_options(synchronize_session=False)).rowcount
    return get(db_session=db_session, asset_id=asset_id) if taken else None


def report_progress(*, db_session: Session, asset_id: str, attempt: int, progress: float, now: dt.datetime) -> bool:
    """Record progress and the worker's heartbeat; False when the asset was cancelled or taken back."""
    return bool(db_session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id, MediaAsset.state == "processing", MediaAsset.attempt == attempt)
        .values(progress=round(progress, 1), heartbeat_at=now)
        .execution_options(synchronize_session=False)).rowcount)


def finish(*, db_session: Session, asset_id: str, attempt: int, index: dict, probe: dict, now: dt.datetime) -> bool:
    """Make an ingested asset playable; False when it was cancelled or taken back meanwhile."""
    return bool(db_session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id, MediaAsset.state == "processing", MediaAsset.attempt == attempt)
        .values(state="ready", progress=100.0, manifest=index, probe=probe, duration_ms=index["duration_ms"],
                finished_at=now, heartbeat_at=None, error=None, error_code=None)
        .execution_options(synchronize_session=False)).rowcount)


def fail(*, db_session: Session, asset_id: str, attempt: int, code: str, message: str, probe: dict | None,
         now: dt.datetime) -> bool:
    """Record why ingest refused or failed an asset; False when it was cancelled or taken back meanwhile."""
    values = {"state": "failed", "error_code": code[:40], "error": message[:2000], "finished_at": now,
              "heartbeat_at": None}
    if probe is not None:
        values["probe"] = probe
    return bool(db_session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id, MediaAsset.state == "processing", MediaAsset.attempt == attempt)
        .values(**values).execution_options(synchronize_session=False)).rowcount)


def try_again_later(*, db_session: Session, asset_id: str, attempt: int, code: str, message: str,
                    now: dt.datetime, counts: bool) -> bool:
    """Leave a try that broke off to be taken again once its heartbeat is stale (that wait is the
    back-off), with why it broke off; a try that does not count (storage or the database was
    unavailable) is given back. False when the asset was cancelled or taken back meanwhile."""
    values = {"error_code": code[:40], "error": message[:2000], "heartbeat_at": now}
    if not counts:
        values["tries"] = MediaAsset.tries - 1
    return bool(db_session.execute(
        update(MediaAsset)
        .where(MediaAsset.id == asset_id, MediaAsset.state == "processing", MediaAsset.attempt == attempt)
        .values(**values).execution_options(synchronize_session=False)).rowcount)


def give_up(*, db_session: Session, now: dt.datetime) -> list[str]:
    """Fail the assets that would be taken again but have used their tries; return their ids."""
    rows = db_session.execute(select(MediaAsset.id, MediaAsset.error).where(
        _waiting(now), MediaAsset.tries >= MAX_TRIES).limit(100)).all()
    for asset_id, last_error in rows:
        message = f"ingest stopped {MAX_TRIES} times without finishing: " + (
            f"the last time, {last_error}" if last_error else "its worker died or was stopped each time")
        db_session.execute(update(MediaAsset).where(MediaAsset.id == asset_id).values(
            state="failed", error_code="INGEST_GAVE_UP", error=message[:2000], finished_at=now, heartbeat_at=None)
            .execution_options(synchronize_session=False))
    return [asset_id for asset_id, _ in rows]


def record_sha256(*, db_session: Session, asset_id: str, sha256: str) -> str | None:
    """Record the SHA-256 of an asset's mezzanine (learnt at ingest for multipart uploads); return the
    id of another asset made from the same file, if there is one (then nothing is recorded)."""
    twin = db_session.scalar(select(MediaAsset.id).where(MediaAsset.sha256 == sha256, MediaAsset.id != asset_id))
    if twin is None:
        db_session.execute(update(MediaAsset).where(MediaAsset.id == asset_id).values(sha256=sha256)
                           .execution_options(synchronize_session=False))
    return twin


def cancel(*, db_session: Session, asset_id: str, now: dt.datetime) -> MediaAsset:
    """Cancel a queued or running ingest (a running ffmpeg stops at its next progress report)."""
    row = get(db_session=db_session, asset_id=asset_id, lock=True)
    if row.state not in ("queued", "processing"):
        raise AssetStateConflict(f"an asset in state {row.state} cannot be cancelled"
                                 + (" (abort its upload instead)" if row.state == "uploading" else ""),
                                 state=row.state)
    row.state, row.finished_at, row.heartbeat_at = "cancelled", now, None
    db_session.flush()
    return row


def retry(*, db_session: Session, store: ObjectStore, asset_id: str) -> MediaAsset:
    """Queue a failed or cancelled asset again, with all its tries; refuse one whose file is not in
    storage (an aborted upload, a duplicate's): it can never be ingested."""
    row = get(db_session=db_session, asset_id=asset_id, lock=True)
    if row.state not in ("failed", "cancelled"):
        raise AssetStateConflict(f"an asset in state {row.state} cannot be retried", state=row.state)
    if not store.exists(row.source_key):
        raise MezzanineMissing("the asset has no uploaded file to ingest (its upload was aborted or not completed, "
                               "or it duplicated another asset): upload the file again", state=row.state,
                               error_code=row.error_code)
    row.state, row.progress, row.error, row.error_code, row.finished_at = "queued", 0.0, None, None, None
    row.tries = 0
    db_session.flush()
    return row


def to_ingest(*, db_session: Session, now: dt.datetime) -> list[str]:
    """Return the assets a worker should take now: queued ones, and running ones whose worker went
    silent, with tries left."""
    return list(db_session.scalars(select(MediaAsset.id).where(_claimable(now))
                                   .order_by(MediaAsset.created_at).limit(100)))


def check_takes_subtitles(row: MediaAsset) -> None:
    """Refuse subtitles for an asset that will never play (failed, cancelled)."""
    if row.state in ("failed", "cancelled"):
        raise AssetStateConflict(f"an asset in state {row.state} takes no subtitles", state=row.state)


def add_subtitles(*, db_session: Session, asset_id: str, language: str, label: str, cues: int) -> dict:
    """Record a WebVTT subtitle track of an asset (replacing one of the same language); return it."""
    row = get(db_session=db_session, asset_id=asset_id, lock=True)
    check_takes_subtitles(row)
    if len(row.subtitles) >= 20 and all(s["language"] != language for s in row.subtitles):
        raise InvalidSubtitles("an asset takes 20 subtitle tracks at most")
    track = {"name": f"subs-{language}", "language": language, "label": label, "cues": cues}
    row.subtitles = [s for s in row.subtitles if s["language"] != language] + [track]
    db_session.flush()
    notify_after_commit(db_session, ASSET_TOPIC + asset_id, {"kind": "subtitles"})
    return track


def set_audio_labels(*, db_session: Session, asset_id: str, labels: list[dict]) -> MediaAsset:
    """Replace how the asset's audio tracks are labelled (by position); players see it at once."""
    row = get(db_session=db_session, asset_id=asset_id, lock=True)
    row.audio_labels = labels
    db_session.flush()
    notify_after_commit(db_session, ASSET_TOPIC + asset_id, {"kind": "audio"})
    return row


def asset_state(*, db_session: Session, asset_id: str) -> tuple[str, int | None] | None:
    """Return a VOD asset's state and duration in ms (None: no such asset); "ready" plays."""
    row = db_session.execute(select(MediaAsset.state, MediaAsset.duration_ms)
                             .where(MediaAsset.id == asset_id)).first()
    return (row[0], row[1]) if row else None


def asset_segment_sets(*, db_session: Session, asset_id: str) -> tuple[str, ...]:
    """Return the segment sets a ready VOD asset holds (none when it is not ready).

    Read from the sets ingest was asked for (a ready asset has made them all), not from the
    index: the playback door asks on every request, and a film's index is tens of kilobytes.
    """
    row = db_session.execute(select(MediaAsset.state, MediaAsset.segment_sets)
                             .where(MediaAsset.id == asset_id)).first()
    return tuple(row[1]) if row is not None and row[0] == "ready" else ()
