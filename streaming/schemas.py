"""Response shapes of the streaming API."""

from __future__ import annotations

from pydantic import BaseModel


class IngestAccepted(BaseModel):
    kind: str
    published: int


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
