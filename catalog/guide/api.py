"""Guide administration: sources, imports (from the source's URL or an uploaded file) and reports."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from catalog.guide import service as guide
from catalog.guide import sources as epg
from catalog.guide.deps import ProgrammeIdPath
from catalog.guide.errors import GuideTooLarge
from catalog.guide.fetch import parse_allow
from catalog.guide.schemas import (
    EpgImportPagination,
    EpgImportRead,
    EpgSourceBody,
    EpgSourceCreate,
    EpgSourceRead,
    ProgrammeRightsBody,
    ProgrammeRightsRead,
)
from infra.db import new_id
from infra.deps import RuntimeDep, SessionDep, require_staff
from infra.openapi import raw_body
from infra.uploads import receive_to_file
from infra.validation import Offset

router = APIRouter()
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
SourceIdPath = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
ImportIdPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
UPLOAD_PATH = r"^/v1/admin/epg/sources/[^/]+/imports$"  # streams its body itself (see infra/composition/web.py)


@router.get("/v1/admin/epg/sources", tags=["guide"], response_model=list[EpgSourceRead], dependencies=viewer)
def list_sources(db_session: SessionDep) -> list[EpgSourceRead]:
    """List guide sources."""
    return [EpgSourceRead.model_validate(s) for s in epg.list_sources(db_session=db_session)]


@router.post("/v1/admin/epg/sources", tags=["guide"], response_model=EpgSourceRead, status_code=201,
             dependencies=operator)
def create_source(body: EpgSourceCreate, db_session: SessionDep, rt: RuntimeDep) -> EpgSourceRead:
    """Create a guide source: a URL fetched on a schedule, or a target for uploads."""
    return EpgSourceRead.model_validate(epg.create_source(db_session=db_session, source_in=body,
                                                          fetch_allow=parse_allow(rt.settings.epg_fetch_allow)))


@router.get("/v1/admin/epg/sources/{source_id}", tags=["guide"], response_model=EpgSourceRead, dependencies=viewer)
def get_source(source_id: SourceIdPath, db_session: SessionDep) -> EpgSourceRead:
    """Show a guide source."""
    return EpgSourceRead.model_validate(epg.get_source(db_session=db_session, source_id=source_id))


@router.put("/v1/admin/epg/sources/{source_id}", tags=["guide"], response_model=EpgSourceRead, dependencies=operator)
def replace_source(source_id: SourceIdPath, body: EpgSourceBody, db_session: SessionDep,
                   rt: RuntimeDep) -> EpgSourceRead:
    """Replace a guide source's settings."""
    return EpgSourceRead.model_validate(epg.replace_source(db_session=db_session, source_id=source_id, body=body,
                                                           fetch_allow=parse_allow(rt.settings.epg_fetch_allow)))


@router.delete("/v1/admin/epg/sources/{source_id}", tags=["guide"], status_code=204, dependencies=operator)
def delete_source(source_id: SourceIdPath, db_session: SessionDep) -> Response:
    """Delete a guide source and its import history; the programmes it gave stay."""
    epg.delete_source(db_session=db_session, source_id=source_id)
    return Response(status_code=204)


@router.post("/v1/admin/epg/sources/{source_id}/imports", tags=["guide"], response_model=EpgImportRead, status_code=202,
             dependencies=[Depends(require_staff("operator", own_transaction=True))],
             openapi_extra=raw_body("application/xml", "application/gzip",
                                    description="an XMLTV file (gzip or not); none: import the source's URL"))
async def start_import(source_id: SourceIdPath, request: Request, rt: RuntimeDep) -> EpgImportRead:
    """Queue an import: of the request body (an XMLTV file, gzip or not), or with no body, of the source's URL.

    The body is streamed to object storage, never held in memory; a worker imports it.
    """
    cap = rt.settings.epg_max_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise GuideTooLarge(f"a guide may be {cap} bytes at most", limit=cap)

    def known() -> None:
        with rt.db.session(write=False) as s:
            epg.get_source(db_session=s, source_id=source_id)

    await run_in_threadpool(known)  # before the body is read: an unknown source stores nothing
    import_id, object_key = new_id(), None
    with tempfile.TemporaryDirectory(prefix="smartgo-epg-") as tmp:
        path = Path(tmp) / "guide"
        size, _ = await receive_to_file(
            request, path, cap, lambda: GuideTooLarge(f"a guide may be {cap} bytes at most", limit=cap))
        if size:
            object_key = f"{epg.UPLOAD_PREFIX}{import_id}"
            await run_in_threadpool(rt.store.put_file, object_key, path, "application/xml")

    def queue() -> EpgImportRead:
        with rt.db.session() as s:
            try:
                imp = epg.queue_import(db_session=s, source_id=source_id, origin="upload" if object_key else "url",
                                       object_key=object_key, import_id=import_id)
            except Exception:
                if object_key:  # nothing orphaned in storage
                    rt.store.delete_many([object_key])
                raise
            s.flush()
            s.refresh(imp)
            return EpgImportRead.model_validate(imp)

    return await run_in_threadpool(queue)


@router.get("/v1/admin/epg/sources/{source_id}/imports", tags=["guide"], response_model=EpgImportPagination,
            dependencies=viewer)
def list_imports(source_id: SourceIdPath, db_session: SessionDep, offset: Offset = 0,
                 limit: Annotated[int, Query(ge=1, le=200)] = 20) -> EpgImportPagination:
    """List a source's imports, newest first."""
    rows, total = epg.list_imports(db_session=db_session, source_id=source_id, offset=offset, limit=limit)
    return EpgImportPagination(items=[EpgImportRead.model_validate(r) for r in rows], total=total)


@router.get("/v1/admin/epg/sources/{source_id}/imports/{import_id}", tags=["guide"], response_model=EpgImportRead,
            dependencies=viewer)
def get_import(source_id: SourceIdPath, import_id: ImportIdPath, db_session: SessionDep) -> EpgImportRead:
    """Show an import and its report (what was added, updated, cancelled and rejected, and why)."""
    return EpgImportRead.model_validate(epg.get_import(db_session=db_session, import_id=import_id,
                                                      source_id=source_id))


@router.get("/v1/admin/programmes/{programme_id}/rights", response_model=ProgrammeRightsRead, dependencies=viewer,
            tags=["rights"])
def get_programme_rights(programme_id: ProgrammeIdPath, db_session: SessionDep) -> ProgrammeRightsRead:
    """Show a programme's rights overrides: from the feed, from staff, and the two combined."""
    return _programme_rights_read(guide.get_programme(db_session=db_session, programme_id=programme_id))


@router.put("/v1/admin/programmes/{programme_id}/rights", response_model=ProgrammeRightsRead, dependencies=operator,
            tags=["rights"])
def put_programme_rights(programme_id: ProgrammeIdPath, body: ProgrammeRightsBody,
                         db_session: SessionDep) -> ProgrammeRightsRead:
    """Override a programme's catch-up, start-over or recording rights (null: back to the feed's)."""
    p = guide.set_programme_rights(db_session=db_session, programme_id=programme_id, rights=body.model_dump())
    return _programme_rights_read(p)


def _programme_rights_read(p) -> ProgrammeRightsRead:  # noqa: ANN001
    return ProgrammeRightsRead(programme_id=p.id, feed=p.feed_rights or {}, staff=p.staff_rights or {},
                               effective=guide.programme_rights(p))
