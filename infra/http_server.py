"""Serving the ASGI app with uvicorn: tolerant of encoders that half-close, quick with ready playlists."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


def _find(app, attribute: str):  # noqa: ANN001, ANN202
    """Find an attribute on the first app of a middleware chain that has it."""
    for _ in range(8):
        if app is None:
            return None
        found = getattr(app, attribute, None)
        if found is not None:
            return found
        app = getattr(app, "app", None)
    return None


def ready_responder(app) -> Callable[[str, bytes], object] | None:  # noqa: ANN001
    """Find the ``ready_response(path, query)`` of the origin inside the app's middleware chain."""
    return _find(app, "ready_response")


class SmartGoHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with three changes for an origin with encoders pushing to it.

    Half-close: ffmpeg's HTTP PUT (and other encoders) shut down their write side after the
    last chunk and then wait for the reply. Stock uvicorn treats that EOF as a disconnect and
    drops the buffered body; keeping the half-open transport lets the request finish. An EOF
    before the body is complete is still a disconnect.

    Ready responses: a GET for a live playlist the origin has already rendered (and that is
    still current) is answered here, from the bytes the origin keeps, without building an
    ASGI scope, task and messages for it: the playlist path is the hottest in the system.
    Anything else (other methods, conditional requests, escaped paths, pipelined requests
    behind a slow one) takes the ordinary ASGI path.

    Unreadable requests: what the parser refuses is answered in the API's JSON error form
    (`MALFORMED_REQUEST`), not uvicorn's plain text.
    """

    ready_answers = 0  # answered from ready bytes, in this process (for tests and metrics)

    def connection_made(self, transport) -> None:  # noqa: ANN001
        super().connection_made(transport)
        self._ready = ready_responder(self.app)
        self._answered = False

    def eof_received(self) -> bool:  # type: ignore[override]
        # Half-open only once the body is all in: a client that stops mid-body can send no more
        # of it, so that EOF is a disconnect (the upload is dropped, not waited for forever).
        return self.cycle is not None and not self.cycle.response_complete and not self.cycle.more_body

    def on_message_begin(self) -> None:
        self._answered = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if (self._ready is not None and (self.cycle is None or self.cycle.response_complete)
                and not self.pipeline and self.parser.get_method() == b"GET"
                and not any(name == b"if-none-match" for name, _ in self.headers)):
            parsed = httptools.parse_url(self.url)
            if b"%" not in parsed.path:
                entry = self._ready(parsed.path.decode("ascii"), parsed.query or b"")
                if entry is not None:
                    self._reply(entry)
                    return
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Answer a request the HTTP parser cannot read (a head over 64 KiB, a NUL in a header) in JSON."""
        body = b'{"error":{"code":"MALFORMED_REQUEST","message":"the HTTP request cannot be read"}}'
        default = b"".join(k + b": " + v + b"\r\n" for k, v in self.server_state.default_headers)
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + default + b"content-type: application/json\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        self.transport.close()

    def _reply(self, entry) -> None:  # noqa: ANN001
        self._answered = True
        SmartGoHttpProtocol.ready_answers += 1
        keep_alive = self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()
        default = b"".join(k + b": " + v + b"\r\n" for k, v in self.server_state.default_headers)
        self.transport.write(b"".join((entry.http_head, default,
                                       b"\r\n" if keep_alive else b"connection: close\r\n\r\n",
                                       entry.http_body)))
        if keep_alive:
            self.on_response_complete()
        else:
            self.server_state.total_requests += 1
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._answered:
            super().on_message_complete()


class SmartGoServer(uvicorn.Server):
    """uvicorn's server, waking once a second instead of ten times for its housekeeping, and
    draining on SIGTERM.

    Its tick only refreshes the Date header (whole seconds) and notices a shutdown request;
    at 10 Hz it cost an idle process 2 ms of CPU a second, at 1 Hz 0.3 ms. Shutdown is
    noticed within a second.

    SIGTERM first turns /readyz to 503 (``Lifecycle.drain``) and keeps serving for drain_s, so
    the balancer's health checks move players to other origins before this one stops
    listening; then uvicorn's graceful shutdown finishes the requests in flight and exits. A
    second signal exits at once.
    """

    def __init__(self, config: uvicorn.Config, *, drain_s: float = 0.0) -> None:
        super().__init__(config)
        self.drain_s = drain_s
        self._drain_until: float | None = None

    def handle_exit(self, sig: int, frame) -> None:  # noqa: ANN001
        lifecycle = _find(getattr(self.config, "loaded_app", None), "rt")
        lifecycle = getattr(lifecycle, "lifecycle", None)
        if sig == signal.SIGTERM and self.drain_s > 0 and lifecycle is not None and self._drain_until is None:
            lifecycle.drain()
            self._drain_until = time.monotonic() + self.drain_s
            log.warning("SIGTERM: draining for %.0f s (readiness 503), then finishing requests and exiting",
                        self.drain_s)
            return
        super().handle_exit(sig, frame)

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            if self._drain_until is not None and time.monotonic() >= self._drain_until:
                self.should_exit = True
            counter = (counter + 10) % 864000  # on_tick counts tenths of a second
            await asyncio.sleep(1.0)


def server_config(app, *, host: str, port: int, workers: int = 1) -> uvicorn.Config:  # noqa: ANN001
    """Return the uvicorn configuration every SmartGo server uses."""
    return uvicorn.Config(app, host=host, port=port, workers=workers, http=SmartGoHttpProtocol,
                          loop="uvloop", log_level="warning", access_log=False, lifespan="on",
                          timeout_keep_alive=30, timeout_graceful_shutdown=30)


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
