"""Request and response shapes of the catalogue API."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChannelId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", max_length=64)]
RenditionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
SegmentSet = Literal["cmaf", "ts"]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class RenditionSpec(Strict):
    name: RenditionName
    width: int = Field(ge=16, le=7680)
    height: int = Field(ge=16, le=4320)
    video_bitrate_kbps: int = Field(ge=50, le=100_000)
    audio_bitrate_kbps: int = Field(96, ge=0, le=1024)
    frame_rate: float = Field(25.0, gt=0, le=120)
    codecs: str = Field("avc1.64001e,mp4a.40.2", pattern=r"^[A-Za-z0-9.,]{4,100}$")

    model_config = ConfigDict(extra="forbid", from_attributes=True)


def _check_ladder(renditions: list[RenditionSpec], segment_duration_ms: int) -> None:
    names = [r.name for r in renditions]
    if len(set(names)) != len(names):
        raise ValueError("rendition names must be unique")
    for r in renditions:
        frames = segment_duration_ms * r.frame_rate / 1000
        if abs(frames - round(frames)) > 1e-6:
            raise ValueError(
                f"segment_duration_ms {segment_duration_ms} is not a whole number of frames at "
                f"{r.frame_rate} fps (rendition {r.name}); at 25 fps use 1920 or 3840"
            )


class ChannelBase(Strict):
    name: str = Field(min_length=1, max_length=200)
    number: int | None = Field(None, ge=1, le=99_999)
    logo_url: str | None = Field(None, max_length=1000, pattern=r"^https?://")
    timeshift_window_s: int = Field(7200, ge=0, le=7 * 86400)
    segment_sets: list[SegmentSet] = Field(default_factory=lambda: ["cmaf"], min_length=1)
    enabled: bool = True

    @field_validator("segment_sets")
    @classmethod
    def _cmaf_always(cls, v: list[str]) -> list[str]:
        if "cmaf" not in v:
            raise ValueError("segment_sets must include cmaf (TS is an optional second set)")
        return sorted(set(v))


class ChannelCreate(ChannelBase):
    id: ChannelId
    segment_duration_ms: int = Field(1920, ge=500, le=10_000)
    target_duration_s: int | None = Field(None, ge=1, le=20)
    renditions: list[RenditionSpec] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _check(self) -> "ChannelCreate":
        _check_ladder(self.renditions, self.segment_duration_ms)
        minimum = math.ceil(self.segment_duration_ms / 1000)
        if self.target_duration_s is None:
            self.target_duration_s = minimum
        elif self.target_duration_s < minimum:
            raise ValueError(f"target_duration_s must be at least {minimum}")
        return self


class ChannelUpdate(Strict):
    """Fields an operator may change on a running channel (timing and ladder are fixed)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    number: int | None = Field(None, ge=1, le=99_999)
    logo_url: str | None = Field(None, max_length=1000, pattern=r"^https?://")
    timeshift_window_s: int | None = Field(None, ge=0, le=7 * 86400)
    enabled: bool | None = None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    number: int | None
    logo_url: str | None
    segment_duration_ms: int
    target_duration_s: int
    timeshift_window_s: int
    segment_sets: list[str]
    enabled: bool
    renditions: list[RenditionSpec]
    audio_frame_aligned: bool
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class IngestCredentials(BaseModel):
    """Where and how an encoder pushes this channel."""

    channel_id: str
    url: str
    username: str
    password: str


class ChannelPagination(BaseModel):
    items: list[ChannelRead]
    total: int
