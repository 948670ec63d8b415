"""Request dependencies of the guide API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

ProgrammeIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="programme id")]
