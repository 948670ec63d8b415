"""Request dependencies of the channel API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from catalog.channels.schemas import ChannelId

ChannelIdPath = Annotated[ChannelId, Path(description="channel id")]
