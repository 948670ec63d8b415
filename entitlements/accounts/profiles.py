"""Viewer profiles of a household and its PIN."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from entitlements.accounts import service
from entitlements.accounts.errors import (
    LoginThrottled,
    PinInvalid,
    PinLocked,
    PinNotSet,
    ProfileNotFound,
)
from entitlements.accounts.models import Profile, Subscriber
from entitlements.accounts.schemas import ProfileCreate, ProfileUpdate
from entitlements.accounts.throttle import LoginThrottle
from entitlements.packages.rules import ThrottlePolicy
from infra.db import new_id
from infra.runtime import Runtime

# Wrong PINs: 5 tries, then 15 minutes; a 4-digit PIN must not be guessable in an evening.
PIN_THROTTLE = ThrottlePolicy(free_attempts=5, base_delay_s=0, max_delay_s=0, lock_after=5,
                              window_s=900, lock_s=900)


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
    profile = Profile(id=new_id(), subscriber_id=subscriber_id, name=body.name,
                      parental_threshold=body.parental_threshold, created_at=service.now_utc())
    db_session.add(profile)
    db_session.flush()
    return profile


def update_profile(rt: Runtime, *, db_session: Session, sub: Subscriber, profile_id: str,
                   body: ProfileUpdate) -> Profile:
    """Rename a profile or change its threshold; loosening a threshold needs the PIN."""
    profile = get_profile(db_session=db_session, subscriber_id=sub.id, profile_id=profile_id)
    if "parental_threshold" in body.model_fields_set:
        new, old = body.parental_threshold, profile.parental_threshold
        loosens = old is not None and (new is None or new > old)
        if loosens:
            check_pin(rt, db_session=db_session, sub=sub, pin=body.pin)
        profile.parental_threshold = new
    if body.name is not None:
        profile.name = body.name
    db_session.flush()
    return profile


def _pin_digest(rt: Runtime, subscriber_id: str, pin: str) -> str:
    key = hashlib.sha256(b"smartgo-parental-pin:" + rt.settings.secret_key.encode()).digest()
    return hmac.new(key, f"{subscriber_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def set_pin(rt: Runtime, *, db_session: Session, sub: Subscriber, pin: str) -> None:
    """Set the household PIN (the caller has checked the account password)."""
    sub.parental_pin_hash = _pin_digest(rt, sub.id, pin)
    db_session.flush()


def check_pin(rt: Runtime, *, db_session: Session, sub: Subscriber | Row, pin: str | None) -> None:
    """Raise unless pin is the household PIN; wrong tries are limited per account."""
    if sub.parental_pin_hash is None:
        raise PinNotSet("set a parental PIN first (PUT /v1/me/pin)")
    throttle, key = LoginThrottle(rt.cache), f"pin:{sub.id}"
    try:
        attempts = throttle.admit(key, PIN_THROTTLE)
    except LoginThrottled as err:
        raise PinLocked("too many wrong PINs; try again later", **err.details) from None
    if pin is None or not hmac.compare_digest(_pin_digest(rt, sub.id, pin), sub.parental_pin_hash):
        throttle.failed(key, PIN_THROTTLE, attempts)
        raise PinInvalid("wrong parental PIN", tries_left=max(0, PIN_THROTTLE.lock_after - attempts))
    throttle.succeeded(key)
