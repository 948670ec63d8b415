"""VOD for players: browse rows, lists, search, title details and continue watching."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from catalog.vod import player as vod_player
from catalog.vod import service as vod
from catalog.vod.deps import TitleIdPath
from catalog.vod.schemas import (
    AgeRating,
    Kind,
    PositionIn,
    PositionRead,
    VodDetails,
    VodPage,
    VodRows,
)
from entitlements.accounts.deps import CurrentPrincipal
from infra.deps import SessionDep

router = APIRouter(tags=["vod"])
Lang = Annotated[str | None, Query(pattern=r"^[a-z]{3}$", description="ISO 639-2: the texts' language")]
Genre = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Year = Annotated[int | None, Query(ge=1870, le=2100)]
Offset = Annotated[int, Query(ge=0, le=10_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _json(model) -> Response:  # noqa: ANN001
    return Response(model.model_dump_json(), media_type="application/json")


@router.get("/v1/vod/rows", response_model=VodRows)
def browse_rows(who: CurrentPrincipal, db_session: SessionDep, lang: Lang = None) -> Response:
    """The browse screen: continue watching, new, and a row per big genre."""
    return _json(vod_player.rows(db_session=db_session, now=vod.now_utc(), subscriber_id=who.subscriber_id,
                                 lang=lang))


@router.get("/v1/vod/titles", response_model=VodPage)
def list_titles(who: CurrentPrincipal, db_session: SessionDep, kind: Kind | None = None, genre: Genre = None,
                year: Year = None, age_rating: AgeRating | None = None, lang: Lang = None, offset: Offset = 0,
                limit: Limit = 20) -> Response:
    """Titles players may see now, newest first; age_rating is the highest wanted."""
    return _json(vod_player.browse(db_session=db_session, now=vod.now_utc(), q=None, kind=kind, genre=genre,
                                   year=year, max_age=age_rating, lang=lang, offset=offset, limit=limit))


@router.get("/v1/vod/search", response_model=VodPage)
def search(who: CurrentPrincipal, db_session: SessionDep, q: Annotated[str, Query(min_length=1, max_length=200)],
           kind: Kind | None = None, genre: Genre = None, year: Year = None, age_rating: AgeRating | None = None,
           lang: Lang = None, offset: Offset = 0, limit: Limit = 20) -> Response:
    """Search titles, ignoring case and diacritics: every word must match, the last as a prefix."""
    return _json(vod_player.browse(db_session=db_session, now=vod.now_utc(), q=q, kind=kind, genre=genre,
                                   year=year, max_age=age_rating, lang=lang, offset=offset, limit=limit))


@router.get("/v1/vod/titles/{title_id}", response_model=VodDetails)
def title_details(title_id: TitleIdPath, who: CurrentPrincipal, db_session: SessionDep,
                  lang: Lang = None) -> Response:
    """A title with its texts, seasons or episodes, whether this account may play it, and where it stopped."""
    return _json(vod_player.details(db_session=db_session, now=vod.now_utc(), title_id=title_id,
                                    subscriber_id=who.subscriber_id, lang=lang))


@router.put("/v1/me/vod/positions/{title_id}", response_model=PositionRead)
def save_position(title_id: TitleIdPath, body: PositionIn, who: CurrentPrincipal,
                  db_session: SessionDep) -> PositionRead:
    """Report where playback is (or that the title was watched to the end)."""
    return vod_player.save_position(db_session=db_session, now=vod.now_utc(), subscriber_id=who.subscriber_id,
                                    device_id=who.device_id, title_id=title_id, body=body)


@router.get("/v1/me/vod/positions/{title_id}", response_model=PositionRead)
def get_position(title_id: TitleIdPath, who: CurrentPrincipal, db_session: SessionDep) -> PositionRead:
    """Where the subscriber stopped in a title, from whichever device."""
    return vod_player.get_position(db_session=db_session, now=vod.now_utc(), subscriber_id=who.subscriber_id,
                                   title_id=title_id)
