"""VOD assets for content ops: upload a mezzanine, follow its ingest, cancel, retry, label, subtitle."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from catalog.vod import service as catalog_vod
from infra.db import new_id
from infra.deps import RuntimeDep, SessionDep, require_staff
from infra.errors import InvalidInput
from infra.jobs import queue_job
from infra.openapi import raw_body
from infra.runtime import run_after_commit
from infra.staff import StaffApiKey
from infra.uploads import UploadIncomplete, receive_to_file
from infra.validation import INT64_MAX, Offset
from streaming.ingest.errors import PayloadTooLarge
from streaming.vod import index as vod
from streaming.vod import service as assets
from streaming.vod import uploads
from streaming.vod.errors import AssetStateConflict
from streaming.vod.ingest import delete_asset_objects
from streaming.vod.models import MediaAsset
from streaming.vod.schemas import (
    AssetPagination,
    AssetRead,
    AssetTrackRead,
    AudioLabels,
    Label,
    Language,
    UploadComplete,
    UploadPlan,
    UploadStart,
)
from streaming.vod.subtitles import MAX_SUBTITLE_BYTES, to_webvtt

router = APIRouter(tags=["vod assets"])
viewer = [Depends(require_staff("viewer"))]
Editor = Annotated[StaffApiKey, Depends(require_staff("editor"))]
UploadingEditor = Annotated[StaffApiKey, Depends(require_staff("editor", own_transaction=True))]
AssetIdPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", description="asset id")]
# Routes that stream their body themselves (see infra/composition/web.py BodyLimit).
UPLOAD_PATH = r"^/v1/admin/vod/(assets(/[0-9a-f]{32}/subtitles/[a-z]{3})?|uploads/[0-9a-f]{32}/parts/\d+)$"


def to_read(row: MediaAsset, duplicate: bool = False) -> AssetRead:
    """Return the API view of an asset."""
    index = row.manifest or {}
    tracks = [AssetTrackRead(name=t["name"], kind="video", width=t["width"], height=t["height"],
                             bandwidth=t["bandwidth"], segments=len(t["durations_us"])) for t in index.get("video", [])]
    labels = vod.audio_labels(index, row.audio_labels) if index.get("audio") else []
    tracks += [AssetTrackRead(name=t["name"], kind="audio", language=a.language, label=a.label,
                              bandwidth=t["bandwidth"], segments=len(t["durations_us"]))
               for t, a in zip(index.get("audio", []), labels)]
    tracks += [AssetTrackRead(name=s["name"], kind="subtitles", language=s["language"], label=s["label"])
               for s in row.subtitles]
    return AssetRead(id=row.id, filename=row.filename, size=row.size, sha256=row.sha256, state=row.state,
                     progress=row.progress, error_code=row.error_code, error=row.error, attempt=row.attempt,
                     duration_s=row.duration_ms / 1000 if row.duration_ms else None, probe=row.probe or {},
                     tracks=tracks, segment_sets=list(row.segment_sets), created_by=row.created_by, created_at=row.created_at,
                     finished_at=row.finished_at, duplicate=duplicate)


def _queue_ingest(db_session, rt, asset_id: str) -> None:  # noqa: ANN001

    if rt.jobs is not None:  # a process without a runner leaves it to the workers' reconcile pass
        run_after_commit(db_session, lambda: queue_job(rt, "streaming.ingest_asset", f"streaming.ingest:{asset_id}",
                                                       asset_id=asset_id))


@router.post("/v1/admin/vod/assets", response_model=AssetRead, status_code=201,
             responses={200: {"model": AssetRead, "description": "The same file was uploaded before: its asset"}},
             openapi_extra=raw_body("application/octet-stream", description="the mezzanine file"))
async def upload_asset(request: Request, response: Response, rt: RuntimeDep, who: UploadingEditor,
                       filename: Annotated[str, Query(min_length=1, max_length=400)],
                       segment_sets: Annotated[str, Query(pattern="^cmaf(,ts)?$|^ts,cmaf$|^ts$")] = "cmaf") -> AssetRead:
    """Upload a mezzanine in the request body (streamed to storage, never held in memory) and queue its ingest.

    CMAF segments always; ``segment_sets=cmaf,ts`` adds an MPEG-TS set (for players that need it).
    The same file uploaded again (same SHA-256) answers 200 with the asset it already is.
    """
    cap = rt.settings.vod_max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > cap):
        raise PayloadTooLarge(f"an upload through the API may be {cap} bytes at most", limit=cap)
    asset_id = new_id()
    with tempfile.TemporaryDirectory(prefix="smartgo-upload-") as tmp:
        path = Path(tmp) / "source"
        size, sha256 = await receive_to_file(
            request, path, cap, lambda: PayloadTooLarge(f"an upload through the API may be {cap} bytes at most",
                                                        limit=cap))
        if declared is not None and size != int(declared):
            raise UploadIncomplete(f"the upload ended after {size} of {declared} bytes", received=size)
        if size == 0:
            raise UploadIncomplete("the upload is empty (0 bytes)")

        def existing() -> MediaAsset | None:
            with rt.db.session(write=False) as s:
                return assets.by_sha256(db_session=s, sha256=sha256)

        found = await run_in_threadpool(existing)
        if found is not None:
            response.status_code = 200
            return to_read(found, duplicate=True)
        await run_in_threadpool(rt.store.put_file, assets.source_key(asset_id), path, "application/octet-stream")

    def record() -> AssetRead:
        try:
            with rt.db.session() as s:
                row = assets.create(db_session=s, asset_id=asset_id, filename=filename, size=size, sha256=sha256,
                                    created_by=f"{who.name} ({who.id})", now=dt.datetime.now(dt.UTC),
                                    audio_labels=[], segment_sets=tuple(segment_sets.split(",")))
                _queue_ingest(s, rt, asset_id)
                return to_read(row)
        except Exception:
            rt.store.delete_many([assets.source_key(asset_id)])  # nothing orphaned in storage
            with rt.db.session(write=False) as s:  # two uploads of one file at once: one asset
                twin = assets.by_sha256(db_session=s, sha256=sha256)
            if twin is None:
                raise
            response.status_code = 200
            return to_read(twin, duplicate=True)

    return await run_in_threadpool(record)


@router.get("/v1/admin/vod/assets", response_model=AssetPagination, dependencies=viewer)
def list_assets(db_session: SessionDep, state: Annotated[str | None, Query(pattern="^(" + "|".join(assets.STATES) + ")$")] = None,
                offset: Offset = 0,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AssetPagination:
    """List assets, newest first."""
    rows, total = assets.list_assets(db_session=db_session, state=state, offset=offset, limit=limit)
    return AssetPagination(items=[to_read(r) for r in rows], total=total)


@router.get("/v1/admin/vod/assets/{asset_id}", response_model=AssetRead, dependencies=viewer)
def get_asset(asset_id: AssetIdPath, db_session: SessionDep) -> AssetRead:
    """Show an asset: its state, progress in percent, why it failed, what it holds."""
    return to_read(assets.get(db_session=db_session, asset_id=asset_id))


@router.post("/v1/admin/vod/assets/{asset_id}/cancel", response_model=AssetRead)
def cancel_asset(asset_id: AssetIdPath, db_session: SessionDep, _who: Editor) -> AssetRead:
    """Cancel a queued or running ingest; a running transcode stops within about a second."""
    return to_read(assets.cancel(db_session=db_session, asset_id=asset_id, now=dt.datetime.now(dt.UTC)))


@router.delete("/v1/admin/vod/assets/{asset_id}", status_code=204, dependencies=[Depends(require_staff("admin"))])
def delete_asset(asset_id: AssetIdPath, db_session: SessionDep, rt: RuntimeDep) -> Response:
    """Delete an asset no title uses, and everything stored for it (ladder, subtitles, mezzanine)."""
    row = assets.get(db_session=db_session, asset_id=asset_id, lock=True)
    used_by = catalog_vod.titles_using_asset(db_session=db_session, asset_id=asset_id)
    if used_by:
        raise AssetStateConflict("titles use this asset: detach it first", titles=used_by[:20])
    if row.state in ("processing", "uploading"):
        raise AssetStateConflict(f"an asset in state {row.state} cannot be deleted: cancel it first", state=row.state)
    delete_asset_objects(rt, asset_id, row.source_key)  # objects first: a failure leaves the row to retry with
    db_session.delete(row)
    return Response(status_code=204)


@router.post("/v1/admin/vod/assets/{asset_id}/retry", response_model=AssetRead)
def retry_asset(asset_id: AssetIdPath, db_session: SessionDep, rt: RuntimeDep, _who: Editor) -> AssetRead:
    """Queue a failed or cancelled asset's ingest again (409 MEZZANINE_MISSING when it has no file to ingest)."""
    row = assets.retry(db_session=db_session, store=rt.store, asset_id=asset_id)
    _queue_ingest(db_session, rt, asset_id)
    return to_read(row)


@router.put("/v1/admin/vod/assets/{asset_id}/audio", response_model=AssetRead)
def label_audio(asset_id: AssetIdPath, body: AudioLabels, db_session: SessionDep, _who: Editor) -> AssetRead:
    """Label the asset's audio tracks in the mezzanine's order (e.g. Polish voice-over, original)."""
    if sum(a.default for a in body.audio) > 1:

        raise InvalidInput("at most one audio track is the default")
    return to_read(assets.set_audio_labels(db_session=db_session, asset_id=asset_id,
                                           labels=[a.model_dump() for a in body.audio]))


@router.put("/v1/admin/vod/assets/{asset_id}/subtitles/{language}", response_model=AssetRead,
            openapi_extra=raw_body("text/vtt", "application/x-subrip", description="an SRT or WebVTT file"))
async def add_subtitles(asset_id: AssetIdPath, language: Annotated[Language, PathParam()], request: Request,
                        rt: RuntimeDep, _who: UploadingEditor,
                        label: Annotated[Label, Query()]) -> AssetRead:
    """Add (or replace) a sidecar subtitle file (SRT or WebVTT) in a language, served as WebVTT.

    The asset is looked up before the body is read (an unknown one answers 404 and reads nothing);
    a body that is not subtitles answers 422 INVALID_SUBTITLES and stores nothing.
    """
    too_large = PayloadTooLarge(f"a subtitle file may be {MAX_SUBTITLE_BYTES} bytes at most", limit=MAX_SUBTITLE_BYTES)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_SUBTITLE_BYTES):
        raise too_large

    def takes_subtitles() -> bool:
        with rt.db.session(write=False) as s:
            row = assets.get(db_session=s, asset_id=asset_id)
            assets.check_takes_subtitles(row)
            return any(t["language"] == language for t in row.subtitles)

    had = await run_in_threadpool(takes_subtitles)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SUBTITLE_BYTES:
            raise too_large
    text, cues = to_webvtt(bytes(body))

    def record() -> AssetRead:
        key = vod.subtitle_key(asset_id, f"subs-{language}")
        rt.store.put(key, text.encode(), "text/vtt")
        try:
            with rt.db.session() as s:
                assets.add_subtitles(db_session=s, asset_id=asset_id, language=language, label=label, cues=cues)
                return to_read(assets.get(db_session=s, asset_id=asset_id))
        except Exception:
            if not had:  # nothing orphaned in storage
                rt.store.delete_many([key])
            raise

    return await run_in_threadpool(record)


# -- large files: multipart, straight to storage ----------------------------------------------
@router.post("/v1/admin/vod/uploads", response_model=UploadPlan, status_code=201)
def start_upload(body: UploadStart, request: Request, db_session: SessionDep, rt: RuntimeDep,
                 who: Editor) -> UploadPlan:
    """Begin a multipart upload: one URL per part (presigned on S3), then complete it to queue the ingest."""
    plan = uploads.plan_parts(body.size, body.part_size)
    now = dt.datetime.now(dt.UTC)
    row = uploads.begin(db_session=db_session, store=rt.store, asset_id=new_id(), filename=body.filename,
                        size=body.size, created_by=f"{who.name} ({who.id})", now=now,
                        segment_sets=tuple(body.segment_sets))
    base = rt.settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
    parts = uploads.part_urls(rt.store, secret=rt.settings.secret_key, base_url=base, row=row, count=plan.count,
                              now=now)
    return UploadPlan(asset=to_read(row), part_size=plan.part_size, parts=parts,
                      expires_at=now + dt.timedelta(seconds=uploads.URL_LIFETIME_S))


@router.put("/v1/admin/vod/uploads/{asset_id}/parts/{part}", response_class=Response,
            responses={200: {"description": "The part is stored", "headers": {"ETag": {"schema": {"type": "string"}}}}},
            openapi_extra=raw_body("application/octet-stream", description="the part's bytes"))
async def put_part(asset_id: AssetIdPath, part: Annotated[int, PathParam(ge=1, le=10_000)], request: Request,
                   rt: RuntimeDep, expires: Annotated[int, Query(ge=0, le=INT64_MAX)],
                   signature: Annotated[str, Query(pattern="^[0-9a-f]{64}$")]) -> Response:
    """Receive one part where the store has no presigned URLs (the local folder); the URL is its credential."""
    now = dt.datetime.now(dt.UTC)

    def check() -> str:
        with rt.db.session(write=False) as s:
            row = assets.get(db_session=s, asset_id=asset_id)
            uploads.check_part_url(secret=rt.settings.secret_key, row=row, part=part, expires=expires,
                                   signature=signature, now=now)
            return row.upload_id

    upload_id = await run_in_threadpool(check)
    cap = 5 * 1024**3
    with tempfile.TemporaryDirectory(prefix="smartgo-part-") as tmp:
        path = Path(tmp) / "part"
        await receive_to_file(request, path, cap, lambda: PayloadTooLarge(f"a part may be {cap} bytes at most"))
        etag = await run_in_threadpool(rt.store.put_part, upload_id, part, path)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.post("/v1/admin/vod/uploads/{asset_id}/complete", response_model=AssetRead)
def complete_upload(asset_id: AssetIdPath, body: UploadComplete, db_session: SessionDep, rt: RuntimeDep,
                    _who: Editor) -> AssetRead:
    """Join the uploaded parts into the mezzanine and queue its ingest."""
    row = uploads.complete(db_session=db_session, store=rt.store, asset_id=asset_id,
                           parts=[(p.part_number, p.etag) for p in body.parts], now=dt.datetime.now(dt.UTC))
    _queue_ingest(db_session, rt, asset_id)
    return to_read(row)


@router.delete("/v1/admin/vod/uploads/{asset_id}", response_model=AssetRead)
def abort_upload(asset_id: AssetIdPath, db_session: SessionDep, rt: RuntimeDep, _who: Editor) -> AssetRead:
    """Give up an upload: its parts are dropped and the asset is cancelled."""
    return to_read(uploads.abort(db_session=db_session, store=rt.store, asset_id=asset_id,
                                 now=dt.datetime.now(dt.UTC)))
