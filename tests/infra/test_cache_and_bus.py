"""The cache and the bus in use (in-process or Redis) behave the same."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from tests.support.waiting import wait_for


def test_cache_get_set_expire_add_incr_delete(rt) -> None:  # noqa: ANN001
    key = f"t:{uuid.uuid4().hex}"
    assert rt.cache.get(key) is None
    rt.cache.set(key, b"v1", ttl_s=0.3)
    assert rt.cache.get(key) == b"v1"
    assert rt.cache.add(key, b"v2", ttl_s=5) is False
    wait_for(lambda: rt.cache.get(key) is None, 3, "expiry")
    assert rt.cache.add(key, b"v2", ttl_s=5) is True and rt.cache.get(key) == b"v2"
    counter = f"{key}:n"
    assert [rt.cache.incr(counter, ttl_s=5) for _ in range(3)] == [1, 2, 3]
    rt.cache.delete(key, counter)
    assert rt.cache.get(key) is None and rt.cache.get(counter) is None


def test_cache_incr_is_atomic_across_threads(rt) -> None:  # noqa: ANN001
    key = f"t:{uuid.uuid4().hex}"
    threads = [threading.Thread(target=lambda: [rt.cache.incr(key, 10) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(rt.cache.get(key)) == 200


def test_bus_delivers_published_messages_to_subscribers(rt, server) -> None:  # noqa: ANN001

    got: list[tuple[str, dict]] = []
    topic = f"test.{uuid.uuid4().hex}"

    async def listen() -> None:
        rt.bus.subscribe(topic, lambda t, m: got.append((t, m)))
        await rt.bus.start()
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            rt.bus.publish(topic, {"n": 1})
            await asyncio.sleep(0.1)

    asyncio.run(listen())
    assert got and got[0] == (topic, {"n": 1})


def test_leases_are_exclusive_renewable_and_lapse(rt) -> None:  # noqa: ANN001
    name = f"test:{uuid.uuid4().hex}"
    assert rt.leases.acquire(name, "node-a", ttl_s=0.5)
    assert not rt.leases.acquire(name, "node-b", ttl_s=0.5)
    assert rt.leases.holder(name) == "node-a"
    assert rt.leases.renew(name, "node-a", ttl_s=0.5)
    assert not rt.leases.renew(name, "node-b", ttl_s=0.5)
    rt.leases.release(name, "node-b")  # not b's to give back
    assert rt.leases.holder(name) == "node-a"
    wait_for(lambda: rt.leases.holder(name) is None, 3, "the lease to lapse")
    assert not rt.leases.renew(name, "node-a", ttl_s=0.5)
    assert rt.leases.acquire(name, "node-b", ttl_s=5)
    rt.leases.release(name, "node-b")
    assert rt.leases.holder(name) is None
