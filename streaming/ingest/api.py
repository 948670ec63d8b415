"""Ingest's HTTP API for staff: where and with which credentials an encoder pushes a channel.

The push itself (HTTP PUT of segments and playlists) is the bare ASGI endpoint in `endpoint.py`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from catalog.channels import service as channel_service
from catalog.channels.deps import ChannelIdPath
from infra.deps import RuntimeDep, SessionDep, require_staff
from streaming.ingest import credentials
from streaming.ingest.schemas import IngestCredentials

router = APIRouter(tags=["channels"])
admin = [Depends(require_staff("admin"))]


@router.get("/v1/admin/channels/{channel_id}/ingest", response_model=IngestCredentials,
            dependencies=admin)
def ingest_credentials(channel_id: ChannelIdPath, db_session: SessionDep,
                       rt: RuntimeDep) -> IngestCredentials:
    """Return where and with which credentials an encoder pushes this channel."""
    channel = channel_service.get(db_session=db_session, channel_id=channel_id)
    base = rt.settings.base_url
    return IngestCredentials(
        channel_id=channel.id,
        url=f"{base}/ingest/{channel.id}/{{set}}/{{rendition}}/",
        username=channel.id,
        password=credentials.ingest_key(rt.settings.ingest_secret, channel.id, channel.ingest_key_version),
    )
