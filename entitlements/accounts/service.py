"""Subscriber accounts and devices. Services take ``db_session`` and never commit.

Other packages reach entitlements through this module: `active_packages`, `account_limits`,
`packages_granting_channel` and `get_subscriber` are what playback authorization builds on.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from entitlements.accounts import passwords
from entitlements.accounts.errors import (
    DeviceLimit,
    DeviceNotFound,
    EmailTaken,
    InvalidValidity,
    SubscriberNotFound,
    UnknownDeviceProfile,
    WeakPassword,
)
from entitlements.accounts.events import AccountChanged, DeviceRemoved
from entitlements.accounts.models import AccountChange, AuthSession, Device, Subscriber
from entitlements.accounts.schemas import (
    ActivePackage,
    BillingSubscriberUpsert,
    DeviceInfo,
    DeviceProfileRead,
    DeviceRead,
    Limits,
    PackageGrant,
    SubscriberRead,
)
from entitlements.packages.errors import UnknownPackage
from entitlements.packages.models import Package, SubscriberPackage
from entitlements.packages.rules import PackageLimits, combine_limits
from infra import events
from infra.db import new_id, utc
from infra.runtime import Runtime, notify_after_commit
from streaming.formats import device_profiles

ACCOUNT_TOPIC = "entitlements.account."


def now_utc() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


# -- subscribers -------------------------------------------------------------------------------
def get_subscriber(*, db_session: Session, subscriber_id: str) -> Subscriber:
    """Return a subscriber by id or raise SubscriberNotFound."""
    sub = db_session.get(Subscriber, subscriber_id)
    if sub is None:
        raise SubscriberNotFound("no such subscriber")
    return sub


def get_by_customer_number(*, db_session: Session, customer_number: str) -> Subscriber:
    """Return a subscriber by customer number or raise SubscriberNotFound."""
    sub = db_session.scalar(select(Subscriber).where(Subscriber.customer_number == customer_number))
    if sub is None:
        raise SubscriberNotFound(f"no subscriber {customer_number!r}", customer_number=customer_number)
    return sub


def find_by_login(*, db_session: Session, login: str) -> Subscriber | None:
    """Return the subscriber whose customer number or e-mail is login, if any."""
    login = login.strip()
    column = Subscriber.email if "@" in login else Subscriber.customer_number
    return db_session.scalar(select(Subscriber).where(column == (login.lower() if "@" in login else login)))


def snapshot(sub: Subscriber, packages: list[SubscriberPackage]) -> dict:
    """Return the audited view of an account (no secrets)."""
    return {
        "customer_number": sub.customer_number, "email": sub.email, "status": sub.status,
        "status_reason": sub.status_reason, "device_limit": sub.device_limit,
        "has_password": sub.password_hash is not None,
        "packages": sorted(
            ({"code": p.package_code, "valid_from": utc(p.valid_from).isoformat(),
              "valid_to": utc(p.valid_to).isoformat() if p.valid_to else None} for p in packages),
            key=lambda p: p["code"]),
    }


def account_snapshot(*, db_session: Session, sub: Subscriber) -> dict:
    """Return the audited view of an account as it is now."""
    return snapshot(sub, _grants(db_session, sub.id))


def _grants(db_session: Session, subscriber_id: str) -> list[SubscriberPackage]:
    return list(db_session.scalars(select(SubscriberPackage).where(
        SubscriberPackage.subscriber_id == subscriber_id).order_by(SubscriberPackage.package_code)))


def record_change(*, db_session: Session, sub: Subscriber, actor: str, action: str,
                  before: dict | None, request_id: str | None = None) -> AccountChange:
    """Audit a change of an account and publish it as an event once the transaction commits."""
    touch(sub)
    db_session.flush()
    after = snapshot(sub, _grants(db_session, sub.id))
    change = AccountChange(subscriber_id=sub.id, actor=actor, request_id=request_id, action=action,
                           before=before, after=after, at=now_utc())
    db_session.add(change)
    db_session.flush()
    if action != "created":  # running playback follows the change: sessions no longer allowed end now
        events.publish(db_session, AccountChanged(subscriber_id=sub.id, reason=action))
    notify_after_commit(db_session, ACCOUNT_TOPIC + sub.id,
                        {"change_id": change.id, "subscriber_id": sub.id, "action": action,
                         "status": sub.status, "packages": [p["code"] for p in after["packages"]],
                         "at": change.at.isoformat()})
    return change


def touch(sub: Subscriber) -> None:
    """Mark the account changed: cached facts about it (entitlements/playback/service.py) stop being used."""
    sub.updated_at = now_utc()


def upsert_subscriber(*, db_session: Session, customer_number: str, body: BillingSubscriberUpsert,
                      actor: str, request_id: str | None = None) -> tuple[Subscriber, bool]:
    """Create or update a subscriber from billing; return it and whether it was created."""
    sub = db_session.scalar(select(Subscriber).where(Subscriber.customer_number == customer_number)
                            .with_for_update())
    created = sub is None
    before = None if created else snapshot(sub, _grants(db_session, sub.id))
    if created:
        sub = Subscriber(id=new_id(), customer_number=customer_number, status="active")
        db_session.add(sub)
    fields = body.model_fields_set
    if "email" in fields:
        email = body.email.lower() if body.email else None
        if email and db_session.scalar(select(Subscriber.id).where(
                Subscriber.email == email, Subscriber.customer_number != customer_number)):
            raise EmailTaken("another subscriber has this e-mail")
        sub.email = email
    if body.password is not None:
        problem = passwords.password_problem(body.password)
        if problem:
            raise WeakPassword(problem)
        sub.password_hash = passwords.hash_password(body.password)
    if body.password_hash is not None:
        if not passwords.is_argon2_hash(body.password_hash):
            raise WeakPassword("password_hash must be an argon2id PHC string of at most 64 MiB, 4 passes")
        sub.password_hash = body.password_hash
    if "device_limit" in fields:
        sub.device_limit = body.device_limit
    record_change(db_session=db_session, sub=sub, actor=actor, request_id=request_id,
                  action="created" if created else "updated", before=before)
    return sub, created


def set_status(*, db_session: Session, sub: Subscriber, status: str, reason: str | None, actor: str,
               request_id: str | None = None) -> Subscriber:
    """Suspend (with a reason) or resume an account."""
    before = snapshot(sub, _grants(db_session, sub.id))
    sub.status, sub.status_reason = status, reason
    record_change(db_session=db_session, sub=sub, actor=actor, request_id=request_id,
                  action="suspended" if status == "suspended" else "resumed", before=before)
    return sub


def set_packages(*, db_session: Session, sub: Subscriber, grants: list[PackageGrant], actor: str,
                 request_id: str | None = None) -> Subscriber:
    """Replace the subscriber's packages with grants (validity dates checked)."""
    codes = [g.code for g in grants]
    if len(set(codes)) != len(codes):
        raise InvalidValidity("a package is listed twice", codes=codes)
    known = set(db_session.scalars(select(Package.code).where(Package.code.in_(codes))))
    unknown = sorted(set(codes) - known)
    if unknown:
        raise UnknownPackage(f"unknown package code(s): {', '.join(unknown)}", codes=unknown)
    now = now_utc()
    for g in grants:
        start = g.valid_from or now
        if g.valid_to is not None and g.valid_to <= start:
            raise InvalidValidity(f"package {g.code}: valid_to must be after valid_from", code=g.code)
    before = snapshot(sub, _grants(db_session, sub.id))
    db_session.execute(delete(SubscriberPackage).where(SubscriberPackage.subscriber_id == sub.id))
    for g in grants:
        db_session.add(SubscriberPackage(subscriber_id=sub.id, package_code=g.code,
                                         valid_from=g.valid_from or now, valid_to=g.valid_to))
    record_change(db_session=db_session, sub=sub, actor=actor, request_id=request_id,
                  action="packages", before=before)
    return sub


def active_packages(*, db_session: Session, subscriber_id: str,
                    at: dt.datetime | None = None) -> list[tuple[SubscriberPackage, Package]]:
    """Return the subscriber's packages valid at a time (default now)."""
    at = at or now_utc()
    rows = db_session.execute(
        select(SubscriberPackage, Package).join(Package, Package.code == SubscriberPackage.package_code)
        .where(SubscriberPackage.subscriber_id == subscriber_id, SubscriberPackage.valid_from <= at,
               or_(SubscriberPackage.valid_to.is_(None), SubscriberPackage.valid_to > at))
        .order_by(Package.kind.desc(), Package.code)).all()
    return [(g, p) for g, p in rows]


def account_limits(rt: Runtime, *, db_session: Session, sub: Subscriber, at: dt.datetime | None = None,
                   active: list[tuple[SubscriberPackage, Package]] | None = None) -> Limits:
    """Return the account's limits from its active packages (given, or read), override and defaults."""
    if active is None:
        active = active_packages(db_session=db_session, subscriber_id=sub.id, at=at)
    combined = combine_limits(PackageLimits(p.kind, p.max_devices, p.max_streams, p.recording_hours)
                              for _, p in active)
    devices = sub.device_limit or combined["max_devices"] or rt.settings.default_device_limit
    return Limits(max_devices=devices, max_streams=combined["max_streams"],
                  recording_hours=combined["recording_hours"] or 0)


def to_active(grant: SubscriberPackage, package: Package) -> ActivePackage:
    """Return the API view of a package a subscriber holds."""
    return ActivePackage(code=package.code, name=package.name, kind=package.kind,
                         valid_from=utc(grant.valid_from), valid_to=utc(grant.valid_to))


def to_subscriber_read(*, db_session: Session, sub: Subscriber) -> SubscriberRead:
    """Return the billing/staff view of a subscriber (every package, also future ones)."""
    rows = db_session.execute(
        select(SubscriberPackage, Package).join(Package, Package.code == SubscriberPackage.package_code)
        .where(SubscriberPackage.subscriber_id == sub.id).order_by(Package.code)).all()
    return SubscriberRead(id=sub.id, customer_number=sub.customer_number, email=sub.email,
                          status=sub.status, status_reason=sub.status_reason,
                          device_limit=sub.device_limit, has_password=sub.password_hash is not None,
                          packages=[to_active(g, p) for g, p in rows])


def list_changes(*, db_session: Session, subscriber_id: str, offset: int,
                 limit: int) -> tuple[list[AccountChange], int]:
    """Return a page of an account's audit trail, newest first, and the total."""
    where = AccountChange.subscriber_id == subscriber_id
    total = db_session.scalar(select(func.count()).select_from(AccountChange).where(where)) or 0
    rows = db_session.scalars(select(AccountChange).where(where).order_by(AccountChange.id.desc())
                              .offset(offset).limit(limit)).all()
    return list(rows), total


# -- devices -------------------------------------------------------------------------------
def list_devices(*, db_session: Session, subscriber_id: str) -> list[Device]:
    """Return the subscriber's devices, oldest first."""
    return list(db_session.scalars(select(Device).where(Device.subscriber_id == subscriber_id)
                                   .order_by(Device.created_at, Device.id)))


def to_device_read(device: Device, current_id: str | None = None) -> DeviceRead:
    """Return the API view of a device."""
    return DeviceRead(id=device.id, type=device.device_type, name=device.name, model=device.model,
                      platform=device.platform, os_version=device.os_version,
                      device_profile=device_profile(device).code, profile_set_by_staff=device.profile_override is not None,
                      created_at=utc(device.created_at), last_seen_at=utc(device.last_seen_at),
                      current=device.id == current_id)


def device_profile(device: Device | None):  # noqa: ANN201 - streaming.formats.device_profiles.DeviceProfile
    """Return the profile a device's playback is shaped for: staff's choice, else its platform's."""
    if device is None:
        return device_profiles.choose_profile(platform=None, os_version=None)
    return device_profiles.choose_profile(platform=device.platform, os_version=device.os_version,
                                                   device_type=device.device_type, override=device.profile_override)


def set_device_profile(*, db_session: Session, device_id: str, profile: str | None) -> Device:
    """Set (or clear, with None) the profile staff chose for a device; its next playback uses it."""
    device = db_session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound("no such device", device_id=device_id)
    if profile is not None and device_profiles.profile_by_code(profile) is None:
        raise UnknownDeviceProfile(f"no device profile {profile!r}", profile=profile)
    device.profile_override = profile
    db_session.flush()
    return device


def get_device(*, db_session: Session, subscriber_id: str, device_id: str) -> Device:
    """Return one of the subscriber's devices; another account's device is not found."""
    device = db_session.get(Device, device_id)
    if device is None or device.subscriber_id != subscriber_id:
        raise DeviceNotFound("no such device on this account", device_id=device_id)
    return device


def register_device(rt: Runtime, *, db_session: Session, sub: Subscriber, info: DeviceInfo | dict) -> Device:
    """Return the device a player signs in from, registering it within the account's limit."""
    if isinstance(info, dict):
        info = DeviceInfo(**info)
    now = now_utc()
    if info.id is not None:
        device = get_device(db_session=db_session, subscriber_id=sub.id, device_id=info.id)
        device.name, device.model, device.last_seen_at = info.name, info.model, now
        if info.platform is not None:  # an app update may bring a newer OS: the profile follows it
            device.platform, device.os_version = info.platform, info.os_version
        return device
    # Lock the account row so two first logins at once cannot both take the last free slot.
    db_session.execute(select(Subscriber.id).where(Subscriber.id == sub.id).with_for_update())
    devices = list_devices(db_session=db_session, subscriber_id=sub.id)
    limit = account_limits(rt, db_session=db_session, sub=sub).max_devices
    if len(devices) >= limit:
        raise DeviceLimit(f"this account may register {limit} devices; remove one to add this one",
                          limit=limit, devices=[to_device_read(d).model_dump(mode="json") for d in devices])
    device = Device(id=new_id(), subscriber_id=sub.id, device_type=info.type, name=info.name,
                    model=info.model, platform=info.platform, os_version=info.os_version,
                    created_at=now, last_seen_at=now)
    db_session.add(device)
    touch(sub)
    db_session.flush()
    return device


def remove_device(*, db_session: Session, subscriber_id: str, device_id: str) -> None:
    """Remove a device and revoke every sign-in on it."""
    device = get_device(db_session=db_session, subscriber_id=subscriber_id, device_id=device_id)
    events.publish(db_session, DeviceRemoved(subscriber_id=subscriber_id, device_id=device_id))
    db_session.execute(delete(AuthSession).where(AuthSession.device_id == device.id))
    db_session.delete(device)
    touch(get_subscriber(db_session=db_session, subscriber_id=subscriber_id))
    db_session.flush()
    notify_after_commit(db_session, ACCOUNT_TOPIC + subscriber_id,
                        {"subscriber_id": subscriber_id, "action": "device_removed", "device_id": device_id})


def to_profile_read(p) -> DeviceProfileRead:  # noqa: ANN001 - a streaming.formats.device_profiles.DeviceProfile
    """Return the API view of a device profile."""
    low, high = ".".join(map(str, p.min_version)), ".".join(map(str, p.below_version or ()))
    versions = " and ".join(([f">= {low}"] if low else []) + ([f"< {high}"] if high else [])) or "any"
    return DeviceProfileRead(code=p.code, label=p.label, platform=p.platform, versions=versions,
                             segment_set=p.segment_set, max_window_s=p.max_window_s, hls_version=p.hls_version,
                             outage=p.outage, honours_start=p.honours_start, delta_updates=p.delta_updates)
