"""VOD content ops HTTP API: staff describe, sell, publish and delete titles (roles ranked)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from catalog.vod import admin as vod_admin
from catalog.vod import images as vod_images
from catalog.vod import service as vod
from catalog.vod.deps import IfMatch, LanguagePath, TitleIdPath
from catalog.vod.errors import ImageTooLarge
from catalog.vod.player_api import router as player_router
from catalog.vod.schemas import (
    AssetIn,
    Kind,
    PackagesIn,
    Status,
    TextIn,
    TitleChangePage,
    TitleCreate,
    TitlePagination,
    TitleRead,
    TitleUpdate,
)
from infra.deps import RuntimeDep, SessionDep, require_staff
from infra.openapi import raw_body
from infra.staff import StaffApiKey

router = APIRouter(tags=["vod admin"])
router.include_router(player_router)  # one router for create_app: content ops and players
PREFIX = "/v1/admin/vod/titles"
viewer = [Depends(require_staff("viewer"))]
Editor = Annotated[StaffApiKey, Depends(require_staff("editor"))]
Publisher = Annotated[StaffApiKey, Depends(require_staff("publisher"))]
Admin = Annotated[StaffApiKey, Depends(require_staff("admin"))]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
ImageKind = Literal["poster", "backdrop"]
# Streams its body itself, with its own limit (see infra/composition/web.py BodyLimit).
IMAGE_UPLOAD_PATH = r"^/v1/admin/vod/titles/[^/]+/images/[^/]+$"


def _read(db_session, title) -> Response:  # noqa: ANN001
    body = vod_admin.to_read(db_session=db_session, title=title)
    return Response(body.model_dump_json(), media_type="application/json", headers={"ETag": f'"{body.version}"'})


@router.post(PREFIX, response_model=TitleRead, status_code=201)
def create_title(body: TitleCreate, who: Editor, db_session: SessionDep) -> Response:
    """Create a draft title (a season under a series, an episode under a season or series)."""
    title = vod_admin.create(db_session=db_session, body=body, actor=vod_admin.actor_of(who))
    response = _read(db_session, title)
    response.status_code = 201
    return response


@router.get(PREFIX, response_model=TitlePagination, dependencies=viewer)
def list_titles(db_session: SessionDep, kind: Kind | None = None, status: Status | None = None,
                parent_id: Annotated[str | None, Query(max_length=64)] = None,
                genre: Annotated[str | None, Query(max_length=40)] = None,
                q: Annotated[str | None, Query(max_length=200)] = None, offset: Offset = 0,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    """List titles of any status, newest first (or best match with q), filtered."""
    rows, total = vod_admin.list_titles(db_session=db_session, kind=kind, status=status, parent_id=parent_id,
                                        genre=genre, q=q, offset=offset, limit=limit)
    page = TitlePagination(items=vod_admin.to_reads(db_session=db_session, titles=rows), total=total,
                           offset=offset, limit=limit)
    return Response(page.model_dump_json(), media_type="application/json")


@router.get(PREFIX + "/{title_id}", response_model=TitleRead, dependencies=viewer)
def get_title(title_id: TitleIdPath, db_session: SessionDep) -> Response:
    """Show one title with its texts, packages and images; the ETag is its version."""
    return _read(db_session, vod.get_title(db_session=db_session, title_id=title_id))


@router.patch(PREFIX + "/{title_id}", response_model=TitleRead)
def update_title(title_id: TitleIdPath, body: TitleUpdate, who: Editor, db_session: SessionDep,
                 expected: IfMatch) -> Response:
    """Change the fields sent (If-Match: the version it was read at, to refuse lost updates)."""
    return _read(db_session, vod_admin.update(db_session=db_session, title_id=title_id, body=body,
                                              actor=vod_admin.actor_of(who), if_match=expected))


@router.put(PREFIX + "/{title_id}/texts/{language}", response_model=TitleRead)
def put_text(title_id: TitleIdPath, language: LanguagePath, body: TextIn, who: Editor, db_session: SessionDep,
             expected: IfMatch) -> Response:
    """Set a title's title, synopsis and short synopsis in one language."""
    return _read(db_session, vod_admin.set_text(db_session=db_session, title_id=title_id, language=language,
                                                body=body, actor=vod_admin.actor_of(who), if_match=expected))


@router.delete(PREFIX + "/{title_id}/texts/{language}", response_model=TitleRead)
def delete_text(title_id: TitleIdPath, language: LanguagePath, who: Editor, db_session: SessionDep,
                expected: IfMatch) -> Response:
    """Remove a title's texts in one language."""
    return _read(db_session, vod_admin.set_text(db_session=db_session, title_id=title_id, language=language,
                                                body=None, actor=vod_admin.actor_of(who), if_match=expected))


@router.put(PREFIX + "/{title_id}/packages", response_model=TitleRead)
def put_packages(title_id: TitleIdPath, body: PackagesIn, who: Editor, db_session: SessionDep,
                 expected: IfMatch) -> Response:
    """Set the packages that grant a title (none: free for every account)."""
    return _read(db_session, vod_admin.set_packages(db_session=db_session, title_id=title_id, body=body,
                                                    actor=vod_admin.actor_of(who), if_match=expected))


@router.put(PREFIX + "/{title_id}/asset", response_model=TitleRead)
def put_asset(title_id: TitleIdPath, body: AssetIn, who: Editor, db_session: SessionDep,
              expected: IfMatch) -> Response:
    """Attach the media asset a title plays (null detaches it from an unpublished title)."""
    return _read(db_session, vod_admin.set_asset(db_session=db_session, title_id=title_id, asset_id=body.asset_id,
                                                 actor=vod_admin.actor_of(who), if_match=expected))


@router.post(PREFIX + "/{title_id}/publish", response_model=TitleRead)
def publish(title_id: TitleIdPath, who: Publisher, db_session: SessionDep) -> Response:
    """Publish a title: players see it inside its availability window."""
    return _read(db_session, vod_admin.publish(db_session=db_session, title_id=title_id,
                                               actor=vod_admin.actor_of(who)))


@router.post(PREFIX + "/{title_id}/unpublish", response_model=TitleRead)
def unpublish(title_id: TitleIdPath, who: Publisher, db_session: SessionDep) -> Response:
    """Take a title away from players."""
    return _read(db_session, vod_admin.unpublish(db_session=db_session, title_id=title_id,
                                                 actor=vod_admin.actor_of(who)))


@router.delete(PREFIX + "/{title_id}", status_code=204)
def delete_title(title_id: TitleIdPath, who: Admin, db_session: SessionDep, rt: RuntimeDep) -> Response:
    """Delete a title with its seasons and episodes; its history stays."""
    vod_admin.delete_title(rt, db_session=db_session, title_id=title_id, actor=vod_admin.actor_of(who))
    return Response(status_code=204)


@router.get(PREFIX + "/{title_id}/history", response_model=TitleChangePage, dependencies=viewer)
def history(title_id: TitleIdPath, db_session: SessionDep, offset: Offset = 0,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    """Every change of a title, oldest first: who, when, what."""
    items, total = vod_admin.history(db_session=db_session, title_id=title_id, offset=offset, limit=limit)
    page = TitleChangePage(items=items, total=total, offset=offset, limit=limit)
    return Response(page.model_dump_json(), media_type="application/json")


@router.put(PREFIX + "/{title_id}/images/{kind}", response_model=TitleRead,
            openapi_extra=raw_body("image/jpeg", "image/png", "image/webp", description="the image"))
async def put_image(title_id: TitleIdPath, kind: ImageKind, request: Request, rt: RuntimeDep,
                    who: Annotated[StaffApiKey, Depends(require_staff("editor", own_transaction=True))],
                    expected: IfMatch) -> Response:
    """Set a title's poster or backdrop from the image bytes in the body (JPEG, PNG or WebP)."""
    cap = vod_images.MAX_BYTES
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise ImageTooLarge(f"an image may be {cap} bytes at most", limit=cap)

    def known() -> None:
        with rt.db.session(write=False) as s:
            vod_images.check_title(db_session=s, title_id=title_id)

    await run_in_threadpool(known)  # before the body is read: an unknown title stores nothing
    data, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise ImageTooLarge(f"an image may be {cap} bytes at most", limit=cap)
        data.append(chunk)
    rendered = await run_in_threadpool(vod_images.render, b"".join(data))
    keys = await run_in_threadpool(lambda: vod_images.store(rt, title_id=title_id, kind=kind, rendered=rendered))

    def save() -> Response:
        try:
            with rt.db.session() as s:
                title = vod_images.record_image(rt, db_session=s, title_id=title_id, kind=kind, rendered=rendered,
                                                keys=keys, actor=vod_admin.actor_of(who), if_match=expected)
                return _read(s, title)
        except Exception:
            rt.store.delete_many(list(keys.values()))  # nothing orphaned in storage
            raise

    return await run_in_threadpool(save)


@router.delete(PREFIX + "/{title_id}/images/{kind}", response_model=TitleRead)
def delete_image(title_id: TitleIdPath, kind: ImageKind, who: Editor, db_session: SessionDep, rt: RuntimeDep,
                 expected: IfMatch) -> Response:
    """Remove a title's poster or backdrop (its objects go once that is committed)."""
    return _read(db_session, vod_images.record_image(rt, db_session=db_session, title_id=title_id, kind=kind,
                                                     rendered=None, keys=None, actor=vod_admin.actor_of(who),
                                                     if_match=expected))


@router.get("/v1/vod/images/{path:path}", tags=["vod"])
def get_image(path: Annotated[str, PathParam(max_length=200)], rt: RuntimeDep) -> Response:
    """Serve a title image variant; its URL holds the content hash, so it never changes."""
    key, content_type = vod_images.public_key(path)
    return Response(rt.store.get(key).data, media_type=content_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})
