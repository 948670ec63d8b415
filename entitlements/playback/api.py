"""HTTP API of playback authorization: the door, streams, rights, places, profiles, the PIN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from catalog.channels import service as catalog_service
from catalog.channels.deps import ChannelIdPath
from catalog.guide import service as guide
from catalog.guide.deps import ProgrammeIdPath
from catalog.guide.schemas import (
    ProgrammeActions,
    ProgrammeDetails,
    ProgrammeRightsBody,
    ProgrammeRightsRead,
)
from entitlements.accounts import auth, passwords, service
from entitlements.accounts import profiles as accounts_profiles
from entitlements.accounts.deps import (
    AccessToken,
    CurrentPrincipal,
    CustomerNumberPath,
    DeviceIdPath,
    client_address,
)
from entitlements.accounts.errors import InvalidCredentials
from entitlements.accounts.schemas import (
    DeviceProfileRead,
    DeviceProfileSet,
    DeviceRead,
    PinSet,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
)
from entitlements.packages import service as packages_service
from entitlements.packages.schemas import (
    ChannelRightsBody,
    ChannelRightsRead,
    GeoRangesBody,
)
from entitlements.playback import service as playback
from entitlements.playback import streams
from entitlements.playback.outage import outage_door
from entitlements.playback.schemas import (
    PlaybackDecisionRead,
    PlaybackRequest,
    PlaybackStart,
    StreamRead,
)
from infra.db import DatabaseUnavailable
from infra.deps import REQUEST_DB_TIMEOUT_S, RuntimeDep, SessionDep, require_staff
from infra.validation import Offset
from streaming.formats import device_profiles

router = APIRouter()
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
admin = [Depends(require_staff("admin"))]
SessionIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="playback session id")]
ProfileIdPath = Annotated[str, Path(pattern=r"^[a-f0-9]{32}$", description="profile id")]


# -- the door and the streams ---------------------------------------------------------------------
@router.post("/v1/playback", response_model=PlaybackStart, tags=["playback"])
def start_playback(body: PlaybackRequest, request: Request, token: AccessToken, rt: RuntimeDep) -> PlaybackStart:
    """Ask to play content in a mode on this device: a signed URL, or 403 with the reason.

    While the database is away the door follows SMARTGO_PLAYBACK_OUTAGE_POLICY (entitlements/playback/outage.py).
    """
    # The URL points where the player reached us, unless a public base URL (a CDN) is set.
    base = rt.settings.public_base_url or str(request.base_url)
    address = client_address(request)
    try:
        if not rt.health.is_up("database"):
            raise DatabaseUnavailable("database unavailable, retry")
        # This route owns its transaction (not SessionDep) so that the database being away is
        # seen here, where the outage policy applies, and not in a dependency before it.
        with rt.db.session(timeout_s=REQUEST_DB_TIMEOUT_S) as db_session:
            who = auth.authenticate(db_session=db_session, access_token=token)
            return playback.request_playback(db_session=db_session, principal=who, request=body, address=address,
                                             base_url=base)
    except DatabaseUnavailable as err:
        return outage_door(rt).start(access_token=token, request=body, address=address, base_url=base, err=err)


@router.post("/v1/playback/{session_id}/heartbeat", status_code=204, tags=["playback"])
def playback_heartbeat(session_id: SessionIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Keep this stream counted as watching (every heartbeat_every_s seconds)."""
    playback.heartbeat(db_session=db_session, subscriber_id=who.subscriber_id, session_id=session_id)
    return Response(status_code=204)


@router.delete("/v1/playback/{session_id}", status_code=204, tags=["playback"])
def stop_playback(session_id: SessionIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Stop a stream of this account, from any of its devices."""
    playback.stop_stream(db_session=db_session, subscriber_id=who.subscriber_id, session_id=session_id)
    return Response(status_code=204)


@router.get("/v1/me/streams", response_model=list[StreamRead], tags=["playback"])
def my_streams(who: CurrentPrincipal, db_session: SessionDep) -> list[StreamRead]:
    """List what the account is watching now, on which devices."""
    return [playback.to_stream_read(s, who.device_id)
            for s in streams.active_streams(db_session=db_session, subscriber_id=who.subscriber_id)]


# -- profiles and the PIN ----------------------------------------------------------------------
def _profile_read(p) -> ProfileRead:  # noqa: ANN001
    return ProfileRead(id=p.id, name=p.name, parental_threshold=p.parental_threshold)


@router.get("/v1/me/profiles", response_model=list[ProfileRead], tags=["account"])
def list_profiles(who: CurrentPrincipal, db_session: SessionDep) -> list[ProfileRead]:
    """List the household's profiles."""
    return [_profile_read(p) for p in accounts_profiles.list_profiles(db_session=db_session, subscriber_id=who.subscriber_id)]


@router.post("/v1/me/profiles", response_model=ProfileRead, status_code=201, tags=["account"])
def create_profile(body: ProfileCreate, who: CurrentPrincipal, db_session: SessionDep) -> ProfileRead:
    """Add a profile (a child's, with a parental threshold)."""
    return _profile_read(accounts_profiles.create_profile(db_session=db_session, subscriber_id=who.subscriber_id, body=body))


@router.patch("/v1/me/profiles/{profile_id}", response_model=ProfileRead, tags=["account"])
def update_profile(profile_id: ProfileIdPath, body: ProfileUpdate, who: CurrentPrincipal,
                   db_session: SessionDep) -> ProfileRead:
    """Rename a profile or change its threshold (loosening it needs the PIN)."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=who.subscriber_id)
    return _profile_read(accounts_profiles.update_profile(db_session=db_session, sub=sub, profile_id=profile_id, body=body))


@router.delete("/v1/me/profiles/{profile_id}", status_code=204, tags=["account"])
def delete_profile(profile_id: ProfileIdPath, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Remove a profile."""
    db_session.delete(accounts_profiles.get_profile(db_session=db_session, subscriber_id=who.subscriber_id,
                                         profile_id=profile_id))
    return Response(status_code=204)


@router.put("/v1/me/pin", status_code=204, tags=["account"])
def set_pin(body: PinSet, who: CurrentPrincipal, db_session: SessionDep) -> Response:
    """Set the household's parental PIN (with the account password)."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=who.subscriber_id)
    if not passwords.verify_password(sub.password_hash, body.password):
        raise InvalidCredentials("wrong password")
    accounts_profiles.set_pin(db_session=db_session, sub=sub, pin=body.pin)
    return Response(status_code=204)


# -- staff: rights, places, decisions --------------------------------------------------------------
@router.get("/v1/admin/channels/{channel_id}/rights", response_model=ChannelRightsRead, dependencies=viewer,
            tags=["rights"])
def get_channel_rights(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelRightsRead:
    """Show a channel's rights."""
    catalog_service.get(db_session=db_session, channel_id=channel_id)
    return packages_service.to_rights_read(channel_id, packages_service.channel_rights(db_session=db_session, channel_id=channel_id))


@router.put("/v1/admin/channels/{channel_id}/rights", response_model=ChannelRightsRead, dependencies=operator,
            tags=["rights"])
def put_channel_rights(channel_id: ChannelIdPath, body: ChannelRightsBody, db_session: SessionDep) -> ChannelRightsRead:
    """Set a channel's rights: modes, catch-up days, devices, countries, age rating."""
    return packages_service.to_rights_read(channel_id, packages_service.set_channel_rights(db_session=db_session,
                                                                       channel_id=channel_id, body=body))


@router.get("/v1/admin/programmes/{programme_id}/rights", response_model=ProgrammeRightsRead, dependencies=viewer,
            tags=["rights"])
def get_programme_rights(programme_id: ProgrammeIdPath, db_session: SessionDep) -> ProgrammeRightsRead:
    """Show a programme's rights overrides: from the feed, from staff, and the two combined."""
    return _programme_rights_read(guide.get_programme(db_session=db_session, programme_id=programme_id))


@router.put("/v1/admin/programmes/{programme_id}/rights", response_model=ProgrammeRightsRead, dependencies=operator,
            tags=["rights"])
def put_programme_rights(programme_id: ProgrammeIdPath, body: ProgrammeRightsBody,
                         db_session: SessionDep) -> ProgrammeRightsRead:
    """Override a programme's catch-up, start-over or recording rights (null: back to the feed's)."""
    p = guide.set_programme_rights(db_session=db_session, programme_id=programme_id, rights=body.model_dump())
    playback.recheck_catalogue(db_session=db_session, reason="rights_changed", programme_ids=[p.id])
    return _programme_rights_read(p)


def _programme_rights_read(p) -> ProgrammeRightsRead:  # noqa: ANN001
    return ProgrammeRightsRead(programme_id=p.id, feed=p.feed_rights or {}, staff=p.staff_rights or {},
                               effective=guide.programme_rights(p))


@router.put("/v1/admin/geo", dependencies=admin, tags=["rights"])
def put_geo(body: GeoRangesBody, db_session: SessionDep) -> dict:
    """Replace the address-range table ("CIDR,COUNTRY" lines) that GEO_BLOCKED is judged by."""
    return {"ranges": packages_service.set_geo_table(db_session=db_session, csv=body.csv)}


@router.get("/v1/admin/geo", dependencies=viewer, tags=["rights"])
def get_geo(db_session: SessionDep) -> dict:
    """Show the address-range table."""
    return {"csv": "\n".join(f"{net},{cc}" for net, cc in packages_service.geo_rows(db_session=db_session))}


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


# -- staff: device profiles ------------------------------------------------------------------------
@router.get("/v1/admin/device-profiles", response_model=list[DeviceProfileRead], dependencies=viewer,
            tags=["devices"])
def list_device_profiles() -> list[DeviceProfileRead]:
    """List the device profiles, in the order a device is matched against them."""
    return [playback.to_profile_read(p) for p in device_profiles.PROFILES]


@router.get("/v1/admin/subscribers/{customer_number}/devices", response_model=list[DeviceRead],
            dependencies=viewer, tags=["devices"])
def staff_devices(customer_number: CustomerNumberPath, db_session: SessionDep) -> list[DeviceRead]:
    """List a subscriber's devices with the profile each plays with (customer care)."""
    sub = service.get_by_customer_number(db_session=db_session, customer_number=customer_number)
    return [service.to_device_read(d) for d in service.list_devices(db_session=db_session, subscriber_id=sub.id)]


@router.put("/v1/admin/devices/{device_id}/profile", response_model=DeviceRead, dependencies=operator,
            tags=["devices"])
def put_device_profile(device_id: DeviceIdPath, body: DeviceProfileSet,
                       db_session: SessionDep) -> DeviceRead:
    """Play a device with another profile (a TV that stalls on long windows), or back to its own with null."""
    return service.to_device_read(service.set_device_profile(db_session=db_session, device_id=device_id,
                                                             profile=body.profile))


@router.get("/v1/guide/programmes/{programme_id}", response_model=ProgrammeDetails, tags=["guide"])
def get_programme(programme_id: ProgrammeIdPath, db_session: SessionDep, who: CurrentPrincipal) -> ProgrammeDetails:
    """A programme, and what this subscriber may do with it now (and why not, where not)."""
    p = guide.get_programme(db_session=db_session, programme_id=programme_id)
    actions = playback.programme_actions(db_session=db_session, principal=who, programme_id=p.id)
    return ProgrammeDetails(**guide.to_programme_read(p).model_dump(), actions=ProgrammeActions(**actions))
