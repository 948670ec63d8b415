"""Request dependencies of the catalogue API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from catalog.schemas import ChannelId

ChannelIdPath = Annotated[ChannelId, Path(description="channel id")]
ProgrammeIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="programme id")]
