"""Packages and their channels. Services take ``db_session`` and never commit."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from entitlements.packages.errors import PackageExists, PackageInUse, PackageNotFound
from entitlements.packages.events import CatalogueChanged
from entitlements.packages.models import Package, PackageChannel, SubscriberPackage
from entitlements.packages.schemas import PackageCreate, PackageRead, PackageUpdate
from infra import events
from infra.runtime import notify_after_commit

PACKAGE_TOPIC = "entitlements.package."


# -- packages -------------------------------------------------------------------------------
def get_package(*, db_session: Session, code: str) -> Package:
    """Return a package or raise PackageNotFound."""
    package = db_session.get(Package, code)
    if package is None:
        raise PackageNotFound(f"no package {code!r}", code=code)
    return package


def package_channels(*, db_session: Session, code: str) -> list[str]:
    """Return the channel ids a package grants."""
    return list(db_session.scalars(select(PackageChannel.channel_id)
                                   .where(PackageChannel.package_code == code).order_by(PackageChannel.channel_id)))


def to_package_read(*, db_session: Session, package: Package) -> PackageRead:
    """Return the API view of a package."""
    return PackageRead(code=package.code, name=package.name, kind=package.kind,
                       max_devices=package.max_devices, max_streams=package.max_streams,
                       recording_hours=package.recording_hours,
                       channels=package_channels(db_session=db_session, code=package.code))


def list_packages(*, db_session: Session) -> list[Package]:
    """Return every package."""
    return list(db_session.scalars(select(Package).order_by(Package.kind, Package.code)))


def create_package(*, db_session: Session, package_in: PackageCreate) -> Package:
    """Create a package and the channels it grants."""
    if db_session.get(Package, package_in.code) is not None:
        raise PackageExists(f"package {package_in.code!r} exists", code=package_in.code)
    package = Package(**package_in.model_dump(exclude={"channels"}))
    db_session.add(package)
    db_session.flush()
    set_package_channels(db_session=db_session, package=package, channels=package_in.channels)
    return package


def update_package(*, db_session: Session, code: str, package_in: PackageUpdate) -> Package:
    """Change a package's name, kind or limits (a limit set to null stops granting it)."""
    package = get_package(db_session=db_session, code=code)
    for field in package_in.model_fields_set:
        value = getattr(package_in, field)
        if field in ("name", "kind") and value is None:
            continue
        setattr(package, field, value)
    db_session.flush()
    notify_after_commit(db_session, PACKAGE_TOPIC + code, {"code": code, "action": "updated"})
    _recheck(db_session, reason="package_changed", package_code=code)
    return package


def set_package_channels(*, db_session: Session, package: Package, channels: list[str]) -> None:
    """Replace the channels a package grants."""
    wanted = sorted(set(channels))
    catalog_service.require_channels(db_session=db_session, channel_ids=wanted)
    removed = sorted(set(package_channels(db_session=db_session, code=package.code)) - set(wanted))
    db_session.execute(delete(PackageChannel).where(PackageChannel.package_code == package.code))
    for cid in wanted:
        db_session.add(PackageChannel(package_code=package.code, channel_id=cid))
    db_session.flush()
    notify_after_commit(db_session, PACKAGE_TOPIC + package.code, {"code": package.code, "action": "channels"})
    if removed:
        _recheck(db_session, reason="package_changed", channel_ids=removed)


def _recheck(db_session: Session, reason: str, channel_ids: list[str] | None = None,
             package_code: str | None = None) -> None:
    # Sessions running on what changed are re-decided in the same transaction as the change.
    events.publish(db_session, CatalogueChanged(reason=reason, package_code=package_code,
                                                channel_ids=tuple(channel_ids) if channel_ids is not None else None))


def delete_package(*, db_session: Session, code: str) -> None:
    """Delete a package no subscriber holds."""
    package = get_package(db_session=db_session, code=code)
    holders = db_session.scalar(select(func.count()).select_from(SubscriberPackage)
                                .where(SubscriberPackage.package_code == code)) or 0
    if holders:
        raise PackageInUse(f"{holders} subscriber(s) hold package {code!r}", code=code, holders=holders)
    db_session.delete(package)
    db_session.flush()
    notify_after_commit(db_session, PACKAGE_TOPIC + code, {"code": code, "action": "deleted"})


def packages_granting_channel(*, db_session: Session, channel_id: str) -> list[Package]:
    """Return the packages that grant a channel (for upsell when a subscriber lacks it)."""
    return list(db_session.scalars(
        select(Package).join(PackageChannel, PackageChannel.package_code == Package.code)
        .where(PackageChannel.channel_id == channel_id).order_by(Package.kind, Package.code)))
