"""Request and response shapes of the guide API: sources, imports, programmes, the grid."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.channels.schemas import ChannelId, Strict
from infra.validation import NO_CONTROL, URL

# -- guide (EPG) -------------------------------------------------------------------------------
SourceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", max_length=64)]
XmltvChannelId = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]


def check_time_zone(name: str) -> str:
    """Accept an IANA time zone name (or UTC)."""
    if name.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r}") from err
    return name


class EpgSourceBody(Strict):
    """Where a guide comes from and how to read it."""

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
    url: Annotated[str, Field(max_length=2000, pattern=URL)] | None = None
    time_zone: Annotated[str, Field(max_length=64)] = "UTC"
    refresh_every_s: Annotated[int, Field(ge=300, le=7 * 86400)] | None = None
    channel_map: dict[XmltvChannelId, ChannelId] = Field(default_factory=dict, max_length=5000)
    enabled: bool = True

    _tz = field_validator("time_zone")(lambda cls, v: check_time_zone(v))


class EpgSourceCreate(EpgSourceBody):
    id: SourceId


class EpgSourceRead(EpgSourceCreate):
    last_import_at: dt.datetime | None

    model_config = ConfigDict(from_attributes=True)


class EpgImportRead(BaseModel):
    id: str
    source_id: str
    origin: str
    status: str
    error: str | None
    report: dict
    created_at: dt.datetime
    finished_at: dt.datetime | None

    model_config = ConfigDict(from_attributes=True)


class EpgImportPagination(BaseModel):
    items: list[EpgImportRead]
    total: int


class ProgrammeRead(BaseModel):
    """A programme on the guide, for players."""

    id: str
    channel_id: str
    start: dt.datetime
    end: dt.datetime
    title: str
    titles: dict[str, str]
    sub_titles: dict[str, str]
    descriptions: dict[str, str]
    categories: list[str]
    series_id: str | None
    season: int | None
    episode: int | None
    episode_label: str | None
    age_rating: str | None


class ProgrammeActions(BaseModel):
    """What the signed-in subscriber may do with a programme now, and why not where not."""

    watch_live: bool
    start_over: bool
    catch_up: bool
    record: bool
    reasons: dict[str, str] = Field(default_factory=dict)


class ProgrammeDetails(ProgrammeRead):
    actions: ProgrammeActions


class GuidePage(BaseModel):
    items: list[ProgrammeRead]
    total: int
    offset: int
    limit: int


class ProgrammeRightsBody(Strict):
    """Staff overrides of a programme's rights (null: inherit from the feed and the channel)."""

    catchup: bool | None = None
    startover: bool | None = None
    recording: bool | None = None


class ProgrammeRightsRead(BaseModel):
    programme_id: str
    feed: dict[str, bool]
    staff: dict[str, bool]
    effective: dict[str, bool]
