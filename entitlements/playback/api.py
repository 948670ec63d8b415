"""HTTP API of playback authorization: the door, streams, rights, places, profiles, the PIN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from catalog.guide import service as guide
from catalog.guide.deps import ProgrammeIdPath
from catalog.guide.schemas import (
    ProgrammeActions,
    ProgrammeDetails,
)
from entitlements.accounts import auth, service
from entitlements.accounts.deps import (
    AccessToken,
    CurrentPrincipal,
    client_address,
)
from entitlements.accounts.schemas import Principal
from entitlements.playback import service as playback
from entitlements.playback import streams
from entitlements.playback.admission import start_admission
from entitlements.playback.outage import outage_door
from entitlements.playback.schemas import (
    PlaybackDecisionRead,
    PlaybackRequest,
    PlaybackStart,
    StreamRead,
)
from infra.db import DatabaseUnavailable
from infra.deps import REQUEST_DB_TIMEOUT_S, RuntimeDep, SessionDep, require_staff
from infra.runtime import Runtime
from infra.validation import Offset

router = APIRouter()
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
admin = [Depends(require_staff("admin"))]
SessionIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="playback session id")]


# -- the door and the streams ---------------------------------------------------------------------
@router.post("/v1/playback", response_model=PlaybackStart, tags=["playback"])
async def start_playback(body: PlaybackRequest, request: Request, token: AccessToken, rt: RuntimeDep) -> PlaybackStart:
    """Ask to play content in a mode on this device: a signed URL, or 403 with the reason.

    A storm of starts is answered 429 with Retry-After beyond what this process answers in time
    (entitlements/playback/admission.py). While the database is away the door follows
    SMARTGO_PLAYBACK_OUTAGE_POLICY (entitlements/playback/outage.py).
    """
    # The URL points where the player reached us, unless a public base URL (a CDN) is set.
    base = rt.settings.public_base_url or str(request.base_url)
    # Checked on the loop: a forged or expired token costs no thread, no queue place and no query.
    who = auth.principal_from_token(rt, token)
    admission = start_admission(rt)
    return await admission.run(who.subscriber_id, _start_playback, rt, body, token, who, client_address(request),
                               base)


def _start_playback(rt: Runtime, body: PlaybackRequest, token: str | None, who: Principal, address: str,
                    base: str) -> PlaybackStart:
    try:
        if not rt.health.is_up("database"):
            raise DatabaseUnavailable("database unavailable, retry")
        # This route owns its transaction (not SessionDep) so that the database being away is
        # seen here, where the outage policy applies, and not in a dependency before it.
        with rt.db.session(timeout_s=REQUEST_DB_TIMEOUT_S) as db_session:
            account = auth.lock_signed_in(db_session=db_session, principal=who)
            return playback.request_playback(rt, db_session=db_session, principal=who, account=account,
                                             request=body, address=address, base_url=base)
    except DatabaseUnavailable as err:
        return outage_door(rt).start(access_token=token, request=body, address=address, base_url=base, err=err)


@router.post("/v1/playback/{session_id}/heartbeat", status_code=204, tags=["playback"])
def playback_heartbeat(session_id: SessionIdPath, who: CurrentPrincipal, db_session: SessionDep,
                       rt: RuntimeDep) -> Response:
    """Keep this stream counted as watching (every heartbeat_every_s seconds)."""
    playback.heartbeat(rt, db_session=db_session, subscriber_id=who.subscriber_id, session_id=session_id)
    return Response(status_code=204)


@router.delete("/v1/playback/{session_id}", status_code=204, tags=["playback"])
def stop_playback(session_id: SessionIdPath, who: CurrentPrincipal, db_session: SessionDep,
                  rt: RuntimeDep) -> Response:
    """Stop a stream of this account, from any of its devices."""
    playback.stop_stream(rt, db_session=db_session, subscriber_id=who.subscriber_id, session_id=session_id)
    return Response(status_code=204)


@router.get("/v1/me/streams", response_model=list[StreamRead], tags=["playback"])
def my_streams(who: CurrentPrincipal, db_session: SessionDep, rt: RuntimeDep) -> list[StreamRead]:
    """List what the account is watching now, on which devices."""
    return [playback.to_stream_read(s, who.device_id)
            for s in streams.active_streams(rt, db_session=db_session, subscriber_id=who.subscriber_id)]


@router.get("/v1/admin/playback-decisions", response_model=list[PlaybackDecisionRead], dependencies=viewer,
            tags=["playback"])
def list_decisions(db_session: SessionDep, customer_number: Annotated[str | None, Query(max_length=32)] = None,
                   offset: Offset = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[PlaybackDecisionRead]:
    """Show playback decisions, newest first, for an account or all (customer care)."""
    sub_id = None
    if customer_number:
        sub_id = service.get_by_customer_number(db_session=db_session, customer_number=customer_number).id
    return [PlaybackDecisionRead.model_validate(d, from_attributes=True)
            for d in playback.decisions(db_session=db_session, subscriber_id=sub_id, offset=offset, limit=limit)]


@router.get("/v1/guide/programmes/{programme_id}", response_model=ProgrammeDetails, tags=["guide"])
def get_programme(programme_id: ProgrammeIdPath, db_session: SessionDep, who: CurrentPrincipal,
                  rt: RuntimeDep) -> ProgrammeDetails:
    """A programme, and what this subscriber may do with it now (and why not, where not)."""
    p = guide.get_programme(db_session=db_session, programme_id=programme_id)
    actions = playback.programme_actions(rt, db_session=db_session, principal=who, programme_id=p.id)
    return ProgrammeDetails(**guide.to_programme_read(p).model_dump(), actions=ProgrammeActions(**actions))
