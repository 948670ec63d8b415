"""Request and response shapes of the account, device and billing APIs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from infra.validation import NO_CONTROL, UtcDateTime

DeviceType = Literal["smart_tv", "stb", "mobile", "tablet", "web"]
Platform = Literal["tizen", "webos", "android", "ios", "tvos", "browser", "stb"]  # streaming.formats.device_profiles
OsVersion = Annotated[str, Field(pattern=r"^\d{1,4}(\.\d{1,4}){0,3}$", description="dotted, e.g. 4.0")]
ProfileCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
PackageCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
CustomerNumber = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")]
Id32 = Annotated[str, Field(pattern=r"^[a-f0-9]{32}$")]
Text100 = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL)]
Login = Annotated[str, Field(min_length=1, max_length=254, pattern=NO_CONTROL)]
Secret = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# -- sign-in --------------------------------------------------------------------------------
class DeviceInfo(Strict):
    """The device a player signs in from; ``id`` is the one it was given at its first login."""

    id: Id32 | None = None
    type: DeviceType
    name: Text100
    model: Annotated[str, Field(max_length=100, pattern=NO_CONTROL)] | None = None
    platform: Platform | None = None  # picks the device profile, with os_version
    os_version: OsVersion | None = None


class LoginRequest(Strict):
    login: Login  # customer number or e-mail
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    device: DeviceInfo


class RefreshRequest(Strict):
    refresh_token: Secret


class TokenPair(BaseModel):
    token_type: Literal["Bearer"] = "Bearer"
    access_token: str
    expires_in: int
    refresh_token: str
    device_id: str
    subscriber_id: str


class PasswordResetRequest(Strict):
    login: Login


class PasswordResetConfirm(Strict):
    token: Secret
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


class DeviceCodeRequest(Strict):
    """What a TV sends to start a sign-in by code."""

    type: DeviceType = "smart_tv"
    name: Text100 = "TV"
    model: Annotated[str, Field(max_length=100, pattern=NO_CONTROL)] | None = None
    platform: Platform | None = None
    os_version: OsVersion | None = None


class DeviceCodeResponse(BaseModel):
    """RFC 8628 section 3.2."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceApproval(Strict):
    user_code: Annotated[str, Field(min_length=4, max_length=16, pattern=NO_CONTROL)]
    approve: bool = True


# -- the account as a player sees it ----------------------------------------------------------
class DeviceRead(BaseModel):
    id: str
    type: str
    name: str
    model: str | None
    platform: str | None = None
    os_version: str | None = None
    device_profile: str = "standard"  # what playback is shaped for (streaming/formats/device_profiles.py)
    profile_set_by_staff: bool = False
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool = False


class DeviceRename(Strict):
    name: Text100


class DeviceProfileSet(Strict):
    """Staff's choice of a device's profile; null goes back to the one its platform and version pick."""

    profile: ProfileCode | None


class DeviceProfileRead(BaseModel):
    """One device profile: which devices it covers and how their playlists are shaped."""

    code: str
    label: str
    platform: str | None
    versions: str  # e.g. ">= 4", "< 4", "any"
    segment_set: str
    max_window_s: int | None
    hls_version: int
    outage: str  # gap | slate
    honours_start: bool
    delta_updates: bool


class Limits(BaseModel):
    """The account's limits after combining its active packages (see entitlements/packages/rules.py)."""

    max_devices: int
    max_streams: int | None
    recording_hours: int


class ActivePackage(BaseModel):
    code: str
    name: str
    kind: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None


class AccountRead(BaseModel):
    id: str
    customer_number: str
    email: str | None
    status: str
    status_reason: str | None
    packages: list[ActivePackage]
    limits: Limits
    devices: int


# -- billing and self-care ----------------------------------------------------------------------
class BillingSubscriberUpsert(Strict):
    """Create or update a subscriber; a password is hashed here, a hash is taken as it is."""

    email: EmailStr | None = None
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    password_hash: Annotated[str, Field(max_length=200)] | None = None
    device_limit: Annotated[int, Field(ge=1, le=100)] | None = None

    @model_validator(mode="after")
    def _one_password(self) -> "BillingSubscriberUpsert":
        if self.password is not None and self.password_hash is not None:
            raise ValueError("give password or password_hash, not both")
        return self


class PackageGrant(Strict):
    code: PackageCode
    valid_from: UtcDateTime | None = None  # default: now
    valid_to: UtcDateTime | None = None  # default: open-ended


class BillingPackages(Strict):
    """The subscriber's whole set of packages: what is not listed is taken away."""

    packages: list[PackageGrant] = Field(max_length=100)


class Suspension(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]


class SubscriberRead(BaseModel):
    id: str
    customer_number: str
    email: str | None
    status: str
    status_reason: str | None
    device_limit: int | None
    has_password: bool
    packages: list[ActivePackage]


class AccountChangeRead(BaseModel):
    id: int
    subscriber_id: str
    actor: str
    request_id: str | None
    action: str
    before: dict | None
    after: dict | None
    at: dt.datetime


class AccountChangePagination(BaseModel):
    items: list[AccountChangeRead]
    total: int


# -- rights, places, profiles (staff and subscribers) ----------------------------------------------
AgeRating = Annotated[int, Field(ge=0, le=18)]  # the Polish scale: 0 (AL), 7, 12, 16, 18


class ProfileCreate(Strict):
    name: Text100
    parental_threshold: AgeRating | None = None


class ProfileUpdate(Strict):
    name: Text100 | None = None
    parental_threshold: AgeRating | None = None
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None  # needed to loosen a threshold


class ProfileRead(BaseModel):
    id: str
    name: str
    parental_threshold: int | None


class PinSet(Strict):
    """Set the household PIN; the account password proves it is the parent."""

    password: Annotated[str, Field(min_length=1, max_length=1024)]
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")]


@dataclass(frozen=True)
class Principal:
    """The signed-in subscriber behind an access token."""

    subscriber_id: str
    device_id: str
    session_id: str
