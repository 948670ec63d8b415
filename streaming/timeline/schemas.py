"""Response shapes of the timeline API: the staff view of runs and status, the players' channel list."""

from __future__ import annotations

from pydantic import BaseModel


class TimelineRunRead(BaseModel):
    first_seq: int
    count: int
    start: str
    end: str
    uniform: bool
    discontinuity: bool
    gap: bool


class TimelineRead(BaseModel):
    channel_id: str
    version: int
    runs: list[TimelineRunRead]


class ChannelStatusRead(BaseModel):
    """What the packager reports about a channel, plus when its last segment arrived."""

    channel_id: str
    state: str
    reason: str | None = None
    restarts: int = 0
    current_source: str | None = None
    node: str | None = None
    last_segment_at: str | None = None
    updated_at: str | None = None


class PlayerChannel(BaseModel):
    """A channel as a player lists it."""

    id: str
    name: str
    number: int | None
    logo_url: str | None
    state: str
    playback_url: str
