"""Run asyncio components (packager nodes) on their own event loop thread inside a test."""

from __future__ import annotations

import asyncio
import threading

from streaming.packager.node import PackagerNode


class NodeThread:
    """A PackagerNode on a private event loop; stop() gives leases back, crash() does not."""

    def __init__(self, rt, ingest_url: str, node_id: str, lease_s: float = 2.0,  # noqa: ANN001
                 policy: dict | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name=node_id)
        self.node = PackagerNode(rt, ingest_url=ingest_url, node_id=node_id, lease_s=lease_s,
                                 policy=policy)

    def _call(self, coro, timeout: float = 30):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> "NodeThread":
        self.thread.start()
        self._call(self.node.start())
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self._call(self.node.stop(), timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def crash(self) -> None:
        """Die like a killed process: stop renewing, kill ffmpeg, release nothing."""
        async def die() -> None:
            if self.node._task:
                self.node._task.cancel()
            for sup, _ in list(self.node.supervisors.values()):
                sup._stopping = True
                if sup._proc and sup._proc.returncode is None:
                    sup._proc.kill()
                if sup._task:
                    sup._task.cancel()
            self.node.supervisors.clear()

        self._call(die())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def holds(self) -> set[str]:
        return set(self.node.supervisors)
