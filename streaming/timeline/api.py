"""Timeline HTTP API: the staff view of a channel's timeline and status, the players' channel list.

The encoder ingest endpoint is a bare ASGI app (streaming/ingest/endpoint.py), like the origin.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from catalog.channels import service as catalog_service
from catalog.channels.deps import ChannelIdPath
from infra.deps import SessionDep, require_staff
from streaming.formats.hls import format_pdt
from streaming.timeline import service
from streaming.timeline.schemas import (
    ChannelStatusRead,
    PlayerChannel,
    TimelineRead,
    TimelineRunRead,
)

router = APIRouter()


@router.get("/v1/admin/channels/{channel_id}/timeline", response_model=TimelineRead,
            tags=["channels"], dependencies=[Depends(require_staff("viewer"))])
def timeline(channel_id: ChannelIdPath, db_session: SessionDep,
             hours: Annotated[float, Query(gt=0, le=24 * 30)] = 1.0) -> TimelineRead:
    """Show the runs of a channel's timeline over the last hours, for operators."""
    service.channel_spec(db_session=db_session, channel_id=channel_id)
    now = time.time_ns() // 1000
    runs = service.runs_in_window(db_session=db_session, channel_id=channel_id,
                                  start_us=now - int(hours * 3600e6), end_us=2**62)
    return TimelineRead(
        channel_id=channel_id,
        version=service.timeline_version(db_session=db_session, channel_id=channel_id)[0],
        runs=[TimelineRunRead(first_seq=r.first_seq, count=r.count, start=format_pdt(r.start_us),
                              end=format_pdt(r.end_us), uniform=r.uniform,
                              discontinuity=r.discontinuity, gap=r.gap) for r in runs],
    )


@router.get("/v1/admin/channels/{channel_id}/status", response_model=ChannelStatusRead,
            tags=["channels"], dependencies=[Depends(require_staff("viewer"))])
def channel_status(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelStatusRead:
    """Show a channel's packaging state: starting, live, degraded or down, with the reason."""
    service.channel_spec(db_session=db_session, channel_id=channel_id)
    return ChannelStatusRead(**service.channel_statuses(db_session=db_session,
                                                        channel_ids=[channel_id])[channel_id])


@router.get("/v1/channels", response_model=list[PlayerChannel], tags=["players"])
def player_channels(db_session: SessionDep) -> list[PlayerChannel]:
    """List enabled channels with their state and playlist (open until entitlements land)."""
    rows, _ = catalog_service.list_channels(db_session=db_session, enabled=True, limit=500)
    states = service.channel_statuses(db_session=db_session, channel_ids=[c.id for c in rows])
    return [PlayerChannel(id=c.id, name=c.name, number=c.number, logo_url=c.logo_url,
                          state=states[c.id]["state"],
                          playback_url=f"/live/{c.id}/cmaf/master.m3u8") for c in rows]
