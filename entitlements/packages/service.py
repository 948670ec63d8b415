"""Packages, the channels they grant, channel rights and the address-range table.

Services take ``db_session`` and never commit; the pure rules live in `rules.py`.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from catalog.channels.errors import InvalidChannel
from entitlements.packages.errors import (
    InvalidGeoTable,
    PackageExists,
    PackageInUse,
    PackageNotFound,
)
from entitlements.packages.events import CatalogueChanged
from entitlements.packages.geo import GeoTable, parse_ranges
from entitlements.packages.models import (
    ChannelRights,
    GeoRange,
    Package,
    PackageChannel,
    SubscriberPackage,
)
from entitlements.packages.rules import Rights
from entitlements.packages.schemas import (
    ChannelRightsBody,
    ChannelRightsRead,
    PackageCreate,
    PackageRead,
    PackageUpdate,
)
from infra import events
from infra.runtime import Runtime, notify_after_commit

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


def existing_codes(*, db_session: Session, codes: list[str]) -> set[str]:
    """Return which of these package codes are packages."""
    if not codes:
        return set()
    return set(db_session.scalars(select(Package.code).where(Package.code.in_(codes))))


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


GEO_TOPIC = "entitlements.geo"


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
    events.publish(db_session, CatalogueChanged(reason="rights_changed", channel_ids=(channel_id,)))
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


def country_of(rt: Runtime, *, db_session: Session, address: str) -> str | None:
    """Return the country of a client address from the table (kept in memory per process)."""
    memory = rt.state(GeoMemory)
    table = memory.table
    if table is None:
        table = memory.table = GeoTable.build(geo_rows(db_session=db_session))
    return table.country(address)


class GeoMemory:
    """This process's copy of the address-range table (``rt.state(GeoMemory)``), dropped on change."""

    def __init__(self, rt: Runtime) -> None:
        self.table: GeoTable | None = None
        rt.bus.subscribe(GEO_TOPIC, self._forget)

    def _forget(self, _topic: str, _message: dict) -> None:
        self.table = None
