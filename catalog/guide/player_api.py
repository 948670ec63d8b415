"""The guide for players: the grid for a time range and channels.

A programme's details with what the subscriber may do with it are the playback door's answer
(entitlements/playback/api.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from catalog.guide import service as guide
from catalog.guide.errors import InvalidGuideQuery
from catalog.guide.schemas import GuidePage
from entitlements.accounts.deps import CurrentPrincipal
from infra.deps import SessionDep
from infra.validation import Offset

router = APIRouter(tags=["guide"])
MAX_SPAN = dt.timedelta(days=8)  # a week of catch-up and a day ahead in one request
MAX_CHANNELS = 200


@router.get("/v1/guide", response_model=GuidePage, responses={304: {"description": "Not Modified: If-None-Match "
                                                                    "holds the ETag of this answer"}})
def get_grid(request: Request, response: Response, db_session: SessionDep, who: CurrentPrincipal,
             start: dt.datetime, end: dt.datetime,
             channels: Annotated[str | None, Query(max_length=13_000, pattern=r"^[a-z0-9._,-]*$",
                                                   description="comma-separated ids (200 at most)")] = None,
             offset: Offset = 0,
             limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> GuidePage | Response:
    """The programmes overlapping [start, end) on the given channels (all when omitted), by channel and start.

    Answers carry an ETag; If-None-Match with it gives 304 until the guide of these channels changes.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidGuideQuery("start and end need a time zone (UTC: a trailing Z)")
    if not dt.timedelta(0) < end - start <= MAX_SPAN:
        raise InvalidGuideQuery(f"end must be after start, by {MAX_SPAN.days} days at most")
    ids = sorted({c for c in channels.split(",") if c}) if channels else None
    if ids is not None and len(ids) > MAX_CHANNELS:
        raise InvalidGuideQuery(f"at most {MAX_CHANNELS} channels per request", limit=MAX_CHANNELS)
    stamp = guide.guide_version(db_session=db_session, channel_ids=ids)
    key = f"{stamp}|{ids}|{start.timestamp()}|{end.timestamp()}|{offset}|{limit}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"etag": etag})
    rows, total = guide.grid(db_session=db_session, channel_ids=ids, start=start, end=end, offset=offset,
                             limit=limit)
    response.headers["etag"] = etag
    response.headers["cache-control"] = "private, max-age=60"
    return GuidePage(items=[guide.to_programme_read(p) for p in rows], total=total, offset=offset, limit=limit)

