"""Cloud DVR HTTP API for players: schedule, list, show and delete recordings; the quota."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from entitlements.deps import CurrentPrincipal
from infra.deps import SessionDep
from recorder import service
from recorder.deps import RecordingIdPath
from recorder.schemas import Quota, RecordingCreate, RecordingPage, RecordingRead, RecordingState

router = APIRouter(tags=["recordings"])


@router.post("/v1/me/recordings", response_model=RecordingRead, status_code=201)
def schedule(body: RecordingCreate, who: CurrentPrincipal, db_session: SessionDep) -> RecordingRead:
    """Record a programme (future, on air, or aired and still in the archive) or a time range on a channel."""
    return service.to_read(service.schedule(db_session=db_session, principal=who, body=body))


@router.get("/v1/me/recordings", response_model=RecordingPage)
def list_recordings(who: CurrentPrincipal, db_session: SessionDep, state: RecordingState | None = None,
                    channel: Annotated[str | None, Query(max_length=64)] = None,
                    series: Annotated[str | None, Query(max_length=200)] = None,
                    order: Literal["start", "-start", "title"] = "-start",
                    offset: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> RecordingPage:
    """The subscriber's recordings, filtered by state, channel or series, sorted, a page at a time."""
    rows, total = service.list_recordings(db_session=db_session, subscriber_id=who.subscriber_id, state=state,
                                          channel_id=channel, series_id=series, order=order, offset=offset,
                                          limit=limit)
    return RecordingPage(items=[service.to_read(r) for r in rows], total=total, offset=offset, limit=limit)


@router.get("/v1/me/recordings/quota", response_model=Quota)
def get_quota(who: CurrentPrincipal, db_session: SessionDep) -> Quota:
    """Recording hours: given by the packages, used, scheduled and free."""
    return service.quota(db_session=db_session, subscriber_id=who.subscriber_id)


@router.get("/v1/me/recordings/{recording_id}", response_model=RecordingRead)
def get_recording(recording_id: RecordingIdPath, who: CurrentPrincipal, db_session: SessionDep) -> RecordingRead:
    """One of the subscriber's recordings."""
    return service.to_read(service.get_recording(db_session=db_session, subscriber_id=who.subscriber_id,
                                                 recording_id=recording_id))


@router.delete("/v1/me/recordings/{recording_id}", status_code=204)
def delete_recording(recording_id: RecordingIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Delete a recording: its hours are free at once, its storage once nobody else recorded it."""
    service.delete_recording(db_session=db_session, subscriber_id=who.subscriber_id, recording_id=recording_id)
    return Response(status_code=204)
