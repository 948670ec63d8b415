"""What players see of the VOD catalogue: lists, search, browse rows, details, continue watching.

Every read filters with vod.visible_query at the current time, so nothing here needs a job to
open or close a window; the browse rows every subscriber shares are the one thing kept
(catalog/vod/cache.py: until the next catalogue change, at most 30 s). Cards are built from two
queries per page (titles, then their texts).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from catalog.vod import cache as vod_cache
from catalog.vod import search as vod_search
from catalog.vod import service as vod
from catalog.vod.admin import image_urls
from catalog.vod.errors import PositionNotFound, TitleNotFound, TitleNotPlayable
from catalog.vod.models import Title, TitleGenre, TitleText, WatchPosition
from catalog.vod.schemas import (
    PositionIn,
    PositionRead,
    TextIn,
    VodCard,
    VodDetails,
    VodPage,
    VodRow,
    VodRows,
)
from entitlements.accounts import service as entitlements_service
from infra.db import utc

PREFERRED = ("pol", "eng")  # the card's language when the player asks for none or one we lack
ROW_SIZE = 20
# What a card does not show: not read (nor JSON-decoded) for the hundreds of cards of a browse.
CARD_SKIPS = (defer(Title.credits), defer(Title.countries), defer(Title.device_types))
TOP_GENRES = 8
FINISHED_MAX_S, FINISHED_SHARE = 60, 0.05
# A list counts at most this many titles past its page (ten pages): an exact count of a big genre reads every
# title in it (25 ms at 50,000 on PostgreSQL), and "220+" tells a player as much.
COUNT_AHEAD = 200
TOP_GENRES_TTL_S = 300.0
SHARED_ROWS_TTL_S = 30.0


def _texts(db_session: Session, ids: list[str]) -> dict[str, dict[str, TitleText]]:
    out: dict[str, dict[str, TitleText]] = {}
    for row in db_session.scalars(select(TitleText).where(TitleText.title_id.in_(ids))):
        out.setdefault(row.title_id, {})[row.language] = row
    return out


def _pick(texts: dict[str, TitleText], lang: str | None) -> TitleText | None:
    for language in ((lang,) if lang else ()) + PREFERRED:
        if language in texts:
            return texts[language]
    return next(iter(texts.values()), None)


def _image_urls(images: dict) -> dict[str, dict[str, str]]:
    return {kind: img.urls for kind, img in image_urls(images).items()}


def card_fields(title: Title, texts: dict[str, TitleText], lang: str | None) -> dict:
    """Return the fields of a title's card in a language (falling back to Polish, English, any)."""
    text = _pick(texts, lang)
    return dict(id=title.id, kind=title.kind, parent_id=title.parent_id, position=title.position,
                title=text.title if text else (title.original_title or title.id),
                short_synopsis=text.short_synopsis if text else None, year=title.year,
                genres=title.genres or [], age_rating=title.age_rating, duration_s=title.duration_s,
                images=_image_urls(title.images), published_at=utc(title.published_at))


def cards(*, db_session: Session, titles: list[Title], lang: str | None) -> list[VodCard]:
    """Return the cards of titles, in order."""
    texts = _texts(db_session, [t.id for t in titles])
    return [VodCard(**card_fields(t, texts.get(t.id, {}), lang)) for t in titles]


def _filtered(now: dt.datetime, kind: str | None, genre: str | None, year: int | None, max_age: str | None):  # noqa: ANN202
    query = vod.visible_query(now, (kind,) if kind else vod.TOP_KINDS)
    if genre is not None:
        query = query.where(Title.id.in_(select(TitleGenre.title_id).where(TitleGenre.genre == genre)))
    if year is not None:
        query = query.where(Title.year == year)
    if max_age is not None:
        # An unrated title is left out: a parent who asked for "up to 12" gets what is known to fit.
        query = query.where(Title.age_rating.in_([r for r, n in vod.AGE_RATINGS.items()
                                                  if n <= vod.AGE_RATINGS[max_age]]))
    return query


def browse(*, db_session: Session, now: dt.datetime, q: str | None, kind: str | None, genre: str | None,
           year: int | None, max_age: str | None, lang: str | None, offset: int, limit: int) -> VodPage:
    """Return a page of visible titles, newest first, or best match first when searching."""
    query = _filtered(now, kind, genre, year, max_age)
    capped = False
    if q is not None:
        ids, total, capped = vod_search.search(db_session=db_session, base=query, q=q, offset=offset, limit=limit)
        found = {t.id: t for t in db_session.scalars(select(Title).options(*CARD_SKIPS).where(Title.id.in_(ids)))}
        titles = [found[i] for i in ids]
    else:
        counted = query.with_only_columns(Title.id).limit(offset + limit + COUNT_AHEAD + 1).subquery()
        total = db_session.scalar(select(func.count()).select_from(counted))
        if total > offset + limit + COUNT_AHEAD:
            total, capped = offset + limit + COUNT_AHEAD, True
        titles = list(db_session.scalars(query.options(*CARD_SKIPS).order_by(Title.published_at.desc(), Title.id)
                                         .offset(offset).limit(limit)))
    return VodPage(items=cards(db_session=db_session, titles=titles, lang=lang), total=total or 0,
                   offset=offset, limit=limit, total_is_lower_bound=capped)


def top_genres(*, db_session: Session) -> list[str]:
    """Return the genres with the most titles (of any status), counted again after any catalogue change."""
    # One index-only pass over every title's genres (15 ms at 50,000 on PostgreSQL) for a ranking
    # that changes only when a title does.
    return vod_cache.cached(db_session=db_session, name="top_genres", ttl_s=TOP_GENRES_TTL_S, compute=lambda: list(
        db_session.scalars(select(TitleGenre.genre).group_by(TitleGenre.genre)
                           .order_by(func.count().desc(), TitleGenre.genre).limit(TOP_GENRES))))


def _shared_rows(db_session: Session, now: dt.datetime) -> list[tuple[str, str, str | None, list[Title]]]:
    newest = vod.visible_query(now).options(*CARD_SKIPS).order_by(Title.published_at.desc(), Title.id).limit(ROW_SIZE)
    found = [("new", "new", None, list(db_session.scalars(newest)))]
    for genre in top_genres(db_session=db_session):
        # EXISTS, not IN: the newest titles are walked in index order and each checked, rather
        # than the whole genre fetched and sorted.
        in_genre = newest.where(exists().where(TitleGenre.genre == genre, TitleGenre.title_id == Title.id))
        found.append((f"genre:{genre}", "genre", genre, list(db_session.scalars(in_genre))))
    return found


def _rows(db_session: Session, found: list[tuple[str, str, str | None, list[Title]]], lang: str | None) -> list[VodRow]:
    # The cards' texts of every row in one query, not one per row.
    texts = _texts(db_session, list({t.id for *_, titles in found for t in titles}))
    return [VodRow(id=row_id, kind=kind, genre=genre,
                   items=[VodCard(**card_fields(t, texts.get(t.id, {}), lang)) for t in titles])
            for row_id, kind, genre, titles in found if titles]


def rows(*, db_session: Session, now: dt.datetime, subscriber_id: str, lang: str | None) -> VodRows:
    """Return the browse rows: continue watching, new, then one per big genre (empty rows left out)."""
    # The rows every subscriber shares (new, genres: ~180 cards, 30 ms to build at 50,000 titles)
    # are built once per catalogue change and language, and at most every SHARED_ROWS_TTL_S.
    shared = vod_cache.cached(db_session=db_session, name=f"rows:{lang}", ttl_s=SHARED_ROWS_TTL_S,
                              compute=lambda: _rows(db_session, _shared_rows(db_session, now), lang))
    watching = continue_watching(db_session=db_session, now=now, subscriber_id=subscriber_id)
    return VodRows(rows=_rows(db_session, [("continue_watching", "continue_watching", None, watching)], lang)
                   + shared)


def visible_title(*, db_session: Session, now: dt.datetime, title_id: str) -> tuple[Title, list[Title]]:
    """Return a title players may see now and its lineage, or raise TitleNotFound (drafts never show)."""
    title = db_session.get(Title, title_id)
    chain = vod.lineage(db_session=db_session, title=title) if title is not None else []
    if not chain or not vod.visible(chain, now):
        raise TitleNotFound(f"no title {title_id!r}", title_id=title_id)
    return title, chain


def details(*, db_session: Session, now: dt.datetime, title_id: str, subscriber_id: str,
            lang: str | None) -> VodDetails:
    """Return a title's details for a subscriber: texts, children, rights, entitlement, resume point."""
    title, chain = visible_title(db_session=db_session, now=now, title_id=title_id)
    texts = _texts(db_session, [title.id]).get(title.id, {})
    # Ids first: with most titles top-level, SQLite's statistics make parent_id look unselective.
    child_ids = list(db_session.scalars(select(Title.id).where(Title.parent_id == title.id)))
    children = list(db_session.scalars(select(Title).where(Title.id.in_(child_ids), vod.visible_clause(Title, now))
                                       .order_by(Title.position.is_(None), Title.position, Title.id)))
    rights = vod.effective_rights(db_session=db_session, chain=chain)
    sub = entitlements_service.get_subscriber(db_session=db_session, subscriber_id=subscriber_id)
    held = {p.code for _, p in entitlements_service.active_packages(db_session=db_session, subscriber_id=sub.id, at=now)}
    entitled = sub.status == "active" and (not rights.packages or bool(rights.packages & held))
    position = db_session.get(WatchPosition, (subscriber_id, title.id))
    return VodDetails(
        **card_fields(title, texts, lang), original_title=title.original_title, countries=title.countries or [],
        credits=title.credits or [], children=cards(db_session=db_session, titles=children, lang=lang),
        texts={k: TextIn(title=t.title, synopsis=t.synopsis, short_synopsis=t.short_synopsis)
               for k, t in texts.items() if lang is None or k == lang},
        device_types=sorted(rights.device_types) if rights.device_types is not None else None,
        entitled=entitled, packages=sorted(rights.packages),
        watch_position=_position_read(position) if position else None)


# -- continue watching --------------------------------------------------------------------------
def is_finished(position_s: int, duration_s: int | None, reported: bool) -> bool:
    """Tell whether a position ends a title: reported so, or within min(5%, 60 s) of the end."""
    if reported:
        return True
    if not duration_s:
        return False
    return duration_s - position_s <= min(FINISHED_SHARE * duration_s, FINISHED_MAX_S)


def _position_read(row: WatchPosition) -> PositionRead:
    return PositionRead(title_id=row.title_id, position_s=row.position_s, duration_s=row.duration_s,
                        finished=row.finished, updated_at=utc(row.updated_at))


def save_position(*, db_session: Session, now: dt.datetime, subscriber_id: str, device_id: str, title_id: str,
                  body: PositionIn) -> PositionRead:
    """Record where a subscriber stopped in a title (the latest report wins, from any device)."""
    title, _ = visible_title(db_session=db_session, now=now, title_id=title_id)
    if title.kind in vod.CONTAINERS:
        raise TitleNotPlayable(f"a {title.kind} is not played itself; report its episodes", title_id=title_id)
    duration = body.duration_s or title.duration_s
    values = dict(position_s=min(body.position_s, duration) if duration else body.position_s,
                  duration_s=duration, finished=is_finished(body.position_s, duration, body.finished),
                  device_id=device_id, updated_at=now)
    insert = pg_insert if db_session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # One statement, so two devices reporting at once never collide on the primary key.
    upsert = insert(WatchPosition).values(subscriber_id=subscriber_id, title_id=title_id, **values)
    db_session.execute(upsert.on_conflict_do_update(index_elements=["subscriber_id", "title_id"], set_=values))
    return PositionRead(title_id=title_id, position_s=values["position_s"], duration_s=duration,
                        finished=values["finished"], updated_at=now)


def get_position(*, db_session: Session, now: dt.datetime, subscriber_id: str, title_id: str) -> PositionRead:
    """Return where a subscriber stopped in a title players may see, or raise PositionNotFound."""
    visible_title(db_session=db_session, now=now, title_id=title_id)
    row = db_session.get(WatchPosition, (subscriber_id, title_id))
    if row is None:
        raise PositionNotFound("no position saved for this title", title_id=title_id)
    return _position_read(row)


def continue_watching(*, db_session: Session, now: dt.datetime, subscriber_id: str,
                      limit: int = ROW_SIZE) -> list[Title]:
    """Return the titles a subscriber started and did not finish, most recent first, visible ones only."""
    query = (vod.visible_query(now, vod.KINDS).join(WatchPosition, WatchPosition.title_id == Title.id)
             .where(WatchPosition.subscriber_id == subscriber_id, WatchPosition.finished.is_(False))
             .order_by(WatchPosition.updated_at.desc()).limit(limit))
    return list(db_session.scalars(query))
