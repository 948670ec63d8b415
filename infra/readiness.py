"""Liveness and readiness of a SmartGo process (API, worker or packager), for balancers and orchestrators.

`/healthz` is liveness: the process answers. `/readyz` says whether to send it work: 503 only for
faults of this process alone (still starting, its database schema behind the code, draining
after SIGTERM, its own pools exhausted). An outage of a shared service (database, Redis,
storage) is reported as ``degraded`` with each service's state and latency, but answers 200:
every process behind the balancer sees the same outage, and taking them all out of rotation
would stop the origins that still serve playlists from memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from infra.health import Health

# Each local check returns why the process cannot take work, or None.
LocalCheck = Callable[[], str | None]


@dataclass
class Lifecycle:
    """Where a process is in its life: starting, serving, draining."""

    role: str
    mode: str
    health: Health
    started: bool = False
    draining_since: float | None = None
    checks: dict[str, LocalCheck] = field(default_factory=dict)

    def drain(self) -> None:
        """Stop taking new work (readiness turns 503 so balancers move away first)."""
        if self.draining_since is None:
            self.draining_since = time.monotonic()

    @property
    def draining(self) -> bool:
        """True once SIGTERM (or an operator) asked this process to finish and exit."""
        return self.draining_since is not None

    def readiness(self) -> tuple[int, dict]:
        """Return the status code and body of /readyz."""
        reasons = []
        if not self.started:
            reasons.append("starting")
        if self.draining:
            reasons.append("draining")
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as err:  # a check that cannot tell is not a reason to leave rotation
                problem = None if self.health.absorb(err) else f"{name}: {type(err).__name__}"
            if problem:
                reasons.append(problem)
        deps = self.health.snapshot()
        if reasons:
            status = "draining" if self.draining else "starting" if not self.started else "unready"
        else:
            status = "degraded" if any(d["state"] == "down" for d in deps.values()) else "ready"
        body = {"status": status, "role": self.role, "mode": self.mode, "dependencies": deps}
        if reasons:
            body["reasons"] = reasons
        return (503 if reasons else 200), body

    def liveness(self) -> tuple[int, dict]:
        """Return the status code and body of /healthz: the process is alive and says what it is."""
        return 200, {"status": "ok", "role": self.role, "mode": self.mode}


async def serve_probes(lifecycle: Lifecycle, host: str, port: int) -> asyncio.AbstractServer:
    """Serve /healthz and /readyz of a process that has no web app (worker, packager)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.split()
            path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            if path == b"/healthz":
                status, body = lifecycle.liveness()
            elif path == b"/readyz":
                status, body = lifecycle.readiness()
            else:
                status, body = 404, {"error": {"code": "NOT_FOUND", "message": "only /healthz and /readyz here"}}
            data = orjson.dumps(body)
            writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                         b"cache-control: no-store\r\nconnection: close\r\n\r\n%s"
                         % (status, _REASONS.get(status, b"OK"), len(data), data))
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)


_REASONS = {200: b"OK", 404: b"Not Found", 503: b"Service Unavailable"}
