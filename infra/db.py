"""Database engine and the one context manager that owns a transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from infra.errors import ServiceUnavailable, SmartGoError
from infra.health import Health

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
    dependency = "database"


class DatabaseBusy(ServiceUnavailable):
    """Every pooled connection of this process is in use: a local fault, not the database's."""

    code = "DATABASE_BUSY"


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


def make_engine(url: str, *, connect_timeout_s: float = 2.0, statement_timeout_s: float = 60.0,
                pool_timeout_s: float = 5.0) -> Engine:
    """Create the engine for a database URL with settings fit for this project.

    On PostgreSQL every wait has a bound: connecting (libpq's connect_timeout), a statement
    (the server's statement_timeout), a free pooled connection (pool_timeout), and a server that
    stops answering without closing its connections (SIGSTOP, a dead host behind a live switch),
    which no server-side timeout can catch: the StatementWatchdog cuts those from our side.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per transaction; dead connections surface as
    # OperationalError, which becomes a 503 the client retries, and are then recycled.
    engine = create_engine(
        url, pool_size=10, max_overflow=20, pool_recycle=300, pool_timeout=pool_timeout_s,
        connect_args={"connect_timeout": max(1, round(connect_timeout_s)),
                      "options": f"-c statement_timeout={int(statement_timeout_s * 1000)}"},
        **_JSON)
    StatementWatchdog(statement_timeout_s + 5.0).watch(engine)
    return engine


class StatementWatchdog:
    """Cut the connection of a PostgreSQL call that has waited past its deadline.

    Each call (a statement, a commit, a rollback) is noted when it starts and forgotten when it
    ends; a thread looks ten times a second and shuts down the socket of any call past its deadline,
    so the waiting thread gets an error (and the pool drops that connection) instead of waiting
    for a server that will never answer. The deadline is the default, or the one the current
    ``Database.session(timeout_s=...)`` set on this thread.
    """

    _local = threading.local()

    def __init__(self, default_s: float) -> None:
        self.default_s = default_s
        self._busy: dict[int, tuple[float, int]] = {}  # id(dbapi connection) -> (deadline, socket fd)
        self._thread: threading.Thread | None = None

    @classmethod
    @contextlib.contextmanager
    def deadline(cls, timeout_s: float | None) -> Iterator[None]:
        """Use timeout_s for the calls this thread makes inside the block."""
        previous = getattr(cls._local, "timeout_s", None)
        cls._local.timeout_s = timeout_s
        try:
            yield
        finally:
            cls._local.timeout_s = previous

    def watch(self, engine: Engine) -> None:
        """Note every call of engine's connections."""
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "after_cursor_execute", self._after_execute)
        event.listen(engine, "commit", self._start)
        event.listen(engine, "rollback", self._start)
        event.listen(engine, "handle_error", lambda ctx: self._end(ctx.connection))
        event.listen(engine.pool, "checkin", lambda dbapi_conn, _record: self._busy.pop(id(dbapi_conn), None))

    def _before_execute(self, conn, *_args) -> None:  # noqa: ANN001, ANN002
        self._start(conn)

    def _after_execute(self, conn, *_args) -> None:  # noqa: ANN001, ANN002
        self._end(conn)

    def _start(self, conn) -> None:  # noqa: ANN001 - a sqlalchemy Connection
        try:
            dbapi = conn.connection.dbapi_connection
            fd = dbapi.pgconn.socket
        except Exception:  # not connected yet, or not psycopg: nothing to watch
            return
        timeout = getattr(self._local, "timeout_s", None) or self.default_s
        self._busy[id(dbapi)] = (time.monotonic() + timeout, fd)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
            self._thread.start()

    def _end(self, conn) -> None:  # noqa: ANN001
        if conn is None:
            return
        try:
            self._busy.pop(id(conn.connection.dbapi_connection), None)
        except Exception:
            return

    def _run(self) -> None:
        while True:
            time.sleep(0.1)
            if not self._busy:
                continue
            now = time.monotonic()
            for key, (deadline, fd) in list(self._busy.items()):
                if deadline <= now and self._busy.pop(key, None) is not None:
                    _cut(fd)


def _cut(fd: int) -> None:
    """Shut a socket down under whoever waits on it (they get an error, not a hang)."""
    try:
        dup = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        dup.close()


class Database:
    """An engine plus its session factory."""

    def __init__(self, url: str, *, health: Health | None = None, **timeouts: float) -> None:
        self.url = url
        self.engine = make_engine(url, **timeouts)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = url.startswith("sqlite")
        self.health = health
        self._probe_engine: Engine | None = None
        if health is not None and not self.is_sqlite:
            # A restarted server left every pooled connection dead: drop them at once rather
            # than fail one request per connection and call that another outage.
            health.when_back("database", self.engine.dispose)
        # SQLite allows one writer; serialising writers here avoids busy-retry storms.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextlib.contextmanager
    def session(self, *, write: bool = True, timeout_s: float | None = None) -> Iterator[Session]:
        """Open a session whose transaction commits on success and rolls back on error.

        timeout_s bounds each call to the database inside it (PostgreSQL; the default is the
        statement timeout plus a margin). What is to run after the commit
        (infra.runtime.run_after_commit) runs once the session is closed and SQLite's write lock
        released, so it may open sessions of its own.
        """
        lock = self._write_lock if write else None
        committed: list[Callable[[], None]] = []
        if lock:
            lock.acquire()
        try:
            with StatementWatchdog.deadline(timeout_s), self.sessionmaker() as session:
                session.info[AFTER_COMMIT_SINK] = committed
                try:
                    yield session
                    session.commit()
                except (OperationalError, DBAPIError) as err:
                    _quiet_rollback(session)
                    if getattr(err, "connection_invalidated", False) or isinstance(
                        err, OperationalError
                    ):
                        if self.health is not None:
                            self.health.failed("database", err)
                        raise DatabaseUnavailable("database unavailable, retry") from err
                    raise
                except PoolTimeout as err:
                    raise DatabaseBusy("every database connection of this process is busy, retry") from err
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
                except Exception as err:  # the transaction is committed: a failed follow-up must not undo it
                    if self.health is None or not self.health.absorb(err):
                        log.exception("after-commit callback failed")

    def probe(self) -> None:
        """Ask the database for one row (the health probe; raises when it does not answer).

        On a connection of its own, not a pooled one: cutting a probe stuck on a frozen server
        must not empty the pool that requests use, or each of them would wait to connect anew.
        """
        if self._probe_engine is None:
            self._probe_engine = (self.engine if self.is_sqlite else
                                  create_engine(self.url, poolclass=NullPool, connect_args={"connect_timeout": 2}))
            if not self.is_sqlite:
                StatementWatchdog(2.0).watch(self._probe_engine)
        with self._probe_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _quiet_rollback(session: Session) -> None:
    """Roll back after a database failure; the rollback itself may fail on a dead connection."""
    try:
        session.rollback()
    except Exception:  # the connection is gone: the pool drops it, nothing else to undo
        pass
