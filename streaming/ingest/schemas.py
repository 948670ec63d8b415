"""Response shapes of the ingest API."""

from __future__ import annotations

from pydantic import BaseModel


class IngestCredentials(BaseModel):
    """Where and how an encoder pushes this channel."""

    channel_id: str
    url: str
    username: str
    password: str
