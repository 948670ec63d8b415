"""Request dependencies of the catalogue API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from catalog.schemas import ChannelId

ChannelIdPath = Annotated[ChannelId, Path(description="channel id")]
