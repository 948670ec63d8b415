"""Database engine and the one context manager that owns a transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Iterator

import orjson
from sqlalchemy import DateTime, Dialect, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from infra.errors import ServiceUnavailable, SmartGoError

log = logging.getLogger(__name__)
# Where a session opened by Database.session collects what is to run after its commit.
AFTER_COMMIT_SINK = "after_commit_sink"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """Return a new random row id (32 hex digits)."""
    return secrets.token_hex(16)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return a stored time in UTC; a naive one is UTC already (SQLite returns those)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment in time, stored in UTC and read back aware in UTC from either database.

    PostgreSQL keeps the offset (timestamptz); SQLite keeps the text of the wall clock and gives
    back naive values, which would reach clients without their offset. Values are converted to
    UTC on the way in, so SQLite's text is UTC, and marked UTC on the way out. A naive value is
    refused: nobody can say whose wall clock it was. The DDL is DateTime(timezone=True)'s.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Return value in UTC; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored ({value.isoformat()}): give it a UTC offset")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Return a stored value aware, in UTC."""
        return utc(value)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class DatabaseUnavailable(ServiceUnavailable):
    code = "DATABASE_UNAVAILABLE"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
    cur = dbapi_conn.cursor()
    # WAL lets the origin read while ingest writes; busy_timeout queues writers instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


# JSON columns are read and written on every ingest push: orjson is several times faster.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL with settings fit for this project."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per transaction; dead connections surface as
    # OperationalError, which becomes a 503 the client retries, and are then recycled.
    return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=300, **_JSON)


class Database:
    """An engine plus its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = url.startswith("sqlite")
        # SQLite allows one writer; serialising writers here avoids busy-retry storms.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextlib.contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """Open a session whose transaction commits on success and rolls back on error.

        What is to run after the commit (infra.runtime.run_after_commit) runs once the session is
        closed and SQLite's write lock released, so it may open sessions of its own.
        """
        lock = self._write_lock if write else None
        committed: list[Callable[[], None]] = []
        if lock:
            lock.acquire()
        try:
            with self.sessionmaker() as session:
                session.info[AFTER_COMMIT_SINK] = committed
                try:
                    yield session
                    session.commit()
                except (OperationalError, DBAPIError) as err:
                    session.rollback()
                    if getattr(err, "connection_invalidated", False) or isinstance(
                        err, OperationalError
                    ):
                        raise DatabaseUnavailable("database unavailable, retry") from err
                    raise
                except SmartGoError as err:
                    if err.keeps_changes:
                        session.commit()
                    else:
                        session.rollback()
                    raise
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if lock:
                lock.release()
            for callback in committed:
                try:
                    callback()
                except Exception:  # the transaction is committed: a failed follow-up must not undo it
                    log.exception("after-commit callback failed")

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
