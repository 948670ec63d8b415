"""Package tables: packages, their channels, subscribers' grants, channel rights, the address-range table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from entitlements.accounts.models import Timestamp
from infra.db import Base


class Package(Base):
    """A commercial package (base TV, HBO, sports...) and the limits it grants."""

    __tablename__ = "packages"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # base | addon
    # None: this package says nothing about that limit (see entitlements/packages/rules.py).
    max_devices: Mapped[int | None] = mapped_column(Integer)
    max_streams: Mapped[int | None] = mapped_column(Integer)
    recording_hours: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now(),
                                                    onupdate=func.now())


class PackageChannel(Base):
    """A channel a package grants."""

    __tablename__ = "package_channels"

    package_code: Mapped[str] = mapped_column(ForeignKey("packages.code", ondelete="CASCADE"),
                                              primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


class SubscriberPackage(Base):
    """A package a subscriber has, from valid_from until valid_to (open-ended when None)."""

    __tablename__ = "subscriber_packages"

    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               primary_key=True)
    package_code: Mapped[str] = mapped_column(ForeignKey("packages.code", ondelete="RESTRICT"),
                                              primary_key=True, index=True)
    valid_from: Mapped[dt.datetime] = mapped_column(Timestamp)
    valid_to: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class ChannelRights(Base):
    """What a channel's licence allows; a channel without a row has the default rights."""

    __tablename__ = "channel_rights"

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    timeshift: Mapped[bool] = mapped_column(Boolean, default=True)
    timeshift_window_s: Mapped[int | None] = mapped_column(Integer)
    startover: Mapped[bool] = mapped_column(Boolean, default=True)
    catchup: Mapped[bool] = mapped_column(Boolean, default=True)
    catchup_days: Mapped[int] = mapped_column(Integer, default=7)
    recording: Mapped[bool] = mapped_column(Boolean, default=True)
    # shared: one stored copy serves everyone; private: a copy of its own per recording
    recording_copy: Mapped[str] = mapped_column(String(8), default="shared", server_default="shared")
    device_types: Mapped[list[str] | None] = mapped_column(JSON)  # None: every type
    countries: Mapped[list[str] | None] = mapped_column(JSON)  # None: anywhere
    age_rating: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now(), onupdate=func.now())


class GeoRange(Base):
    """An address range and the country it is in (the operator's table, e.g. from a GeoIP export)."""

    __tablename__ = "geo_ranges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(49))  # CIDR, IPv4 or IPv6
    country: Mapped[str] = mapped_column(String(2))
