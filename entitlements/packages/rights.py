"""Rights of channels and the address-range table.

Services take ``db_session`` and never commit; the pure rules live in `decision.py`.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from catalog.channels.errors import InvalidChannel
from entitlements.packages.errors import InvalidGeoTable
from entitlements.packages.events import CatalogueChanged
from entitlements.packages.geo import GeoTable, parse_ranges
from entitlements.packages.models import ChannelRights, GeoRange
from entitlements.packages.rules import Rights
from entitlements.packages.schemas import ChannelRightsBody, ChannelRightsRead
from infra import events
from infra.runtime import notify_after_commit, runtime

GEO_TOPIC = "entitlements.packages.geo"


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
