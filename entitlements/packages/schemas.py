"""Request and response shapes of the package and rights APIs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from entitlements.accounts.schemas import AgeRating, DeviceType, PackageCode, Strict
from infra.validation import NO_CONTROL


# -- packages (staff) --------------------------------------------------------------------------
class PackageBase(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
    kind: Literal["base", "addon"]
    max_devices: Annotated[int, Field(ge=0, le=100)] | None = None
    max_streams: Annotated[int, Field(ge=0, le=100)] | None = None
    recording_hours: Annotated[int, Field(ge=0, le=100_000)] | None = None


class PackageCreate(PackageBase):
    code: PackageCode
    channels: list[Annotated[str, Field(max_length=64, pattern=NO_CONTROL)]] = Field(default_factory=list, max_length=2000)


class PackageUpdate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)] | None = None
    kind: Literal["base", "addon"] | None = None
    max_devices: Annotated[int, Field(ge=0, le=100)] | None = None
    max_streams: Annotated[int, Field(ge=0, le=100)] | None = None
    recording_hours: Annotated[int, Field(ge=0, le=100_000)] | None = None


class PackageChannels(Strict):
    channels: list[Annotated[str, Field(max_length=64, pattern=NO_CONTROL)]] = Field(max_length=2000)


class PackageRead(BaseModel):
    code: str
    name: str
    kind: str
    max_devices: int | None
    max_streams: int | None
    recording_hours: int | None
    channels: list[str]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class ChannelRightsBody(Strict):
    """A channel's licence: the modes, devices and places it may be watched in."""

    live: bool = True
    timeshift: bool = True
    timeshift_window_s: Annotated[int, Field(ge=0, le=7 * 86400)] | None = None
    startover: bool = True
    catchup: bool = True
    catchup_days: Annotated[int, Field(ge=0, le=30)] = 7
    recording: bool = True
    # Rights holders who require each subscriber's recording to be a copy of its own say private.
    recording_copy: Literal["shared", "private"] = "shared"
    device_types: list[DeviceType] | None = Field(None, max_length=5)
    countries: list[Country] | None = Field(None, max_length=250)
    age_rating: AgeRating | None = None


class ChannelRightsRead(ChannelRightsBody):
    channel_id: str


class GeoRangesBody(Strict):
    """The whole address-range table as CSV lines "CIDR,COUNTRY" (replaces the previous one)."""

    csv: Annotated[str, Field(max_length=512 * 1024)]
