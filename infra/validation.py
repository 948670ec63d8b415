"""Patterns and types every package's request schemas share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

# Text shown to people or looked up in the database: no control characters (PostgreSQL
# refuses NUL in text, and nobody's device is called "TV\x1b[2J").
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
URL = r"^https?://[^\x00-\x20\x7f]+$"

# The largest INTEGER of either database (PostgreSQL's is 32 bits). Numbers from outside are
# bounded in their schema so no database is handed one it cannot hold: SQLite fails on an
# OFFSET of 2**63, PostgreSQL on 2**31 in an INTEGER column.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Offset = Annotated[int, Field(ge=0, le=INT32_MAX, description="how many items to skip")]

# Times from outside: with an offset (whose wall clock would a naive one be?), in UTC, and in
# years where adding a day or converting an offset cannot overflow Python's datetime.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def _utc_in_range(value: dt.datetime) -> dt.datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value.astimezone(dt.UTC)


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc_in_range)]
