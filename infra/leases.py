"""Leases: a name held by one holder until it stops renewing (in-process or Redis).

Packager nodes take channels through leases, so two nodes never package one channel and a
dead node's channels are free again once its leases lapse.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

import redis

from infra.errors import ServiceUnavailable


class LeaseStoreUnavailable(ServiceUnavailable):
    code = "LEASE_STORE_UNAVAILABLE"
    dependency = "redis"


class Leases(ABC):
    """Take, keep and give back named leases."""

    @abstractmethod
    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease if it is free (or already ours, renewing it); tell whether we hold it."""

    @abstractmethod
    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        """Extend our lease; False if it is no longer ours."""

    def renew_many(self, names: list[str], holder: str, ttl_s: float) -> dict[str, bool]:
        """Renew several leases; tell for each whether it is still ours."""
        return {name: self.renew(name, holder, ttl_s) for name in names}

    def acquire_many(self, names: list[str], holder: str, ttl_s: float) -> dict[str, bool]:
        """Try to take several leases; tell for each whether we hold it now."""
        return {name: self.acquire(name, holder, ttl_s) for name in names}

    @abstractmethod
    def release(self, name: str, holder: str) -> None:
        """Give the lease back if it is ours."""

    @abstractmethod
    def holder(self, name: str) -> str | None:
        """Return who holds the lease now."""


class InProcessLeases(Leases):
    """Leases in a dict with monotonic expiry (embedded mode: one process)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _current(self, name: str) -> str | None:
        item = self._held.get(name)
        if item is None or item[1] <= time.monotonic():
            return None
        return item[0]

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        with self._lock:
            if self._current(name) not in (None, holder):
                return False
            self._held[name] = (holder, time.monotonic() + ttl_s)
            return True

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        with self._lock:
            if self._current(name) != holder:
                return False
            self._held[name] = (holder, time.monotonic() + ttl_s)
            return True

    def release(self, name: str, holder: str) -> None:
        with self._lock:
            if self._current(name) == holder:
                del self._held[name]

    def holder(self, name: str) -> str | None:
        with self._lock:
            return self._current(name)


_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_ACQUIRE = """
local current = redis.call('get', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLeases(Leases):
    """Leases as Redis keys with a PX expiry, changed only by their holder (Lua compare-and-set)."""

    PREFIX = "smartgo:lease:"

    def __init__(self, url: str) -> None:

        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._errors = (redis.RedisError,)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def _run(self, script, name: str, *args) -> int:  # noqa: ANN001, ANN002
        try:
            return int(script(keys=[self.PREFIX + name], args=list(args)))
        except self._errors as err:
            raise LeaseStoreUnavailable("lease store unavailable") from err

    def acquire(self, name: str, holder: str, ttl_s: float) -> bool:
        return self._run(self._acquire, name, holder, max(1, int(ttl_s * 1000))) == 1

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        return self._run(self._renew, name, holder, max(1, int(ttl_s * 1000))) == 1

    def renew_many(self, names: list[str], holder: str, ttl_s: float) -> dict[str, bool]:
        return self._many(self._renew, names, holder, ttl_s)

    def acquire_many(self, names: list[str], holder: str, ttl_s: float) -> dict[str, bool]:
        return self._many(self._acquire, names, holder, ttl_s)

    def _many(self, script, names: list[str], holder: str, ttl_s: float) -> dict[str, bool]:  # noqa: ANN001
        """Run a lease script on several names in one pipelined round trip."""
        if not names:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            script(keys=[self.PREFIX + name], args=[holder, max(1, int(ttl_s * 1000))], client=pipe)
        try:
            results = pipe.execute()
        except self._errors as err:
            raise LeaseStoreUnavailable("lease store unavailable") from err
        return {name: int(r) == 1 for name, r in zip(names, results)}

    def release(self, name: str, holder: str) -> None:
        self._run(self._release, name, holder)

    def holder(self, name: str) -> str | None:
        try:
            value = self._redis.get(self.PREFIX + name)
        except self._errors as err:
            raise LeaseStoreUnavailable("lease store unavailable") from err
        return value.decode() if value else None
