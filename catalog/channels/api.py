"""Catalogue HTTP API: channel administration for staff, the channel list for players."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from catalog.channels import service
from catalog.channels.deps import ChannelIdPath
from catalog.channels.schemas import (
    ChannelCreate,
    ChannelPagination,
    ChannelRead,
    ChannelUpdate,
)
from infra.deps import SessionDep, require_staff
from infra.validation import Offset

router = APIRouter(tags=["channels"])
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
admin = [Depends(require_staff("admin"))]


@router.get("/v1/admin/channels", response_model=ChannelPagination, dependencies=viewer)
def list_channels(db_session: SessionDep, enabled: bool | None = None,
                  offset: Offset = 0,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ChannelPagination:
    """List channels."""
    rows, total = service.list_channels(db_session=db_session, enabled=enabled, offset=offset, limit=limit)
    return ChannelPagination(items=[service.to_read(c) for c in rows], total=total)


@router.post("/v1/admin/channels", response_model=ChannelRead, status_code=201, dependencies=admin)
def create_channel(channel_in: ChannelCreate, db_session: SessionDep) -> ChannelRead:
    """Create a channel with its ladder."""
    return service.to_read(service.create(db_session=db_session, channel_in=channel_in))


@router.get("/v1/admin/channels/{channel_id}", response_model=ChannelRead, dependencies=viewer)
def get_channel(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelRead:
    """Show one channel."""
    return service.to_read(service.get(db_session=db_session, channel_id=channel_id))


@router.patch("/v1/admin/channels/{channel_id}", response_model=ChannelRead, dependencies=operator)
def update_channel(channel_id: ChannelIdPath, channel_in: ChannelUpdate,
                   db_session: SessionDep) -> ChannelRead:
    """Change a channel's name, number, logo, time-shift window or enabled flag."""
    return service.to_read(service.update(db_session=db_session, channel_id=channel_id,
                                          channel_in=channel_in))


@router.post("/v1/admin/channels/{channel_id}/enable", response_model=ChannelRead, dependencies=operator)
def enable_channel(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelRead:
    """Enable a channel."""
    return service.to_read(service.update(db_session=db_session, channel_id=channel_id,
                                          channel_in=ChannelUpdate(enabled=True)))


@router.post("/v1/admin/channels/{channel_id}/disable", response_model=ChannelRead, dependencies=operator)
def disable_channel(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelRead:
    """Disable a channel: ingest refuses it and players stop getting new segments."""
    return service.to_read(service.update(db_session=db_session, channel_id=channel_id,
                                          channel_in=ChannelUpdate(enabled=False)))


@router.delete("/v1/admin/channels/{channel_id}", status_code=204, dependencies=admin)
def delete_channel(channel_id: ChannelIdPath, db_session: SessionDep) -> Response:
    """Delete a channel and its timeline."""
    service.delete(db_session=db_session, channel_id=channel_id)
    return Response(status_code=204)

