"""Request and response shapes of the playback door."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from entitlements.accounts.schemas import Id32, Strict
from infra.validation import UtcDateTime


# -- playback ---------------------------------------------------------------------------------
class ContentRef(Strict):
    type: Literal["channel", "programme", "recording", "title"]
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


MAX_BYTIME_S = 24 * 3600


class PlaybackRequest(Strict):
    """What to play: a channel live, time-shifted or by time; a programme from its start or as catch-up."""

    content: ContentRef
    mode: Literal["live", "timeshift", "startover", "catchup", "bytime", "recording", "vod"] = "live"
    start: UtcDateTime | None = None  # by time: UTC start, and an end or a duration
    end: UtcDateTime | None = None
    duration_s: Annotated[int, Field(ge=1, le=MAX_BYTIME_S)] | None = None
    profile_id: Id32 | None = None
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None
    segment_set: Literal["cmaf", "ts"] | None = None  # None: the device profile's

    @model_validator(mode="after")
    def _window(self) -> "PlaybackRequest":
        if self.mode != "bytime":
            if self.start or self.end or self.duration_s:
                raise ValueError("start, end and duration_s go with mode bytime only")
            return self
        if self.start is None or (self.end is None) == (self.duration_s is None):
            raise ValueError("mode bytime takes start and either end or duration_s")
        if self.end is None:
            self.end = self.start + dt.timedelta(seconds=self.duration_s)
        if not dt.timedelta(0) < self.end - self.start <= dt.timedelta(seconds=MAX_BYTIME_S):
            raise ValueError(f"end must be after start, by {MAX_BYTIME_S} seconds at most")
        return self


class PlaybackStart(BaseModel):
    session_id: str
    url: str
    expires_at: dt.datetime
    heartbeat_every_s: int
    replaced_session_id: str | None = None
    device_profile: str = "standard"  # how the playlists are shaped for this device
    segment_set: str = "cmaf"
    window_start: dt.datetime | None = None  # start-over, catch-up and by time: what the playlist spans
    window_end: dt.datetime | None = None


class StreamRead(BaseModel):
    session_id: str
    device_id: str
    content: str
    mode: str
    started_at: dt.datetime
    current: bool = False


class PlaybackDecisionRead(BaseModel):
    id: int
    at: dt.datetime
    subscriber_id: str
    device_id: str
    session_id: str | None
    content: str
    mode: str
    outcome: str
    reason: str | None
    address: str | None
