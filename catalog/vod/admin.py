"""Content ops on VOD titles: create, describe, sell, publish, delete; every change audited.

Each change bumps the title's version and writes one TitleChange row (who, when, what, with
[before, after] per field) in the same transaction, so a refused request leaves neither.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from catalog.vod import search as vod_search
from catalog.vod import service as vod
from catalog.vod.errors import (
    InvalidParent,
    InvalidWindow,
    TitleExists,
    TitleNotFound,
    TitleNotPlayable,
    TitleVersionMismatch,
    UnknownAsset,
)
from catalog.vod.models import Title, TitleChange, TitleGenre, TitlePackage, TitleText
from catalog.vod.schemas import (
    ImageRead,
    PackagesIn,
    TextIn,
    TitleChangeRead,
    TitleCreate,
    TitleRead,
    TitleUpdate,
)
from entitlements.packages import service as packages_service
from entitlements.packages.errors import UnknownPackage
from infra.db import utc
from infra.runtime import Runtime, run_after_commit
from streaming.vod import service as streaming_service

IMAGE_ROUTE = "/v1/vod/images/"
_REINDEX = {"original_title", "credits"}


def actor_of(key: Any) -> str:  # noqa: ANN401 - an infra.staff.StaffApiKey
    """Return how the audit log names a staff key: its name and id."""
    return f"{key.name} ({key.id})"


def _plain(value: Any) -> Any:  # noqa: ANN401
    return utc(value).isoformat() if isinstance(value, dt.datetime) else value


def record(*, db_session: Session, title_id: str, actor: str, action: str, changes: dict | None = None) -> None:
    """Append one change to a title's history."""
    db_session.add(TitleChange(title_id=title_id, at=vod.now_utc(), actor=actor, action=action,
                               changes={k: [_plain(a), _plain(b)] for k, (a, b) in (changes or {}).items()}))


def touch(title: Title, if_match: int | None) -> None:
    """Refuse a change made to another version than the current one; else bump the version."""
    if if_match is not None and if_match != title.version:
        raise TitleVersionMismatch(f"title {title.id!r} is at version {title.version}, not {if_match}",
                                   version=title.version)
    title.version += 1
    title.updated_at = vod.now_utc()


def image_urls(images: dict) -> dict[str, ImageRead]:
    """Return the API view of a title's stored images, with URLs players fetch."""
    return {kind: ImageRead(kind=kind, hash=img["hash"], width=img["width"], height=img["height"],
                            urls={w: IMAGE_ROUTE + key.removeprefix("vod-images/") for w, key in img["keys"].items()})
            for kind, img in (images or {}).items()}


def to_reads(*, db_session: Session, titles: list[Title]) -> list[TitleRead]:
    """Return the staff view of titles, with texts and packages (two queries for all of them)."""
    ids = [t.id for t in titles]
    texts: dict[str, dict[str, TextIn]] = {}
    for row in db_session.scalars(select(TitleText).where(TitleText.title_id.in_(ids))):
        texts.setdefault(row.title_id, {})[row.language] = TextIn(
            title=row.title, synopsis=row.synopsis, short_synopsis=row.short_synopsis)
    packages = vod.title_packages(db_session=db_session, title_ids=ids)
    return [TitleRead(
        id=t.id, kind=t.kind, parent_id=t.parent_id, position=t.position, status=t.status,
        original_title=t.original_title, year=t.year, countries=t.countries or [], genres=t.genres or [],
        credits=t.credits or [], duration_s=t.duration_s, age_rating=t.age_rating,
        available_from=utc(t.available_from), available_to=utc(t.available_to), device_types=t.device_types,
        download=t.download, asset_id=t.asset_id, texts=texts.get(t.id, {}), packages=packages.get(t.id, []),
        images=image_urls(t.images), published_at=utc(t.published_at), version=t.version,
        created_at=utc(t.created_at), updated_at=utc(t.updated_at)) for t in titles]


def to_read(*, db_session: Session, title: Title) -> TitleRead:
    """Return the staff view of one title."""
    return to_reads(db_session=db_session, titles=[title])[0]


def _check_parent(db_session: Session, kind: str, parent_id: str | None) -> None:
    allowed = vod.PARENT_KINDS.get(kind, ())
    if parent_id is None:
        if kind == "season":
            raise InvalidParent("a season needs a parent series (parent_id)")
        return
    if not allowed:
        raise InvalidParent(f"a {kind} has no parent", kind=kind)
    parent = db_session.get(Title, parent_id)
    if parent is None or parent.kind not in allowed:
        raise InvalidParent(f"the parent of a {kind} must be a {' or a '.join(allowed)}", parent_id=parent_id)


def _set_genres(db_session: Session, title: Title) -> None:
    db_session.execute(delete(TitleGenre).where(TitleGenre.title_id == title.id))
    if title.genres:
        db_session.execute(insert(TitleGenre), [{"genre": g, "title_id": title.id} for g in title.genres])


def create(*, db_session: Session, body: TitleCreate, actor: str) -> Title:
    """Create a draft title with its texts."""
    if db_session.get(Title, body.id) is not None:
        raise TitleExists(f"title {body.id!r} exists", title_id=body.id)
    _check_parent(db_session, body.kind, body.parent_id)
    fields = body.model_dump(exclude={"texts", "credits"})
    now = vod.now_utc()
    title = Title(**fields, credits=[c.model_dump() for c in body.credits], status="draft", images={},
                  version=1, created_at=now, updated_at=now)
    db_session.add(title)
    db_session.flush()
    for language, text in body.texts.items():
        db_session.add(TitleText(title_id=title.id, language=language, **text.model_dump()))
    db_session.flush()
    _set_genres(db_session, title)
    vod_search.reindex(db_session=db_session, title=title)
    record(db_session=db_session, title_id=title.id, actor=actor, action="created",
           changes={k: [None, v] for k, v in body.model_dump(mode="json").items() if v not in (None, [], {})})
    return title


def update(*, db_session: Session, title_id: str, body: TitleUpdate, actor: str, if_match: int | None) -> Title:
    """Change the fields sent; an end of window before its start is refused."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    sent = body.model_dump(exclude_unset=True)
    if "credits" in sent:
        sent["credits"] = [c.model_dump() for c in body.credits]
    start = sent.get("available_from", utc(title.available_from))
    end = sent.get("available_to", utc(title.available_to))
    if start is not None and end is not None and end <= start:
        raise InvalidWindow("available_to must be after available_from",
                            available_from=_plain(start), available_to=_plain(end))
    changes = {k: (getattr(title, k), v) for k, v in sent.items() if _plain(getattr(title, k)) != _plain(v)}
    if not changes:
        return title
    touch(title, if_match)
    for key, (_, value) in changes.items():
        setattr(title, key, value)
    db_session.flush()
    if "genres" in changes:
        _set_genres(db_session, title)
    if _REINDEX & changes.keys():
        vod_search.reindex(db_session=db_session, title=title)
    record(db_session=db_session, title_id=title.id, actor=actor, action="updated", changes=changes)
    return title


def set_text(*, db_session: Session, title_id: str, language: str, body: TextIn | None, actor: str,
             if_match: int | None) -> Title:
    """Set (or, with body None, remove) a title's texts in one language."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    row = db_session.get(TitleText, (title_id, language))
    before = {"title": row.title, "synopsis": row.synopsis, "short_synopsis": row.short_synopsis} if row else None
    after = body.model_dump() if body else None
    if before == after:
        return title
    if row is not None and body is None:
        db_session.delete(row)
    elif row is None:
        db_session.add(TitleText(title_id=title_id, language=language, **after))
    else:
        for key, value in after.items():
            setattr(row, key, value)
    touch(title, if_match)
    db_session.flush()
    vod_search.reindex(db_session=db_session, title=title)
    record(db_session=db_session, title_id=title_id, actor=actor, action="texts",
           changes={f"texts.{language}": (before, after)})
    return title


def set_packages(*, db_session: Session, title_id: str, body: PackagesIn, actor: str,
                 if_match: int | None) -> Title:
    """Replace the packages that grant a title; unknown codes are refused, nothing changes."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    wanted = sorted(set(body.packages))
    known = packages_service.existing_codes(db_session=db_session, codes=wanted)
    if missing := [c for c in wanted if c not in known]:
        raise UnknownPackage(f"no package(s) {', '.join(missing)}", packages=missing)
    before = vod.title_packages(db_session=db_session, title_ids=[title_id]).get(title_id, [])
    if before == wanted:
        return title
    db_session.execute(delete(TitlePackage).where(TitlePackage.title_id == title_id))
    if wanted:
        db_session.execute(insert(TitlePackage), [{"title_id": title_id, "package_code": c} for c in wanted])
    touch(title, if_match)
    record(db_session=db_session, title_id=title_id, actor=actor, action="packages",
           changes={"packages": (before, wanted)})
    return title


def set_asset(*, db_session: Session, title_id: str, asset_id: str | None, actor: str,
              if_match: int | None) -> Title:
    """Attach a media asset to a title (None detaches it; a published title must stay playable)."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    if title.kind in vod.CONTAINERS:
        raise TitleNotPlayable(f"a {title.kind} holds other titles and plays nothing itself", title_id=title_id)
    if asset_id is not None and streaming_service.asset_state(db_session=db_session, asset_id=asset_id) is None:
        raise UnknownAsset(f"no media asset {asset_id!r}", asset_id=asset_id)
    if asset_id == title.asset_id:
        return title
    if asset_id is None and title.status == "published":
        raise TitleNotPlayable("unpublish the title before detaching its asset", title_id=title_id)
    touch(title, if_match)
    record(db_session=db_session, title_id=title_id, actor=actor, action="asset",
           changes={"asset_id": (title.asset_id, asset_id)})
    title.asset_id = asset_id
    db_session.flush()
    return title


def publish(*, db_session: Session, title_id: str, actor: str) -> Title:
    """Publish a title: a movie, episode or show needs a ready asset; the first time sets published_at."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    if title.status == "published":
        return title
    if title.kind not in vod.CONTAINERS:
        state = (streaming_service.asset_state(db_session=db_session, asset_id=title.asset_id)
                 if title.asset_id else None)
        if state is None or state[0] != "ready":
            reason = "it has no asset" if title.asset_id is None else f"its asset is {state[0] if state else 'gone'}"
            raise TitleNotPlayable(f"title {title_id!r} cannot be published: {reason}", title_id=title_id,
                                   asset_id=title.asset_id, asset_state=state[0] if state else None)
    changes: dict = {"status": (title.status, "published")}
    if title.published_at is None:
        changes["published_at"] = (None, vod.now_utc())
        title.published_at = changes["published_at"][1]
    touch(title, None)
    title.status = "published"
    record(db_session=db_session, title_id=title_id, actor=actor, action="published", changes=changes)
    db_session.flush()
    return title


def unpublish(*, db_session: Session, title_id: str, actor: str) -> Title:
    """Take a title away from players (it keeps its published_at for when it returns)."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    if title.status != "published":
        return title
    touch(title, None)
    record(db_session=db_session, title_id=title_id, actor=actor, action="unpublished",
           changes={"status": ("published", "unpublished")})
    title.status = "unpublished"
    db_session.flush()
    return title


def delete_title(rt: Runtime, *, db_session: Session, title_id: str, actor: str) -> None:
    """Delete a title and what is below it; their image objects go once the deletion is committed."""
    title = vod.get_title(db_session=db_session, title_id=title_id)
    doomed, frontier = [title], [title.id]
    while frontier:
        children = list(db_session.scalars(select(Title).where(Title.parent_id.in_(frontier))))
        doomed += children
        frontier = [c.id for c in children]
    keys = [k for t in doomed for img in (t.images or {}).values() for k in img["keys"].values()]
    for t in doomed:
        record(db_session=db_session, title_id=t.id, actor=actor, action="deleted",
               changes={"status": (t.status, None)})
    db_session.execute(delete(Title).where(Title.id.in_([t.id for t in doomed])))
    db_session.flush()
    if keys:
        run_after_commit(db_session, lambda: rt.store.delete_many(keys))


def list_titles(*, db_session: Session, kind: str | None, status: str | None, parent_id: str | None,
                genre: str | None, q: str | None, offset: int, limit: int) -> tuple[list[Title], int]:
    """Return a page of titles for staff (any status), newest first, and the total."""
    query = select(Title)
    for column, value in ((Title.kind, kind), (Title.status, status), (Title.parent_id, parent_id)):
        if value is not None:
            query = query.where(column == value)
    if genre is not None:
        query = query.where(Title.id.in_(select(TitleGenre.title_id).where(TitleGenre.genre == genre)))
    if q:
        ids, total, _ = vod_search.search(db_session=db_session, base=query, q=q, offset=offset, limit=limit)
        found = {t.id: t for t in db_session.scalars(select(Title).where(Title.id.in_(ids)))}
        return [found[i] for i in ids], total
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db_session.scalars(query.order_by(Title.created_at.desc(), Title.id).offset(offset).limit(limit))
    return list(rows), total


def history(*, db_session: Session, title_id: str, offset: int, limit: int) -> tuple[list[TitleChangeRead], int]:
    """Return a title's changes, oldest first (kept after the title is deleted)."""
    where = TitleChange.title_id == title_id
    total = db_session.scalar(select(func.count()).select_from(TitleChange).where(where)) or 0
    if total == 0:
        raise TitleNotFound(f"no title {title_id!r}", title_id=title_id)
    rows = db_session.scalars(select(TitleChange).where(where).order_by(TitleChange.id).offset(offset).limit(limit))
    return [TitleChangeRead(id=r.id, title_id=r.title_id, at=utc(r.at), actor=r.actor, action=r.action,
                            changes=r.changes) for r in rows], total
