"""UTCDateTime: a moment stored from any zone comes back the same moment, aware, in UTC, from either database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select
from sqlalchemy.exc import StatementError

from infra.db import UTCDateTime, make_engine

UTC = dt.UTC
WARSAW_SUMMER = dt.timezone(dt.timedelta(hours=2))
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
metadata = MetaData()
moments = Table("utc_datetime_probe", metadata, Column("id", Integer, primary_key=True),
                Column("at", UTCDateTime()), Column("made", UTCDateTime(), server_default=func.now()))


@pytest.fixture(params=["sqlite", "configured"])
def engine(request, rt, tmp_path) -> Iterator:  # noqa: ANN001
    """SQLite always, and the database of this run (PostgreSQL when one is given)."""
    if request.param == "configured" and rt.db.is_sqlite:
        pytest.skip("this run's database is SQLite: covered by the sqlite case")
    engine = make_engine(f"sqlite:///{tmp_path}/probe.db") if request.param == "sqlite" else rt.db.engine
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    if request.param == "sqlite":
        engine.dispose()


@pytest.mark.parametrize("stored,read", [
    (dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC), dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
    (dt.datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=WARSAW_SUMMER),
     dt.datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    (dt.datetime(2026, 12, 31, 22, 0, tzinfo=NEW_YORK), dt.datetime(2027, 1, 1, 3, 0, tzinfo=UTC)),
    (dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1970, 1, 1, tzinfo=UTC)),
    (None, None),
])
def test_a_moment_comes_back_the_same_moment_in_utc(engine, stored: dt.datetime | None,  # noqa: ANN001
                                                  read: dt.datetime | None) -> None:
    with engine.begin() as conn:
        conn.execute(insert(moments).values(id=1, at=stored))
        at, made = conn.execute(select(moments.c.at, moments.c.made)).one()
        before = conn.scalar(select(func.count()).select_from(moments).where(moments.c.at < read)) if read else 0
    assert at == read and (at is None or at.utcoffset() == dt.timedelta(0)), at
    assert made.utcoffset() == dt.timedelta(0)  # the database's own now(), too
    assert before == 0  # compared as the same instant in SQL


def test_a_naive_moment_is_refused(engine) -> None:  # noqa: ANN001
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(moments).values(id=2, at=dt.datetime(2026, 1, 1)))
