"""VOD titles: what players may see now, the rights a title carries, and what the door asks.

A title is visible to players when it is published and now is inside its availability window,
and so is every title above it (an episode of an unpublished series is hidden). The window is
compared with the current time on every read: it opens and closes by itself, no job flips it.
An episode or season with no packages, device types or age rating of its own takes its
parent's (a series is sold as a whole).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from catalog.vod.errors import TitleNotFound
from catalog.vod.models import Title, TitlePackage
from infra.db import utc
from streaming.vod import service as streaming_service

KINDS = ("movie", "series", "season", "episode", "show")
TOP_KINDS = ("movie", "series", "show")  # what players browse; seasons and episodes are inside them
CONTAINERS = ("series", "season")  # hold other titles, play nothing themselves
PARENT_KINDS = {"season": ("series",), "episode": ("season", "series")}
AGE_RATINGS = {"AL": 0, "7": 7, "12": 12, "16": 16, "18": 18}  # the Polish scale


@dataclass(frozen=True)
class PlayableTitle:
    """What playback authorization needs to know about a title."""

    id: str
    asset_id: str | None
    available: bool
    packages: frozenset[str]
    device_types: frozenset[str] | None
    age_rating: int | None
    duration_s: int | None


def now_utc() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def get_title(*, db_session: Session, title_id: str) -> Title:
    """Return a title (any status) or raise TitleNotFound."""
    title = db_session.get(Title, title_id)
    if title is None:
        raise TitleNotFound(f"no title {title_id!r}", title_id=title_id)
    return title


def in_window(title: Title, now: dt.datetime) -> bool:
    """Tell whether now is inside the title's availability window."""
    start, end = utc(title.available_from), utc(title.available_to)
    return (start is None or start <= now) and (end is None or now < end)


def lineage(*, db_session: Session, title: Title) -> list[Title]:
    """Return the title and the titles above it, nearest first."""
    chain = [title]
    while chain[-1].parent_id is not None and len(chain) < 3:
        chain.append(db_session.get(Title, chain[-1].parent_id))
    return chain


def visible(chain: list[Title], now: dt.datetime) -> bool:
    """Tell whether players may see a title now (its lineage from lineage())."""
    return all(t.status == "published" and in_window(t, now) for t in chain)


def visible_clause(t, now: dt.datetime):  # noqa: ANN001, ANN201 - t is Title or an alias of it
    """Return the SQL condition of visible(), for one title row."""
    return and_(t.status == "published",
                or_(t.available_from.is_(None), t.available_from <= now),
                or_(t.available_to.is_(None), t.available_to > now))


def visible_query(now: dt.datetime, kinds: tuple[str, ...] = TOP_KINDS):  # noqa: ANN201
    """Return a select of visible titles of these kinds, their parents checked as well."""
    query = select(Title).where(visible_clause(Title, now), Title.kind.in_(kinds))
    if set(kinds) - set(TOP_KINDS):
        parent, grand = aliased(Title), aliased(Title)
        query = (query.outerjoin(parent, parent.id == Title.parent_id)
                 .outerjoin(grand, grand.id == parent.parent_id)
                 .where(or_(parent.id.is_(None), visible_clause(parent, now)),
                        or_(grand.id.is_(None), visible_clause(grand, now))))
    return query


def title_packages(*, db_session: Session, title_ids: list[str]) -> dict[str, list[str]]:
    """Return the package codes of each title (sorted; titles with none are absent)."""
    out: dict[str, list[str]] = {}
    for title_id, code in db_session.execute(select(TitlePackage.title_id, TitlePackage.package_code)
                                             .where(TitlePackage.title_id.in_(title_ids))
                                             .order_by(TitlePackage.package_code)):
        out.setdefault(title_id, []).append(code)
    return out


@dataclass(frozen=True)
class Rights:
    """A title's rights after inheritance: packages (empty: free), device types, age rating."""

    packages: frozenset[str]
    device_types: frozenset[str] | None
    age_rating: str | None


def effective_rights(*, db_session: Session, chain: list[Title]) -> Rights:
    """Return the rights of chain[0], each taken from the nearest title that sets it."""
    packages = title_packages(db_session=db_session, title_ids=[t.id for t in chain])
    codes = next((packages[t.id] for t in chain if t.id in packages), [])
    devices = next((t.device_types for t in chain if t.device_types is not None), None)
    rating = next((t.age_rating for t in chain if t.age_rating is not None), None)
    return Rights(frozenset(codes), frozenset(devices) if devices is not None else None, rating)


def titles_using_asset(*, db_session: Session, asset_id: str) -> list[str]:
    """Return the ids of the titles a media asset is attached to (any status)."""
    return list(db_session.scalars(select(Title.id).where(Title.asset_id == asset_id).order_by(Title.id)))


def title_for_playback(*, db_session: Session, title_id: str, now: dt.datetime) -> PlayableTitle:
    """Return what the door needs to authorize playing a title; a draft is TitleNotFound."""
    title = db_session.get(Title, title_id)
    if title is None or title.status == "draft":
        raise TitleNotFound(f"no title {title_id!r}", title_id=title_id)
    chain = lineage(db_session=db_session, title=title)
    rights = effective_rights(db_session=db_session, chain=chain)
    state = (streaming_service.asset_state(db_session=db_session, asset_id=title.asset_id)
             if title.asset_id else None)
    return PlayableTitle(
        id=title.id, asset_id=title.asset_id,
        available=visible(chain, utc(now)) and state is not None and state[0] == "ready",
        packages=rights.packages, device_types=rights.device_types,
        age_rating=AGE_RATINGS[rights.age_rating] if rights.age_rating is not None else None,
        duration_s=title.duration_s if title.duration_s is not None
        else (state[1] // 1000 if state and state[1] is not None else None))
