"""Request dependencies of the cloud DVR API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

RecordingIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="recording id")]
RuleIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="series rule id")]
