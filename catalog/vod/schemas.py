"""Request and response shapes of the VOD catalogue: content ops and players."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from catalog.channels.schemas import Strict
from entitlements.accounts.schemas import DeviceType
from infra.validation import NO_CONTROL, UtcDateTime

TitleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", max_length=64)]
Kind = Literal["movie", "series", "season", "episode", "show"]
Status = Literal["draft", "published", "unpublished"]
AgeRating = Literal["AL", "7", "12", "16", "18"]
Language = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="ISO 639-2 code: pol, eng")]
Genre = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="a genre slug: drama, sci-fi")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Text = Annotated[str, Field(min_length=1, max_length=400, pattern=NO_CONTROL)]
PackageCode = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_CONTROL)]
Year = Annotated[int, Field(ge=1870, le=2100)]


class Credit(Strict):
    role: Literal["director", "actor", "writer", "producer", "composer", "presenter", "voice"]
    name: Text
    character: Text | None = None


class TitleFields(Strict):
    """Metadata and rights every title has; all optional in a PATCH."""

    original_title: Text | None = None
    year: Year | None = None
    countries: list[Country] = Field(default_factory=list, max_length=20)
    genres: list[Genre] = Field(default_factory=list, max_length=10)
    credits: list[Credit] = Field(default_factory=list, max_length=200)
    duration_s: int | None = Field(None, ge=1, le=172_800)
    age_rating: AgeRating | None = None
    available_from: UtcDateTime | None = None
    available_to: UtcDateTime | None = None
    device_types: list[DeviceType] | None = Field(None, min_length=1)
    download: Literal["none"] = "none"
    position: int | None = Field(None, ge=0, le=100_000)

    @field_validator("countries", "genres", "device_types")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _window(self):  # noqa: ANN202
        if self.available_from and self.available_to and self.available_to <= self.available_from:
            raise ValueError("available_to must be after available_from")
        return self


class TextIn(Strict):
    title: Text
    synopsis: str | None = Field(None, max_length=8000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
    short_synopsis: Text | None = None


class TitleCreate(TitleFields):
    id: TitleId
    kind: Kind
    parent_id: TitleId | None = None
    texts: dict[Language, TextIn] = Field(default_factory=dict, max_length=20)


class TitleUpdate(TitleFields):
    """A partial change: only the fields sent change (null clears an optional field)."""


class PackagesIn(Strict):
    packages: list[PackageCode] = Field(max_length=100)


class AssetIn(Strict):
    asset_id: str | None = Field(pattern=r"^[a-f0-9]{32}$")


class ImageRead(BaseModel):
    kind: str
    hash: str
    width: int
    height: int
    urls: dict[str, str]  # width -> URL; "original" too


class TitleRead(BaseModel):
    id: str
    kind: Kind
    parent_id: str | None
    position: int | None
    status: Status
    original_title: str | None
    year: int | None
    countries: list[str]
    genres: list[str]
    credits: list[Credit]
    duration_s: int | None
    age_rating: AgeRating | None
    available_from: dt.datetime | None
    available_to: dt.datetime | None
    device_types: list[str] | None
    download: str
    asset_id: str | None
    texts: dict[str, TextIn]
    packages: list[str]
    images: dict[str, ImageRead]
    published_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TitlePagination(BaseModel):
    items: list[TitleRead]
    total: int
    offset: int
    limit: int


class TitleChangeRead(BaseModel):
    id: int
    title_id: str
    at: dt.datetime
    actor: str
    action: str
    changes: dict


class TitleChangePage(BaseModel):
    items: list[TitleChangeRead]
    total: int
    offset: int
    limit: int


# -- players ------------------------------------------------------------------------------------
class PositionIn(Strict):
    position_s: int = Field(ge=0, le=172_800)
    duration_s: int | None = Field(None, ge=1, le=172_800)
    finished: bool = False


class PositionRead(BaseModel):
    title_id: str
    position_s: int
    duration_s: int | None
    finished: bool
    updated_at: dt.datetime


class VodCard(BaseModel):
    """A title as a tile in a row or a list, in one language."""

    id: str
    kind: Kind
    parent_id: str | None
    position: int | None
    title: str
    short_synopsis: str | None
    year: int | None
    genres: list[str]
    age_rating: AgeRating | None
    duration_s: int | None
    images: dict[str, dict[str, str]]  # kind -> width -> URL
    published_at: dt.datetime | None


class VodPage(BaseModel):
    items: list[VodCard]
    total: int
    offset: int
    limit: int
    total_is_lower_bound: bool = False  # a very broad search: at least this many match


class VodRow(BaseModel):
    id: str  # new, continue_watching, genre:<slug>
    kind: Literal["new", "genre", "continue_watching"]
    genre: str | None = None
    items: list[VodCard]


class VodRows(BaseModel):
    rows: list[VodRow]


class VodDetails(VodCard):
    original_title: str | None
    countries: list[str]
    credits: list[Credit]
    texts: dict[str, TextIn]
    children: list[VodCard]
    device_types: list[str] | None
    entitled: bool
    packages: list[str]  # the packages that grant it (empty: free for every account)
    watch_position: PositionRead | None
