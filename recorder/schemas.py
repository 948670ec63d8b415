"""Request and response shapes of the cloud DVR API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.validation import NO_CONTROL, UtcDateTime

PadS = Annotated[int, Field(ge=0, le=3600)]
RecordingState = Literal["scheduled", "recording", "completed", "partial", "failed"]


class RecordingCreate(BaseModel):
    """Record a programme (by id) or a time range on a channel."""

    model_config = ConfigDict(extra="forbid")

    programme_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    channel_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] | None = None
    start: UtcDateTime | None = None
    end: UtcDateTime | None = None
    pad_before_s: PadS | None = None
    pad_after_s: PadS | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "RecordingCreate":
        by_range = self.channel_id is not None or self.start is not None or self.end is not None
        if (self.programme_id is None) == (not by_range) or (by_range and None in (self.channel_id, self.start,
                                                                                   self.end)):
            raise ValueError("give a programme_id, or a channel_id with start and end")
        return self


class RecordingRead(BaseModel):
    id: str
    channel_id: str
    programme_id: str | None
    series_id: str | None
    title: str
    start: dt.datetime
    end: dt.datetime
    pad_before_s: int
    pad_after_s: int
    state: str
    failure_reason: str | None
    gaps: list[list[dt.datetime]]
    created_at: dt.datetime
    expires_at: dt.datetime | None


class RecordingPage(BaseModel):
    items: list[RecordingRead]
    total: int
    offset: int
    limit: int


class Quota(BaseModel):
    """Recording hours: what the packages give, what is used, what is scheduled, what is free."""

    hours: float
    used_hours: float
    scheduled_hours: float
    free_hours: float


class SeriesRuleCreate(BaseModel):
    """Record a series: the one a programme belongs to, or a channel's series by id."""

    model_config = ConfigDict(extra="forbid")

    programme_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    channel_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] | None = None
    series_id: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)] | None = None
    scope: Literal["new", "all"] = "new"
    keep_at_most: Annotated[int, Field(ge=1, le=500)] | None = None
    pad_before_s: PadS | None = None
    pad_after_s: PadS | None = None

    @model_validator(mode="after")
    def _which(self) -> "SeriesRuleCreate":
        if (self.programme_id is None) == (self.channel_id is None or self.series_id is None):
            raise ValueError("give a programme_id, or a channel_id with a series_id")
        return self


class SeriesRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["new", "all"] | None = None
    keep_at_most: Annotated[int, Field(ge=1, le=500)] | None = None
    pad_before_s: PadS | None = None
    pad_after_s: PadS | None = None


class SeriesRuleRead(BaseModel):
    id: str
    channel_id: str
    series_id: str
    title: str
    scope: str
    keep_at_most: int | None
    pad_before_s: int
    pad_after_s: int
    recordings: int  # how many recordings it holds now
    skipped_for_quota: int = 0  # episodes it could not record for lack of hours (the last run)
