"""Streaming HTTP API: the encoder ingest endpoint and the staff view of a timeline."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from infra.deps import RuntimeDep, SessionDep, require_staff
from streaming import ingest, service
from streaming.deps import ingest_password
from streaming.errors import PayloadTooLarge
from streaming.playlist import format_pdt
from streaming.schemas import (
    ChannelStatusRead, IngestAccepted, PlayerChannel, TimelineRead, TimelineRunRead,
)

router = APIRouter()
INGEST_PATH = "/ingest/{channel_id}/{seg_set}/{rendition}/{filename}"


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"object larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"object larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put(INGEST_PATH, response_model=IngestAccepted, tags=["ingest"])
@router.post(INGEST_PATH, response_model=IngestAccepted, tags=["ingest"], include_in_schema=False)
async def ingest_put(channel_id: str, seg_set: str, rendition: str, filename: str,
                     request: Request, rt: RuntimeDep,
                     password: Annotated[str | None, Depends(ingest_password)]) -> IngestAccepted:
    """Accept a segment, init segment or playlist pushed by an encoder (ffmpeg -method PUT)."""
    cached = ingest.cached_spec(rt, channel_id)
    if cached is not None:  # the common case: no thread hop, no query
        spec = ingest.authorize(rt, channel_id=channel_id, password=password, spec=cached)
    else:
        spec = await run_in_threadpool(ingest.authorize, rt, channel_id=channel_id, password=password)
    body = await _read_body(request, rt.settings.max_ingest_object_bytes)
    result = await run_in_threadpool(
        ingest.ingest_file, rt, spec=spec, seg_set=seg_set, rendition=rendition,
        filename=filename, body=body, now_us=time.time_ns() // 1000,
    )
    return IngestAccepted(kind=result.kind, published=result.published)


@router.delete(INGEST_PATH, status_code=204, tags=["ingest"])
async def ingest_delete(channel_id: str, seg_set: str, rendition: str, filename: str,
                        rt: RuntimeDep,
                        password: Annotated[str | None, Depends(ingest_password)]) -> Response:
    """Acknowledge an encoder's delete; retention of published segments is ours, not its."""
    await run_in_threadpool(ingest.authorize, rt, channel_id=channel_id, password=password)
    return Response(status_code=204)


@router.get("/v1/admin/channels/{channel_id}/timeline", response_model=TimelineRead,
            tags=["channels"], dependencies=[Depends(require_staff("viewer"))])
def timeline(channel_id: str, db_session: SessionDep,
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
def channel_status(channel_id: str, db_session: SessionDep) -> ChannelStatusRead:
    """Show a channel's packaging state: starting, live, degraded or down, with the reason."""
    service.channel_spec(db_session=db_session, channel_id=channel_id)
    return ChannelStatusRead(**service.channel_statuses(db_session=db_session,
                                                        channel_ids=[channel_id])[channel_id])


@router.get("/v1/channels", response_model=list[PlayerChannel], tags=["players"])
def player_channels(db_session: SessionDep) -> list[PlayerChannel]:
    """List enabled channels with their state and playlist (open until entitlements land)."""
    from catalog import service as catalog_service

    rows, _ = catalog_service.list_channels(db_session=db_session, enabled=True, limit=500)
    states = service.channel_statuses(db_session=db_session, channel_ids=[c.id for c in rows])
    return [PlayerChannel(id=c.id, name=c.name, number=c.number, logo_url=c.logo_url,
                          state=states[c.id]["state"],
                          playback_url=f"/live/{c.id}/cmaf/master.m3u8") for c in rows]
