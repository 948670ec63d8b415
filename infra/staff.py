"""Operator staff authentication: API keys with ranked roles (viewer < editor < publisher < operator < admin)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.db import Base, UTCDateTime
from infra.errors import Forbidden, Unauthorized

# Ranked: each role may do what the ones below it may. Content ops edit (editor) and publish
# (publisher) VOD titles; channel operations need operator; keys, billing and ingest need admin.
ROLES = ("viewer", "editor", "publisher", "operator", "admin")


class StaffApiKey(Base):
    """A staff member's or tool's API key; only its SHA-256 is stored."""

    __tablename__ = "staff_api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StaffAuthRequired(Unauthorized):
    code = "STAFF_AUTH_REQUIRED"


class StaffRoleTooLow(Forbidden):
    code = "STAFF_ROLE_TOO_LOW"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, db_session: Session, name: str, role: str, key: str | None = None) -> str:
    """Create a key with a role and return it (shown once, stored hashed)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    key = key or "sgk_" + secrets.token_urlsafe(32)
    db_session.add(StaffApiKey(id=secrets.token_hex(8), name=name, role=role, key_sha256=_digest(key)))
    db_session.flush()
    return key


def ensure_bootstrap_key(*, db_session: Session, key: str) -> None:
    """Make sure the configured bootstrap admin key exists, so a new install can be administered."""
    digest = _digest(key)
    if db_session.scalar(select(StaffApiKey.id).where(StaffApiKey.key_sha256 == digest)) is None:
        try:
            with db_session.begin_nested():
                db_session.add(StaffApiKey(id=secrets.token_hex(8), name="bootstrap", role="admin",
                                           key_sha256=digest))
        except IntegrityError:
            pass  # another process starting beside this one (origins behind a balancer) made it first


def authenticate(*, db_session: Session, key: str | None, min_role: str) -> StaffApiKey:
    """Return the key's record if it is valid and its role is at least min_role."""
    if not key:
        raise StaffAuthRequired("staff API key required (header X-API-Key)")
    row = db_session.scalar(select(StaffApiKey).where(StaffApiKey.key_sha256 == _digest(key)))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_sha256, _digest(key)):
        raise StaffAuthRequired("unknown or revoked staff API key")
    if ROLES.index(row.role) < ROLES.index(min_role):
        raise StaffRoleTooLow(f"this action needs the {min_role} role", role=row.role)
    return row
