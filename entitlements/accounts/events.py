"""What an account announces to the playback door, inside the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountChanged:
    """An account's status, packages or limits changed (``reason`` is the audited action)."""

    subscriber_id: str
    reason: str


@dataclass(frozen=True)
class DeviceRemoved:
    """A device was removed from an account: what plays on it stops."""

    subscriber_id: str
    device_id: str
