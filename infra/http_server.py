"""Serving the ASGI app with uvicorn, tolerant of encoders that half-close after a PUT."""

from __future__ import annotations

import asyncio
import threading
import time

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HalfCloseHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, keeping the socket open after the client's EOF mid-request.

    ffmpeg's HTTP PUT (and other encoders) shut down their write side after the last chunk
    and then wait for the reply. Stock uvicorn treats that EOF as a disconnect and drops the
    buffered body; keeping the half-open transport lets the request finish and be answered.
    """

    def eof_received(self) -> bool:  # type: ignore[override]
        return self.cycle is not None and not self.cycle.response_complete


class SmartGoServer(uvicorn.Server):
    """uvicorn's server, waking once a second instead of ten times for its housekeeping.

    Its tick only refreshes the Date header (whole seconds) and notices a shutdown request;
    at 10 Hz it cost an idle process 2 ms of CPU a second, at 1 Hz 0.3 ms. Shutdown is
    noticed within a second.
    """

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick counts tenths of a second
            await asyncio.sleep(1.0)


def server_config(app, *, host: str, port: int, workers: int = 1) -> uvicorn.Config:  # noqa: ANN001
    """Return the uvicorn configuration every SmartGo server uses."""
    return uvicorn.Config(app, host=host, port=port, workers=workers, http=HalfCloseHttpProtocol,
                          loop="uvloop", log_level="warning", access_log=False, lifespan="on",
                          timeout_keep_alive=30)


class BackgroundServer:
    """Run an ASGI app on a real socket in a thread (tests and the demo's single process)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:  # noqa: ANN001
        self.server = SmartGoServer(server_config(app, host=host, port=port))
        self.server.config.loop = "asyncio"
        self.thread = threading.Thread(target=self.server.run, name="smartgo-http", daemon=True)

    @property
    def port(self) -> int:
        """Return the bound port (useful with port 0)."""
        return self.server.servers[0].sockets[0].getsockname()[1]

    def start(self, timeout_s: float = 15.0) -> "BackgroundServer":
        """Start serving and wait until the socket listens."""
        self.thread.start()
        end = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("HTTP server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=15)
