"""Request and response shapes of the VOD media API: assets, uploads, audio labels."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from infra.validation import NO_CONTROL

# -- VOD assets ---------------------------------------------------------------------------------
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\"]+$")]


class AudioLabel(BaseModel):
    """How one audio track of an asset is shown to players (by position in the mezzanine)."""

    model_config = ConfigDict(extra="forbid")
    language: Language
    label: Label
    default: bool = False


class AudioLabels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audio: Annotated[list[AudioLabel], Field(max_length=16)]


class AssetTrackRead(BaseModel):
    name: str
    kind: Literal["video", "audio", "subtitles"]
    language: str | None = None
    label: str | None = None
    width: int | None = None
    height: int | None = None
    bandwidth: int | None = None
    segments: int | None = None


class AssetRead(BaseModel):
    """A VOD asset as content ops see it: ingest state and progress, what it holds."""

    id: str
    filename: str
    size: int
    sha256: str | None
    state: str
    progress: float
    error_code: str | None
    error: str | None
    attempt: int
    duration_s: float | None
    probe: dict
    tracks: list[AssetTrackRead]
    segment_sets: list[str]
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    duplicate: bool = False  # the upload was a file already ingested: this is the existing asset


class AssetPagination(BaseModel):
    items: list[AssetRead]
    total: int


class UploadStart(BaseModel):
    """A large mezzanine to upload in parts."""

    model_config = ConfigDict(extra="forbid")
    filename: Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=NO_CONTROL)]
    size: Annotated[int, Field(gt=0, le=5 * 1024**4)]
    part_size: Annotated[int, Field(ge=5 * 1024 * 1024, le=5 * 1024**3)] | None = None
    segment_sets: Annotated[list[Literal["cmaf", "ts"]], Field(min_length=1, max_length=2)] = ["cmaf"]


class UploadPart(BaseModel):
    part_number: int
    url: str


class UploadPlan(BaseModel):
    """Where each part goes: PUT part n's bytes to its URL, keep the ETag answered, then complete."""

    asset: AssetRead
    part_size: int
    parts: list[UploadPart]
    expires_at: dt.datetime


class CompletedPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part_number: Annotated[int, Field(ge=1, le=10_000)]
    etag: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r'^"?[0-9a-fA-F-]+"?$')]


class UploadComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parts: Annotated[list[CompletedPart], Field(min_length=1, max_length=10_000)]
