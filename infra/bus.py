"""Change notifications between processes: in-process (embedded) or Redis pub/sub.

Publishing is synchronous and may happen on any thread (ingest runs in a thread pool);
subscribers are coroutines-free callbacks run on the event loop that subscribed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aredis

from infra.health import Health

log = logging.getLogger(__name__)

Callback = Callable[[str, dict[str, Any]], None]
RETRY_DOWN_S = 5.0


class Bus(ABC):
    """Topic-based fan-out of small JSON messages."""

    def __init__(self) -> None:
        self._subs: list[tuple[str, Callback, asyncio.AbstractEventLoop | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, prefix: str, callback: Callback) -> None:
        """Call callback(topic, message) for every message whose topic starts with prefix."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._subs.append((prefix, callback, loop))

    def unsubscribe(self, callback: Callback) -> None:
        """Stop calling callback."""
        with self._lock:
            self._subs = [s for s in self._subs if s[1] is not callback]

    def _deliver(self, topic: str, message: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for prefix, callback, loop in subs:
            if not topic.startswith(prefix):
                continue
            if loop is None or loop.is_closed():
                self._safe_call(callback, topic, message)
            else:
                loop.call_soon_threadsafe(self._safe_call, callback, topic, message)

    @staticmethod
    def _safe_call(callback: Callback, topic: str, message: dict[str, Any]) -> None:
        try:
            callback(topic, message)
        except Exception:  # one bad subscriber must not stop the others
            log.exception("bus subscriber failed on %s", topic)

    @abstractmethod
    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send message to every subscriber of topic, in every process."""

    async def start(self) -> None:
        """Begin receiving messages from other processes."""

    async def stop(self) -> None:
        """Stop receiving."""


class InProcessBus(Bus):
    """Embedded mode: one process, so delivery is a function call."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._deliver(topic, message)


class RedisBus(Bus):
    """Distributed mode: Redis pub/sub on channel ``smartgo:bus:{topic}``."""

    PREFIX = "smartgo:bus:"

    def __init__(self, url: str, *, health: Health | None = None) -> None:
        super().__init__()

        self.url = url
        self.health = health or Health()
        self._sync = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._task: asyncio.Task | None = None
        self._next_try = 0.0

    def publish(self, topic: str, message: dict[str, Any]) -> None:

        if not self.health.is_up("redis") and time.monotonic() < self._next_try:
            # Known down: no call to wait on (a frozen Redis costs a timeout each), until the
            # probe says it is back or a while has passed.
            return
        try:
            self._sync.publish(self.PREFIX + topic, json.dumps(message))
        except redis.RedisError as err:
            # The timeline in the database is the truth; a lost notification only delays
            # origins until their periodic refresh.
            self._next_try = time.monotonic() + RETRY_DOWN_S
            self.health.failed("redis", err)

    async def start(self) -> None:
        if self._task is None:
            ready = asyncio.Event()
            self._task = asyncio.create_task(self._listen(ready), name="redis-bus")
            try:
                await asyncio.wait_for(ready.wait(), timeout=5)
            except asyncio.TimeoutError:  # Redis is down: the listener keeps trying on its own
                log.warning("bus: Redis not reachable at start; listening once it is")

    async def _listen(self, ready: asyncio.Event) -> None:

        pause = 0.5
        while True:
            client = aredis.Redis.from_url(self.url, socket_connect_timeout=1)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(self.PREFIX + "*")
                    ready.set()
                    pause = 0.5
                    async for item in pubsub.listen():
                        if item.get("type") != "pmessage":
                            continue
                        topic = item["channel"].decode()[len(self.PREFIX) :]
                        self._deliver(topic, json.loads(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if not self.health.absorb(err):
                    log.exception("bus listener failed; listening again")
                await asyncio.sleep(pause)
                pause = min(5.0, pause * 2)
            finally:
                await client.aclose()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        self._sync.close()
