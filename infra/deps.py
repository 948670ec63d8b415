"""Shared request dependencies: the runtime, a transactional session, staff keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from infra import staff
from infra.db import DatabaseUnavailable
from infra.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Return the process runtime stored on the app."""
    # async: pure, so FastAPI calls it on the loop rather than hopping to a worker thread.
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# A request waits at most this long on each database call (a job may wait the statement timeout).
REQUEST_DB_TIMEOUT_S = 10.0


def _session(request: Request, *, write: bool) -> Iterator[Session]:
    rt = request.app.state.runtime
    if not rt.health.is_up("database"):  # known away: 503 at once, no thread waiting on it
        raise DatabaseUnavailable("database unavailable, retry")
    with rt.db.session(write=write, timeout_s=REQUEST_DB_TIMEOUT_S) as session:
        yield session


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session whose transaction commits when the request succeeds (one owner)."""
    yield from _session(request, write=request.method not in ("GET", "HEAD", "OPTIONS"))


# scope="function": commit before the response goes out, so a client never reads stale data.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(request: Request) -> Iterator[Session]:
    """Yield a read-only session, whatever the method (for routes that write in their own transaction)."""
    yield from _session(request, write=False)


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


# The staff key as the OpenAPI document shows it (X-API-Key; a Bearer token is accepted too).
STAFF_API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="StaffApiKey", auto_error=False,
                             description="A staff API key; `Authorization: Bearer <key>` is accepted too.")
StaffKeyHeader = Annotated[str | None, Depends(STAFF_API_KEY)]


def _staff_key(request: Request, header: str | None) -> str | None:
    if header is not None:
        return header
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def require_staff(min_role: str, *, own_transaction: bool = False) -> Callable[..., staff.StaffApiKey]:
    """Return a dependency that admits staff keys with at least min_role.

    With own_transaction the key is checked in a read-only session: the route (an upload that
    streams its body) opens its write transaction itself, only once the body is in, so a slow
    upload never holds the embedded mode's write lock.
    """

    def dependency(request: Request, db_session: SessionDep, header: StaffKeyHeader) -> staff.StaffApiKey:
        return staff.authenticate(db_session=db_session, key=_staff_key(request, header), min_role=min_role)

    def read_only(request: Request, db_session: ReadSessionDep, header: StaffKeyHeader) -> staff.StaffApiKey:
        return staff.authenticate(db_session=db_session, key=_staff_key(request, header), min_role=min_role)

    return read_only if own_transaction else dependency
