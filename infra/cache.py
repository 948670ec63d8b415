"""A small shared cache: in-process (embedded) or Redis (distributed), one interface.

Values are bytes with a time to live. The origin's hot path never uses it (it keeps its own
memory); request-level caches such as playback decisions do.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

import redis

from infra.errors import ServiceUnavailable


class CacheUnavailable(ServiceUnavailable):
    code = "CACHE_UNAVAILABLE"
    dependency = "redis"


class Cache(ABC):
    """Bytes by key with a TTL; `add` is an atomic set-if-absent, `incr` an atomic counter."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """Return the value, or None when absent or expired."""

    @abstractmethod
    def get_many(self, *keys: str) -> list[bytes | None]:
        """Return the values of keys in order (None where absent), in one round trip."""

    @abstractmethod
    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store value for ttl_s seconds."""

    @abstractmethod
    def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Store value only if key is absent; tell whether it was stored."""

    @abstractmethod
    def incr(self, key: str, ttl_s: float) -> int:
        """Add one to a counter (created with ttl_s when absent) and return it."""

    @abstractmethod
    def delete(self, *keys: str) -> None:
        """Remove keys."""


class InProcessCache(Cache):
    """A dict with expiry times, safe across threads."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[float, bytes] | None:
        item = self._data.get(key)
        if item is not None and item[0] <= now:
            del self._data[key]
            return None
        return item

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._live(key, time.monotonic())
            return item[1] if item else None

    def get_many(self, *keys: str) -> list[bytes | None]:
        with self._lock:
            now = time.monotonic()
            return [item[1] if (item := self._live(key, now)) else None for key in keys]

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl_s, value)

    def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._data[key] = (now + ttl_s, value)
            return True

    def incr(self, key: str, ttl_s: float) -> int:
        with self._lock:
            now = time.monotonic()
            item = self._live(key, now)
            value = int(item[1]) + 1 if item else 1
            self._data[key] = (item[0] if item else now + ttl_s, str(value).encode())
            return value

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)


class RedisCache(Cache):
    """Keys under ``smartgo:cache:`` in Redis."""

    PREFIX = "smartgo:cache:"

    def __init__(self, url: str) -> None:

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._errors = (redis.RedisError,)

    def _call(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        try:
            return fn(*args)
        except self._errors as err:
            raise CacheUnavailable("cache unavailable, retry") from err

    def get(self, key: str) -> bytes | None:
        return self._call(self._redis.get, self.PREFIX + key)

    def get_many(self, *keys: str) -> list[bytes | None]:
        return self._call(self._redis.mget, [self.PREFIX + k for k in keys]) if keys else []

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._call(lambda: self._redis.set(self.PREFIX + key, value, px=max(1, int(ttl_s * 1000))))

    def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        return bool(self._call(lambda: self._redis.set(self.PREFIX + key, value,
                                                       px=max(1, int(ttl_s * 1000)), nx=True)))

    def incr(self, key: str, ttl_s: float) -> int:
        def run() -> int:
            pipe = self._redis.pipeline()
            pipe.incr(self.PREFIX + key)
            pipe.pexpire(self.PREFIX + key, max(1, int(ttl_s * 1000)), nx=True)
            return int(pipe.execute()[0])

        return self._call(run)

    def delete(self, *keys: str) -> None:
        if keys:
            self._call(self._redis.delete, *(self.PREFIX + k for k in keys))
