"""The process's shared clients (database, storage, bus, jobs), built once at start-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from infra.bus import Bus, InProcessBus, RedisBus
from infra.cache import Cache, InProcessCache, RedisCache
from infra.db import AFTER_COMMIT_SINK, Database
from infra.errors import StorageUnavailable
from infra.health import Health
from infra.jobs import JobQueue, JobSpec
from infra.leases import InProcessLeases, Leases, RedisLeases
from infra.readiness import Lifecycle
from infra.settings import Settings
from infra.storage import ObjectStore, S3ObjectStore, make_store

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Runtime:
    """Everything a request or a job needs besides its own arguments."""

    settings: Settings
    db: Database
    store: ObjectStore
    bus: Bus
    cache: Cache = field(default_factory=InProcessCache)
    leases: Leases = field(default_factory=InProcessLeases)
    health: Health = field(default_factory=Health)
    lifecycle: Lifecycle | None = None  # set by the process that serves (api, worker, packager)
    jobs: JobQueue | None = None  # set once this process runs jobs (in-process or arq)
    job_specs: dict[str, JobSpec] = field(default_factory=dict)  # assembled by the composition

    _state: dict[type, Any] = field(default_factory=dict, repr=False)
    _state_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def state(self, kind: type[T], make: Callable[[Runtime], T] | None = None) -> T:
        """Return this process's one instance of kind, made on first use by make(self) (or kind(self)).

        The one way packages keep per-process state on the runtime (caches, memories, the door's
        keys): typed by its class, made once, the same for every caller in the process.
        """
        value = self._state.get(kind)
        if value is None:
            with self._state_lock:
                value = self._state.get(kind)
                if value is None:
                    value = self._state[kind] = (make or kind)(self)
        return value

    def peek(self, kind: type[T]) -> T | None:
        """Return this process's instance of kind if one was made or kept, else None."""
        return self._state.get(kind)

    def keep(self, kind: type[T], value: T | None) -> None:
        """Keep value as this process's instance of kind (None: forget it)."""
        with self._state_lock:
            if value is None:
                self._state.pop(kind, None)
            else:
                self._state[kind] = value

    def close(self) -> None:
        """Release pooled connections."""
        self.db.dispose()


_current: Runtime | None = None


def build_runtime(settings: Settings) -> Runtime:
    """Create the clients named by settings; embedded or distributed by configuration only."""
    health = Health()
    store = make_store(settings)
    if isinstance(store, S3ObjectStore):
        try:
            store.ensure_bucket()
        except StorageUnavailable as err:  # start anyway: the probe says when storage is back
            health.failed("storage", err)
    bus: Bus = RedisBus(settings.redis_url, health=health) if settings.redis_url else InProcessBus()
    cache: Cache = RedisCache(settings.redis_url) if settings.redis_url else InProcessCache()
    leases: Leases = RedisLeases(settings.redis_url) if settings.redis_url else InProcessLeases()
    db = Database(settings.database_url, health=health, connect_timeout_s=settings.database_connect_timeout_s,
                  statement_timeout_s=settings.database_statement_timeout_s,
                  pool_timeout_s=settings.database_pool_timeout_s)
    health.register("database", db.probe)
    health.register("storage", store.probe)
    if settings.redis_url:
        health.register("redis", redis_probe(settings.redis_url))
    return Runtime(settings=settings, db=db, store=store, bus=bus, cache=cache, leases=leases, health=health)


def redis_probe(url: str) -> Callable[[], None]:
    """Return a probe that pings Redis with a one-second timeout."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return lambda: client.ping()


def set_runtime(runtime: Runtime | None) -> None:
    """Install the process runtime (at start-up, or per test)."""
    global _current
    _current = runtime


def runtime() -> Runtime:
    """Return the process runtime."""
    if _current is None:
        raise RuntimeError("runtime not initialised; call set_runtime(build_runtime(...)) first")
    return _current


def notify_after_commit(session: Session, topic: str, message: dict[str, Any]) -> None:
    """Publish message on the bus once session's transaction commits (never if it rolls back)."""
    bus = runtime().bus
    run_after_commit(session, lambda: bus.publish(topic, message))


def run_after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call callback once session's transaction commits; forget it if the transaction rolls back."""
    pending: list[Callable[[], None]] = session.info.setdefault("after_commit", [])
    if not pending:
        event.listen(session, "after_commit", _flush_pending, once=True)
        event.listen(session, "after_rollback", _drop_pending, once=True)
    pending.append(callback)


def _flush_pending(session: Session) -> None:
    pending = session.info.pop("after_commit", [])
    if event.contains(session, "after_rollback", _drop_pending):
        event.remove(session, "after_rollback", _drop_pending)
    sink = session.info.get(AFTER_COMMIT_SINK)
    if sink is not None:  # Database.session runs them once its lock is released
        sink.extend(pending)
        return
    for callback in pending:
        try:
            callback()
        except Exception as err:  # the transaction is committed: a failed follow-up must not undo it
            if _current is None or not _current.health.absorb(err):
                log.exception("after-commit callback failed")


def _drop_pending(session: Session) -> None:
    session.info.pop("after_commit", None)
    if event.contains(session, "after_commit", _flush_pending):
        event.remove(session, "after_commit", _flush_pending)
