"""The ingest endpoint: a bare ASGI app in front of the API, as the origin is.

Every track of every channel pushes a segment and a playlist each segment duration, so
this is the busiest writer in the system; it skips the web framework's routing,
dependency injection and response models, and answers errors exactly as the API does.

    PUT|POST /ingest/{channel}/{set}/{rendition}/{file}   a segment, init segment or playlist
    DELETE   /ingest/{channel}/{set}/{rendition}/{file}   acknowledged; retention is ours
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time

from starlette.concurrency import run_in_threadpool

from infra.errors import NotFound
from infra.raw_http import MethodNotAllowed, header, send_error, send_json
from infra.runtime import Runtime
from streaming.ingest import service as ingest
from streaming.ingest.deps import password_from_authorization
from streaming.ingest.errors import InvalidEpoch, PayloadTooLarge

PREFIX = "/ingest/"
# Pushes run on a pool of their own: they never starve the API's thread pool, and a few
# threads keep the database connections and thread switches per push few.
_POOL = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="ingest")


class _ClientGone(Exception):
    """The encoder went away mid-upload: nothing to store, nobody to answer."""


class IngestEndpoint:
    """Takes /ingest/... requests; everything else goes to the next app."""

    def __init__(self, rt: Runtime, app) -> None:  # noqa: ANN001
        self.rt = rt
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            await self._handle(scope, receive, send)
        except _ClientGone:
            return
        except Exception as err:  # every error leaves as JSON with a stable code
            await send_error(send, err)

    async def _handle(self, scope, receive, send) -> None:  # noqa: ANN001
        parts = scope["path"][len(PREFIX):].split("/")
        if len(parts) != 4 or not all(parts):
            raise NotFound("ingest paths are /ingest/{channel}/{set}/{rendition}/{file}")
        channel_id, seg_set, rendition, filename = parts
        method = scope["method"]
        if method not in ("PUT", "POST", "DELETE"):
            raise MethodNotAllowed("ingest takes PUT, POST and DELETE")
        password = password_from_authorization(header(scope, b"authorization") or "")
        rt = self.rt
        cached = ingest.cached_spec(rt, channel_id)
        if cached is not None:  # the common case: no thread hop, no query
            spec = ingest.authorize(rt, channel_id=channel_id, password=password, spec=cached)
        else:
            spec = await run_in_threadpool(ingest.authorize, rt, channel_id=channel_id, password=password)
        if method == "DELETE":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = await _read_body(scope, receive, rt.settings.max_ingest_object_bytes)
        if ingest.redundant_playlist(rt, spec=spec, seg_set=seg_set, rendition=rendition,
                                     filename=filename, size=len(body)):
            await send_json(send, 200, {"kind": "playlist", "published": 0})
            return
        result = await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(
            ingest.ingest_file, rt, spec=spec, seg_set=seg_set, rendition=rendition,
            filename=filename, body=body, now_us=time.time_ns() // 1000, epoch=_epoch(scope),
        ))
        await send_json(send, 200, {"kind": result.kind, "published": result.published})


def _epoch(scope) -> int | None:  # noqa: ANN001
    """Return the packager epoch a push carries (X-SmartGo-Epoch), None for external encoders."""
    value = header(scope, b"x-smartgo-epoch")
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidEpoch("X-SmartGo-Epoch must be a whole number")
    return int(value)


async def _read_body(scope, receive, limit: int) -> bytes:  # noqa: ANN001
    declared = header(scope, b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"object larger than {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"object larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
