"""Request and response shapes of the channel API."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from infra.validation import NO_CONTROL, URL

ChannelId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", max_length=64)]
RenditionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
SegmentSet = Literal["cmaf", "ts"]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# What x264 (the packager's and the slates' encoder) can make of a rendition: 4:2:0 video is coded
# in 2x2 blocks, so sizes are even; 7680x4320 (8K) is the largest frame H.264's levels allow; frame
# rates from 1 to 120 fps, given to ffmpeg as written (so at most three decimals).
MAX_WIDTH, MAX_HEIGHT = 7680, 4320
MIN_FRAME_RATE, MAX_FRAME_RATE = 1.0, 120.0


class RenditionRead(BaseModel):
    """A rendition as stored (one accepted before today's checks still reads)."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    width: int
    height: int
    video_bitrate_kbps: int
    audio_bitrate_kbps: int
    frame_rate: float
    codecs: str


class RenditionSpec(Strict):
    name: RenditionName
    width: int = Field(ge=16, le=MAX_WIDTH)
    height: int = Field(ge=16, le=MAX_HEIGHT)
    video_bitrate_kbps: int = Field(ge=50, le=100_000)
    audio_bitrate_kbps: int = Field(96, ge=0, le=1024)
    frame_rate: float = Field(25.0, ge=MIN_FRAME_RATE, le=MAX_FRAME_RATE, allow_inf_nan=False)
    codecs: str = Field("avc1.64001e,mp4a.40.2", pattern=r"^[A-Za-z0-9.,]{4,100}$")

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int, info: ValidationInfo) -> int:
        if v % 2:
            raise ValueError(f"{info.field_name} must be even: x264 codes 4:2:0 video in 2x2 blocks")
        return v

    @field_validator("frame_rate")
    @classmethod
    def _as_written(cls, v: float) -> float:
        if round(v, 3) != v:
            raise ValueError("frame_rate may have at most three decimals (ffmpeg is given it as written)")
        return v


SOURCE_SCHEMES = ("udp", "srt", "rtmp", "rtmps", "http", "https", "file", "testcard")


def check_source_url(url: str | None) -> str | None:
    """Accept the source kinds the packager can pull (see streaming/packager/arguments.py)."""
    if url is None:
        return None
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in SOURCE_SCHEMES:
        raise ValueError(f"source_url must start with one of {', '.join(s + ':' for s in SOURCE_SCHEMES)}")
    if any(ord(c) < 33 or ord(c) == 127 for c in url) or len(url) > 2000:
        raise ValueError("source_url must not contain spaces or control characters")
    if scheme == "file" and (not url.startswith("file:///") or "/../" in url or url.endswith("/..")):
        raise ValueError("file sources need an absolute path: file:///path/to/video.ts")
    return url


class AudioTrackSpec(Strict):
    """A demuxed audio rendition, e.g. Polish voice-over and the original soundtrack."""

    name: RenditionName
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    label: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    default: bool = False
    bitrate_kbps: int = Field(96, ge=32, le=512)

    model_config = ConfigDict(extra="forbid", from_attributes=True)


def _check_ladder(renditions: list[RenditionSpec], segment_duration_ms: int,
                  audio_tracks: list[AudioTrackSpec] = ()) -> None:  # type: ignore[assignment]
    names = [r.name for r in renditions] + [a.name for a in audio_tracks]
    if len(set(names)) != len(names):
        raise ValueError("rendition and audio track names must be unique")
    if audio_tracks and sum(a.default for a in audio_tracks) != 1:
        raise ValueError("exactly one audio track must be the default")
    if len({r.frame_rate for r in renditions}) > 1:
        raise ValueError("every rendition needs the same frame_rate: the packager encodes the ladder at one rate, "
                         "and renditions share segment boundaries")
    for r in renditions:
        frames = segment_duration_ms * r.frame_rate / 1000
        if abs(frames - round(frames)) > 1e-6:
            raise ValueError(
                f"segment_duration_ms {segment_duration_ms} is not a whole number of frames at "
                f"{r.frame_rate} fps (rendition {r.name}); at 25 fps use 1920 or 3840"
            )


class ChannelBase(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    number: int | None = Field(None, ge=1, le=99_999)
    logo_url: str | None = Field(None, max_length=1000, pattern=URL)
    timeshift_window_s: int = Field(7200, ge=0, le=7 * 86400)
    archive_days: int = Field(7, ge=0, le=30)
    segment_sets: list[SegmentSet] = Field(default_factory=lambda: ["cmaf"], min_length=1)
    enabled: bool = True
    source_url: str | None = None
    backup_source_url: str | None = None
    encryption: Literal["none", "aes-128"] = "none"
    key_rotation_s: int = Field(600, ge=60, le=86400)

    @field_validator("source_url", "backup_source_url")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        return check_source_url(v)

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
    packaging: Literal["ladder", "passthrough"] = "ladder"
    audio_tracks: list[AudioTrackSpec] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _check(self) -> "ChannelCreate":
        _check_ladder(self.renditions, self.segment_duration_ms, self.audio_tracks)
        if self.packaging == "passthrough" and len(self.renditions) != 1:
            raise ValueError("a passthrough channel has exactly one rendition: the source's")
        if self.backup_source_url and not self.source_url:
            raise ValueError("a backup source needs a primary source_url")
        minimum = math.ceil(self.segment_duration_ms / 1000)
        if self.target_duration_s is None:
            self.target_duration_s = minimum
        elif self.target_duration_s < minimum:
            raise ValueError(f"target_duration_s must be at least {minimum}")
        return self


class ChannelUpdate(Strict):
    """Fields an operator may change on a running channel (timing and ladder are fixed)."""

    name: str | None = Field(None, min_length=1, max_length=200, pattern=NO_CONTROL)
    number: int | None = Field(None, ge=1, le=99_999)
    logo_url: str | None = Field(None, max_length=1000, pattern=URL)
    timeshift_window_s: int | None = Field(None, ge=0, le=7 * 86400)
    archive_days: int | None = Field(None, ge=0, le=30)
    enabled: bool | None = None
    source_url: str | None = None
    backup_source_url: str | None = None
    encryption: Literal["none", "aes-128"] | None = None
    key_rotation_s: int | None = Field(None, ge=60, le=86400)

    @field_validator("source_url", "backup_source_url")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        return check_source_url(v)


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    number: int | None
    logo_url: str | None
    segment_duration_ms: int
    target_duration_s: int
    timeshift_window_s: int
    archive_days: int
    segment_sets: list[str]
    enabled: bool
    renditions: list[RenditionRead]
    audio_tracks: list[AudioTrackSpec]
    packaging: str
    source_url: str | None
    backup_source_url: str | None
    encryption: str = "none"
    key_rotation_s: int = 600
    audio_frame_aligned: bool
    # Why the outage slates of the TS set could not be made (not tried again until the channel is changed).
    slate_error: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class ChannelPagination(BaseModel):
    items: list[ChannelRead]
    total: int
