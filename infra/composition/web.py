"""The ASGI application: the origin in front, the FastAPI API behind it, one error format."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import threading
import time
from http import HTTPStatus
from pathlib import Path

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from infra import staff
from infra.errors import NotFound, SmartGoError
from infra.migrate import schema_is_current
from infra.openapi import install_openapi
from infra.readiness import Lifecycle
from infra.runtime import Runtime, set_runtime

log = logging.getLogger(__name__)

# Codes of the statuses Starlette and FastAPI answer themselves; any other is named after its
# reason phrase (406 NOT_ACCEPTABLE), never a bare number.
_HTTP_CODES = {413: "PAYLOAD_TOO_LARGE"}
_JSON_TYPES = re.compile(r"^application/([\w.+-]+\+)?json\s*(;|$)", re.IGNORECASE)


def http_code(status: int) -> str:
    """Return the stable code of an HTTP status answered outside the domain errors."""
    if status in _HTTP_CODES:
        return _HTTP_CODES[status]
    try:
        return HTTPStatus(status).phrase.upper().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "HTTP_ERROR"


def _error(status: int, code: str, message: str, details=None, headers=None) -> JSONResponse:  # noqa: ANN001
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL in path and query parameters."""
    # async: pure, so every request checks it on the loop rather than hopping to a worker thread.
    # PostgreSQL refuses NUL in text and SQLite stores it: the two databases would answer differently.
    sources = (("path", request.path_params.items()), ("query", request.query_params.multi_items()))
    problems = [{"type": "string_pattern_mismatch", "loc": (where, name), "msg": "NUL is not allowed", "input": value}
                for where, items in sources
                for name, value in items if isinstance(value, str) and ("\x00" in value or "\x00" in name)]
    if problems:
        raise RequestValidationError(problems)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a JSON body with a stable code; nothing a client sends gives a 500."""

    @app.exception_handler(SmartGoError)
    async def _domain(_: Request, err: SmartGoError) -> JSONResponse:
        return JSONResponse(err.to_dict(), status_code=err.status, headers=err.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        if isinstance(err.body, bytes) and not _JSON_TYPES.match(request.headers.get("content-type", "")):
            # FastAPI reads a body as JSON only when it says it is: anything else stays bytes.
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be JSON (Content-Type: application/json)")
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in err.errors()
        ]
        code = "MALFORMED_JSON" if any(p["type"] == "json_invalid" for p in problems) else "VALIDATION_ERROR"
        return _error(422, code, "the request is not valid", {"errors": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400 and err.__cause__ is not None:
            # FastAPI could not read the body as JSON at all (not UTF-8, nested too deep).
            problem = {"loc": ["body"], "msg": type(err.__cause__).__name__, "type": "json_invalid"}
            return _error(422, "MALFORMED_JSON", "the request body is not JSON we can read", {"errors": [problem]})
        return _error(err.status_code, http_code(err.status_code), str(err.detail),
                      headers=getattr(err, "headers", None))

    @app.exception_handler(DataError)
    async def _data(_: Request, err: DataError) -> JSONResponse:
        # A value the database refuses (a NUL in text, a number out of range) that a schema
        # let through: the client's input, so a 422, and a warning to tighten the schema.
        log.warning("database refused a value: %s", str(err.orig).splitlines()[0] if err.orig else err)
        return _error(422, "INVALID_INPUT", "a value in the request cannot be stored")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "INTERNAL_ERROR", "internal error; it has been logged")


class BodyLimit:
    """Refuse API request bodies over max_bytes with 413 before anything parses them.

    The body is read here (API bodies are small) so a chunked upload that grows too large is
    refused too. Ingest does not pass here: the origin routes pushes before the API.
    """

    def __init__(self, app, max_bytes: int, streamed: str | None = None) -> None:  # noqa: ANN001
        self.app, self.max_bytes = app, max_bytes
        # Upload routes that stream their body to storage and enforce their own limit.
        self.streamed = re.compile(streamed) if streamed else None

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") or (
                self.streamed is not None and self.streamed.match(scope["path"])):
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refuse(send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                return await self._refuse(send)
            if not message.get("more_body"):
                break
        buffered = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():  # noqa: ANN202
            return buffered.pop() if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:  # noqa: ANN001
        body = (b'{"error":{"code":"PAYLOAD_TOO_LARGE","message":"the request body is larger than '
                + str(self.max_bytes).encode() + b' bytes"}}')
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SchemaCheck:
    """Whether the database schema is the one this code expects, checked at start and every minute.

    A process whose schema is behind its code (a rolling upgrade that has not migrated yet) must
    not take requests; while the database cannot be asked, the last answer stands.
    """

    EVERY_S = 60.0

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.current: bool | None = None
        self.checked_at = 0.0

    def refresh(self) -> None:
        """Ask the database which migration it is at."""
        self.checked_at = time.monotonic()
        try:
            self.current = schema_is_current(self.rt.settings.database_url)
        except Exception as err:
            if not self.rt.health.absorb(err):
                log.warning("schema check failed: %s", err)

    def problem(self) -> str | None:
        """Return "migrations_behind" when the schema is older than the code (refreshing it now and then)."""
        if time.monotonic() - self.checked_at > self.EVERY_S:
            self.checked_at = time.monotonic()
            threading.Thread(target=self.refresh, name="schema-check", daemon=True).start()
        return "migrations_behind" if self.current is False else None


def pool_problem(rt: Runtime) -> str | None:
    """Return why this process's own pools cannot take more work, if they cannot."""
    pool = rt.db.engine.pool
    size = getattr(pool, "size", None)
    if callable(size) and pool.checkedout() >= size() + max(0, getattr(pool, "_max_overflow", 0)):
        return "database_pool_exhausted"
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.borrowed_tokens >= limiter.total_tokens:
        return "thread_pool_exhausted"
    return None


STATIC = Path(__file__).with_name("static")
WEB = Path(__file__).resolve().parents[2] / "web" / "node_modules"
# The only files the test page may load: a fixed map, nothing taken from the request path.
VENDOR = {"hls.min.js": WEB / "hls.js" / "dist" / "hls.min.js",
          "shaka-player.compiled.js": WEB / "shaka-player" / "dist" / "shaka-player.compiled.js"}


def install_demo_page(api: FastAPI) -> None:
    """Serve the small test page that plays channels with hls.js or Shaka Player."""
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

    @api.get("/demo", include_in_schema=False)
    def demo_redirect() -> RedirectResponse:
        return RedirectResponse("/demo/")

    @api.get("/demo/", include_in_schema=False)
    def demo_page() -> HTMLResponse:
        return HTMLResponse((STATIC / "demo.html").read_text())

    @api.get("/demo/vendor/{name}", include_in_schema=False)
    def demo_vendor(name: str) -> FileResponse:
        path = VENDOR.get(name)
        if path is None or not path.exists():
            raise NotFound("player library not installed; run `npm ci --prefix web`")
        return FileResponse(path, media_type="text/javascript")


def create_app(rt: Runtime, *, run_jobs: bool | None = None):  # noqa: ANN201
    from catalog.channels.api import router as catalog_router
    from catalog.guide.api import UPLOAD_PATH as EPG_UPLOAD_PATH
    from catalog.guide.api import router as epg_router
    from catalog.guide.player_api import router as guide_router
    from catalog.vod.api import IMAGE_UPLOAD_PATH
    from catalog.vod.api import router as vod_router
    from entitlements.accounts.api import router as entitlements_router
    from entitlements.packages.api import router as packages_router
    from entitlements.playback.api import router as playback_router
    from entitlements.playback.gate import PlaybackGate
    from recorder.api import router as recorder_router
    from streaming.ingest.api import router as ingest_router
    from streaming.ingest.endpoint import IngestEndpoint
    from streaming.origin.app import Origin
    from streaming.timeline.api import router as streaming_router
    from streaming.vod.api import UPLOAD_PATH as VOD_UPLOAD_PATH
    from streaming.vod.api import router as vod_assets_router
    from workers.api import router as jobs_router
    from workers.runner import make_job_runner

    set_runtime(rt)
    job_runner = make_job_runner(rt) if (run_jobs if run_jobs is not None else rt.settings.embedded) else None
    lifecycle = rt.lifecycle = Lifecycle("api", rt.settings.mode, rt.health)
    schema = SchemaCheck(rt)
    lifecycle.checks.update(schema=schema.problem, pools=lambda: pool_problem(rt))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        probes = asyncio.create_task(rt.health.run(), name="health-probes")
        await asyncio.to_thread(schema.refresh)
        try:
            with rt.db.session() as s:
                staff.ensure_bootstrap_key(db_session=s, key=rt.settings.bootstrap_admin_key)
        except SmartGoError as err:  # a database outage at start: serve what memory can, say degraded
            if not rt.health.absorb(err):
                raise
        await rt.bus.start()
        await origin.start()
        if job_runner:
            await job_runner.start()
        # What start-up made lives as long as the process: out of the collector's way, so its
        # full passes (which many objects in one response trigger) stay short.
        gc.collect()  # garbage first: only what is alive is frozen
        gc.freeze()
        lifecycle.started = True
        log.info("SmartGo API up in %s mode", rt.settings.mode)
        try:
            yield
        finally:
            lifecycle.drain()
            if job_runner:
                await job_runner.stop()
            await origin.stop()
            await rt.bus.stop()
            probes.cancel()

    api = FastAPI(title="TV Smart GO", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(refuse_nul)])
    api.state.runtime = rt
    install_error_handlers(api)
    api.include_router(catalog_router)
    api.include_router(packages_router)
    api.include_router(ingest_router)
    api.include_router(streaming_router)
    api.include_router(entitlements_router)
    api.include_router(playback_router)
    api.include_router(epg_router)
    api.include_router(guide_router)
    api.include_router(recorder_router)
    api.include_router(vod_assets_router)
    api.include_router(vod_router)
    api.include_router(jobs_router)
    install_openapi(api)
    api.add_middleware(BodyLimit, max_bytes=rt.settings.max_request_body_bytes, streamed=f"{EPG_UPLOAD_PATH}|{VOD_UPLOAD_PATH}|{IMAGE_UPLOAD_PATH}")

    install_demo_page(api)

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Report liveness: the process answers (and which role and mode it runs in)."""
        status, body = lifecycle.liveness()
        return JSONResponse(body, status_code=status)

    @api.get("/readyz", tags=["ops"], responses={503: {"description": "starting, draining or a local fault"}})
    async def readyz() -> JSONResponse:
        """Report whether to send this process work: 503 only for its own faults; a shared service
        down is `degraded` (200) with each service's state and latency."""
        status, body = lifecycle.readiness()
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    # Bare ASGI in front for the two hottest paths: playlists (/live/) and pushes (/ingest/).
    origin = Origin(rt, IngestEndpoint(rt, api), PlaybackGate(rt))
    api.state.origin = origin
    return origin
