"""Request dependencies of the VOD title APIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path

from catalog.vod.errors import InvalidTitle

TitleIdPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="title id")]
LanguagePath = Annotated[str, Path(pattern=r"^[a-z]{3}$", description="ISO 639-2 language: pol, eng")]


def if_match(value: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None) -> int | None:
    """Return the title version an If-Match header expects (ETag form "3" or W/"3"), if any."""
    if value is None:
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidTitle("If-Match must be a title version, e.g. \"3\"", if_match=value[:40])
    return int(raw)


IfMatch = Annotated[int | None, Depends(if_match)]
