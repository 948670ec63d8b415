"""Guide sources, the imports queued for them, and the programmes they give each channel.

The database says what should happen: an import row is queued by an upload, a file or a
source's schedule, and the periodic job `catalog.run_guide_imports` claims and runs it (a
worker that dies leaves the row to be claimed again). Services take ``db_session`` and never
commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from catalog.channels.models import Channel
from catalog.guide.errors import (
    EpgImportNotFound,
    EpgSourceExists,
    EpgSourceNotFound,
    InvalidEpgSource,
)
from catalog.guide.fetch import FetchAllow, check_url
from catalog.guide.models import EpgImport, EpgSource, StagedProgramme
from catalog.guide.schemas import EpgSourceBody, EpgSourceCreate
from infra.db import new_id

STALE_CLAIM = dt.timedelta(minutes=30)  # a running import not finished by then is run again
# Runs an import gets: one whose runner dies every time (killed by the guide) then fails for good.
MAX_TRIES = 3
UPLOAD_PREFIX = "epg/uploads/"


def _check_map(db_session: Session, channel_map: dict[str, str]) -> None:
    wanted = set(channel_map.values())
    found = set(db_session.scalars(select(Channel.id).where(Channel.id.in_(wanted)))) if wanted else set()
    if wanted - found:
        raise InvalidEpgSource(f"channel_map names unknown channels: {sorted(wanted - found)[:10]}",
                               channels=sorted(wanted - found)[:50])


def _check_url(url: str | None, fetch_allow: FetchAllow) -> None:
    if url is None:
        return
    try:
        check_url(url, fetch_allow)
    except ValueError as err:
        raise InvalidEpgSource(f"url: {err}", field="url") from err


def create_source(*, db_session: Session, source_in: EpgSourceCreate,
                  fetch_allow: FetchAllow = FetchAllow()) -> EpgSource:
    """Create a guide source (a URL naming an internal address staff do not allow is refused)."""
    if db_session.get(EpgSource, source_in.id) is not None:
        raise EpgSourceExists(f"guide source {source_in.id!r} exists", source_id=source_in.id)
    _check_map(db_session, source_in.channel_map)
    _check_url(source_in.url, fetch_allow)
    source = EpgSource(**source_in.model_dump())
    db_session.add(source)
    db_session.flush()
    return source


def get_source(*, db_session: Session, source_id: str) -> EpgSource:
    """Return a guide source or raise EpgSourceNotFound."""
    source = db_session.get(EpgSource, source_id)
    if source is None:
        raise EpgSourceNotFound(f"no guide source {source_id!r}", source_id=source_id)
    return source


def list_sources(*, db_session: Session) -> list[EpgSource]:
    """Return every guide source."""
    return list(db_session.scalars(select(EpgSource).order_by(EpgSource.id)))


def replace_source(*, db_session: Session, source_id: str, body: EpgSourceBody,
                   fetch_allow: FetchAllow = FetchAllow()) -> EpgSource:
    """Replace a source's settings."""
    source = get_source(db_session=db_session, source_id=source_id)
    _check_map(db_session, body.channel_map)
    _check_url(body.url, fetch_allow)
    for key, value in body.model_dump().items():
        setattr(source, key, value)
    db_session.flush()
    return source


def delete_source(*, db_session: Session, source_id: str) -> None:
    """Delete a source and its import history (its programmes stay on the guide)."""
    db_session.delete(get_source(db_session=db_session, source_id=source_id))
    db_session.flush()


def queue_import(*, db_session: Session, source_id: str, origin: str, object_key: str | None = None,
                 import_id: str | None = None, claimed: bool = False) -> EpgImport:
    """Queue an import of a source (from its URL, or from a guide already in storage); claimed,
    it is created as taken by the caller, which runs it itself (the CLI, the demo)."""
    source = get_source(db_session=db_session, source_id=source_id)
    if origin == "url" and not source.url:
        raise InvalidEpgSource(f"guide source {source_id!r} has no URL to fetch", source_id=source_id)
    imp = EpgImport(id=import_id or new_id(), source_id=source.id, origin=origin, object_key=object_key,
                    status="running" if claimed else "queued", report={},
                    claimed_at=dt.datetime.now(dt.UTC) if claimed else None)
    db_session.add(imp)
    db_session.flush()
    return imp


def get_import(*, db_session: Session, import_id: str, source_id: str | None = None) -> EpgImport:
    """Return an import (of the given source) or raise EpgImportNotFound."""
    imp = db_session.get(EpgImport, import_id)
    if imp is None or (source_id is not None and imp.source_id != source_id):
        raise EpgImportNotFound(f"no guide import {import_id!r}", import_id=import_id)
    return imp


def list_imports(*, db_session: Session, source_id: str, offset: int, limit: int) -> tuple[list[EpgImport], int]:
    """Return a source's imports, newest first, and how many there are."""
    get_source(db_session=db_session, source_id=source_id)
    query = select(EpgImport).where(EpgImport.source_id == source_id)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db_session.scalars(query.order_by(EpgImport.created_at.desc(), EpgImport.id).offset(offset).limit(limit))
    return list(rows), total


def queue_due_refreshes(*, db_session: Session, now: dt.datetime) -> list[str]:
    """Queue a URL import for every enabled source whose refresh interval has passed."""
    queued = []
    for source in db_session.scalars(select(EpgSource).where(
            EpgSource.enabled.is_(True), EpgSource.url.is_not(None), EpgSource.refresh_every_s.is_not(None))):
        last = source.last_import_at
        if last is not None and (last.replace(tzinfo=dt.UTC) if last.tzinfo is None else last) \
                + dt.timedelta(seconds=source.refresh_every_s) > now:
            continue
        pending = db_session.scalar(select(func.count()).select_from(EpgImport).where(
            EpgImport.source_id == source.id, EpgImport.status.in_(("queued", "running"))))
        if not pending:
            queued.append(queue_import(db_session=db_session, source_id=source.id, origin="url").id)
    return queued


def claim_next(*, db_session: Session, now: dt.datetime) -> str | None:
    """Claim the oldest queued import (or one whose runner died); return its id, or None. An import
    whose runner died MAX_TRIES times fails instead, with the reason."""
    stale = (EpgImport.status == "running") & (EpgImport.claimed_at < now - STALE_CLAIM)
    _give_up(db_session, stale & (EpgImport.tries >= MAX_TRIES), now)
    claimable = (or_(EpgImport.status == "queued", stale)) & (EpgImport.tries < MAX_TRIES)
    candidate = db_session.scalar(select(EpgImport.id).where(claimable).order_by(EpgImport.created_at).limit(1))
    if candidate is None:
        return None
    # The conditional update is the lock: of two runners, one changes the row, the other none.
    claimed = db_session.execute(update(EpgImport).where(EpgImport.id == candidate, claimable)
                                 .values(status="running", claimed_at=now, tries=EpgImport.tries + 1)).rowcount
    return candidate if claimed else None


def _give_up(db_session: Session, condition, now: dt.datetime) -> None:  # noqa: ANN001 - an SQL condition
    ids = list(db_session.scalars(select(EpgImport.id).where(condition).limit(100)))
    if not ids:
        return
    db_session.execute(delete(StagedProgramme).where(StagedProgramme.import_id.in_(ids)))
    db_session.execute(update(EpgImport).where(EpgImport.id.in_(ids), condition).values(
        status="failed", finished_at=now, report={},
        error=f"the import stopped {MAX_TRIES} times without finishing (its worker died or was stopped each time)"))
