"""Rights of channels, the address-range table, profiles and the household PIN.

Services take ``db_session`` and never commit; the pure rules live in `decision.py`.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entitlements import service
from entitlements.decision import Rights
from entitlements.errors import (
    InvalidGeoTable, LoginThrottled, PinInvalid, PinLocked, PinNotSet, ProfileNotFound,
)
from entitlements.geo import GeoTable, parse_ranges
from entitlements.models import ChannelRights, GeoRange, Profile, Subscriber
from entitlements.rules import ThrottlePolicy
from entitlements.schemas import ChannelRightsBody, ChannelRightsRead, ProfileCreate, ProfileUpdate
from entitlements.throttle import LoginThrottle
from infra.runtime import notify_after_commit, runtime

GEO_TOPIC = "entitlements.geo"
# Wrong PINs: 5 tries, then 15 minutes; a 4-digit PIN must not be guessable in an evening.
PIN_THROTTLE = ThrottlePolicy(free_attempts=5, base_delay_s=0, max_delay_s=0, lock_after=5,
                              window_s=900, lock_s=900)


# -- channel rights -----------------------------------------------------------------------------
def channel_rights(*, db_session: Session, channel_id: str) -> Rights:
    """Return a channel's rights (the defaults when none were set)."""
    row = db_session.get(ChannelRights, channel_id)
    if row is None:
        return Rights()
    return Rights(live=row.live, timeshift=row.timeshift, timeshift_window_s=row.timeshift_window_s,
                  startover=row.startover, catchup=row.catchup, catchup_days=row.catchup_days,
                  recording=row.recording, recording_copy=row.recording_copy,
                  device_types=frozenset(row.device_types) if row.device_types is not None else None,
                  countries=frozenset(row.countries) if row.countries is not None else None,
                  age_rating=row.age_rating)


def to_rights_read(channel_id: str, rights: Rights) -> ChannelRightsRead:
    """Return the API view of a channel's rights."""
    return ChannelRightsRead(
        channel_id=channel_id, live=rights.live, timeshift=rights.timeshift,
        timeshift_window_s=rights.timeshift_window_s, startover=rights.startover, catchup=rights.catchup,
        catchup_days=rights.catchup_days, recording=rights.recording, recording_copy=rights.recording_copy,
        device_types=sorted(rights.device_types) if rights.device_types is not None else None,
        countries=sorted(rights.countries) if rights.countries is not None else None,
        age_rating=rights.age_rating)


def set_channel_rights(*, db_session: Session, channel_id: str, body: ChannelRightsBody) -> Rights:
    """Replace a channel's rights."""
    from catalog import service as catalog_service
    from catalog.errors import InvalidChannel

    channel = catalog_service.get(db_session=db_session, channel_id=channel_id)
    if body.timeshift_window_s is not None and body.timeshift_window_s > channel.timeshift_window_s:
        raise InvalidChannel(f"timeshift_window_s may be at most the channel's window, "
                             f"{channel.timeshift_window_s} s", limit=channel.timeshift_window_s)
    if body.catchup_days > channel.archive_days:
        raise InvalidChannel(f"catchup_days may be at most the channel's archive, {channel.archive_days} days",
                             limit=channel.archive_days)
    values = body.model_dump()
    for key in ("device_types", "countries"):
        if values[key] is not None:
            values[key] = sorted(set(values[key]))
    row = db_session.get(ChannelRights, channel_id)
    if row is None:
        row = ChannelRights(channel_id=channel_id)
        db_session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    db_session.flush()
    notify_after_commit(db_session, "channel." + channel_id, {"kind": "rights"})
    from entitlements import playback  # playback decides with these rights: imported late

    playback.recheck_catalogue(db_session=db_session, reason="rights_changed", channel_ids=[channel_id])
    return channel_rights(db_session=db_session, channel_id=channel_id)


# -- where clients are ---------------------------------------------------------------------------
def set_geo_table(*, db_session: Session, csv: str) -> int:
    """Replace the address-range table; return how many ranges it has."""
    try:
        rows = parse_ranges(csv)
        GeoTable.build(rows)
    except ValueError as err:
        raise InvalidGeoTable(str(err)) from None
    db_session.execute(delete(GeoRange))
    db_session.add_all(GeoRange(network=net, country=cc) for net, cc in rows)
    db_session.flush()
    notify_after_commit(db_session, GEO_TOPIC, {"ranges": len(rows)})
    return len(rows)


def geo_rows(*, db_session: Session) -> list[tuple[str, str]]:
    """Return the address-range table as (CIDR, country) rows."""
    return [(r.network, r.country) for r in db_session.scalars(select(GeoRange).order_by(GeoRange.id))]


def country_of(*, db_session: Session, address: str) -> str | None:
    """Return the country of a client address from the table (kept in memory per process)."""
    rt = runtime()
    table = rt.extras.get("geo_table")
    if table is None:
        table = rt.extras["geo_table"] = GeoTable.build(geo_rows(db_session=db_session))

        def forget(_topic: str, _message: dict) -> None:
            rt.extras.pop("geo_table", None)

        if not rt.extras.get("geo_subscribed"):
            rt.extras["geo_subscribed"] = True
            rt.bus.subscribe(GEO_TOPIC, forget)
    return table.country(address)


# -- profiles and the household PIN ------------------------------------------------------------------
def list_profiles(*, db_session: Session, subscriber_id: str) -> list[Profile]:
    """Return the account's profiles."""
    return list(db_session.scalars(select(Profile).where(Profile.subscriber_id == subscriber_id)
                                   .order_by(Profile.created_at, Profile.id)))


def get_profile(*, db_session: Session, subscriber_id: str, profile_id: str) -> Profile:
    """Return one of the account's profiles; another account's is not found."""
    profile = db_session.get(Profile, profile_id)
    if profile is None or profile.subscriber_id != subscriber_id:
        raise ProfileNotFound("no such profile on this account")
    return profile


def create_profile(*, db_session: Session, subscriber_id: str, body: ProfileCreate) -> Profile:
    """Add a profile to the account."""
    profile = Profile(id=service.new_id(), subscriber_id=subscriber_id, name=body.name,
                      parental_threshold=body.parental_threshold, created_at=service.now_utc())
    db_session.add(profile)
    db_session.flush()
    return profile


def update_profile(*, db_session: Session, sub: Subscriber, profile_id: str, body: ProfileUpdate) -> Profile:
    """Rename a profile or change its threshold; loosening a threshold needs the PIN."""
    profile = get_profile(db_session=db_session, subscriber_id=sub.id, profile_id=profile_id)
    if "parental_threshold" in body.model_fields_set:
        new, old = body.parental_threshold, profile.parental_threshold
        loosens = old is not None and (new is None or new > old)
        if loosens:
            check_pin(db_session=db_session, sub=sub, pin=body.pin)
        profile.parental_threshold = new
    if body.name is not None:
        profile.name = body.name
    db_session.flush()
    return profile


def _pin_digest(subscriber_id: str, pin: str) -> str:
    key = hashlib.sha256(b"smartgo-parental-pin:" + runtime().settings.secret_key.encode()).digest()
    return hmac.new(key, f"{subscriber_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def set_pin(*, db_session: Session, sub: Subscriber, pin: str) -> None:
    """Set the household PIN (the caller has checked the account password)."""
    sub.parental_pin_hash = _pin_digest(sub.id, pin)
    db_session.flush()


def check_pin(*, db_session: Session, sub: Subscriber, pin: str | None) -> None:
    """Raise unless pin is the household PIN; wrong tries are limited per account."""
    if sub.parental_pin_hash is None:
        raise PinNotSet("set a parental PIN first (PUT /v1/me/pin)")
    throttle, key = LoginThrottle(runtime().cache), f"pin:{sub.id}"
    try:
        attempts = throttle.admit(key, PIN_THROTTLE)
    except LoginThrottled as err:
        locked = PinLocked("too many wrong PINs; try again later", **err.details)
        locked.headers = err.headers
        raise locked from None
    if pin is None or not hmac.compare_digest(_pin_digest(sub.id, pin), sub.parental_pin_hash):
        throttle.failed(key, PIN_THROTTLE, attempts)
        raise PinInvalid("wrong parental PIN", tries_left=max(0, PIN_THROTTLE.lock_after - attempts))
    throttle.succeeded(key)
