"""Account tables: subscribers, devices, sign-ins, password resets, profiles, billing requests and changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime

Timestamp = UTCDateTime()


class Subscriber(Base):
    """A household account, as billing knows it: logs in by customer number or e-mail."""

    __tablename__ = "subscribers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-case
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id PHC string
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    status_reason: Mapped[str | None] = mapped_column(String(200))
    # Overrides the device limit that the packages give (a customer-care exception).
    device_limit: Mapped[int | None] = mapped_column(Integer)
    # The household's parental PIN (HMAC with the server key; tries are limited online).
    parental_pin_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now(),
                                                    onupdate=func.now())


class Device(Base):
    """A registered player device of a subscriber (counts against the device limit)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               index=True)
    device_type: Mapped[str] = mapped_column(String(16))  # smart_tv | stb | mobile | tablet | web
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str | None] = mapped_column(String(16))  # tizen | webos | android | ios | ...
    os_version: Mapped[str | None] = mapped_column(String(32))
    profile_override: Mapped[str | None] = mapped_column(String(32))  # set by staff: a device profile code
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    last_seen_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class AuthSession(Base):
    """One signed-in app on one device: the family its rotating refresh tokens belong to."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)  # absolute end, however often refreshed
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """A refresh token (only its SHA-256 is kept); used once, then replaced."""

    __tablename__ = "refresh_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"),
                                            index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class DeviceAuthorization(Base):
    """A pending TV sign-in by code (RFC 8628): the TV polls, a signed-in phone approves."""

    __tablename__ = "device_authorizations"

    device_code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    device_type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str | None] = mapped_column(String(16))
    os_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|denied|used
    subscriber_id: Mapped[str | None] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    interval_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class PasswordReset(Base):
    """A one-time, expiring password reset token (only its SHA-256 is kept)."""

    __tablename__ = "password_resets"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               index=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class AccountChange(Base):
    """The audit trail of an account: who changed what, when, before and after.

    Ordered by id, it is also the durable log of entitlement events (the bus carries them live).
    """

    __tablename__ = "account_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[str] = mapped_column(String(32), index=True)  # no FK: history outlives rows
    actor: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(Timestamp)


class BillingRequest(Base):
    """A billing request already carried out, kept so a retry with its id changes nothing."""

    __tablename__ = "billing_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "{client}:{request id}"
    body_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class Profile(Base):
    """A household member's profile, with the age rating it may watch without the PIN."""

    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               index=True)
    name: Mapped[str] = mapped_column(String(100))
    parental_threshold: Mapped[int | None] = mapped_column(Integer)  # None: no restriction
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
