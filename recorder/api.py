"""Cloud DVR HTTP API for players: schedule, list, show and delete recordings; the quota."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from entitlements.accounts.deps import CurrentPrincipal
from infra.deps import RuntimeDep, SessionDep
from infra.validation import Offset
from recorder import series, service
from recorder.deps import RecordingIdPath, RuleIdPath
from recorder.schemas import (
    Quota,
    RecordingCreate,
    RecordingPage,
    RecordingRead,
    RecordingState,
    SeriesRuleCreate,
    SeriesRuleRead,
    SeriesRuleUpdate,
)

router = APIRouter(tags=["recordings"])


@router.post("/v1/me/recordings", response_model=RecordingRead, status_code=201)
def schedule(body: RecordingCreate, who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> RecordingRead:
    """Record a programme (future, on air, or aired and still in the archive) or a time range on a channel."""
    return service.to_read(service.schedule(rt, db_session=db_session, principal=who, body=body))


@router.get("/v1/me/recordings", response_model=RecordingPage)
def list_recordings(who: CurrentPrincipal, db_session: SessionDep, state: RecordingState | None = None,
                    channel: Annotated[str | None, Query(max_length=64)] = None,
                    series: Annotated[str | None, Query(max_length=200)] = None,
                    order: Literal["start", "-start", "title"] = "-start",
                    offset: Offset = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> RecordingPage:
    """The subscriber's recordings, filtered by state, channel or series, sorted, a page at a time."""
    rows, total = service.list_recordings(db_session=db_session, subscriber_id=who.subscriber_id, state=state,
                                          channel_id=channel, series_id=series, order=order, offset=offset,
                                          limit=limit)
    page = RecordingPage(items=[service.to_read(r) for r in rows], total=total, offset=offset, limit=limit)
    # Built once here: returned as a model, FastAPI would validate and serialise all of it again.
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/v1/me/recordings/quota", response_model=Quota)
def get_quota(who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> Quota:
    """Recording hours: given by the packages, used, scheduled and free."""
    return service.quota(rt, db_session=db_session, subscriber_id=who.subscriber_id)


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


@router.get("/v1/me/series-rules", response_model=list[SeriesRuleRead])
def list_rules(who: CurrentPrincipal, db_session: SessionDep) -> list[SeriesRuleRead]:
    """The subscriber's series rules."""
    return [series.to_read(db_session=db_session, rule=r)
            for r in series.list_rules(db_session=db_session, subscriber_id=who.subscriber_id)]


@router.post("/v1/me/series-rules", response_model=SeriesRuleRead, status_code=201)
def create_rule(body: SeriesRuleCreate, who: CurrentPrincipal, db_session: SessionDep,
                rt: RuntimeDep) -> SeriesRuleRead:
    """Record a series (the one a programme belongs to): new episodes only or all, keeping at most N."""
    rule, skipped = series.create_rule(rt, db_session=db_session, principal=who, body=body)
    return series.to_read(db_session=db_session, rule=rule, skipped=skipped)


@router.patch("/v1/me/series-rules/{rule_id}", response_model=SeriesRuleRead)
def update_rule(rule_id: RuleIdPath, body: SeriesRuleUpdate, who: CurrentPrincipal,
                db_session: SessionDep, rt: RuntimeDep) -> SeriesRuleRead:
    """Change a series rule's scope, limit or padding."""
    rule = series.update_rule(rt, db_session=db_session, subscriber_id=who.subscriber_id, rule_id=rule_id,
                              body=body)
    return series.to_read(db_session=db_session, rule=rule)


@router.delete("/v1/me/series-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: RuleIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Delete a series rule and its episodes not begun yet; what it recorded stays."""
    series.delete_rule(db_session=db_session, subscriber_id=who.subscriber_id, rule_id=rule_id)
    return Response(status_code=204)
