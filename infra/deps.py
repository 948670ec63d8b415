"""Shared request dependencies: the runtime, a transactional session, staff keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from infra import staff
from infra.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """Return the process runtime stored on the app."""
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session whose transaction commits when the request succeeds (one owner)."""
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with request.app.state.runtime.db.session(write=write) as session:
        yield session


# scope="function": commit before the response goes out, so a client never reads stale data.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def require_staff(min_role: str) -> Callable[..., staff.StaffApiKey]:
    """Return a dependency that admits staff keys with at least min_role."""

    def dependency(request: Request, db_session: SessionDep) -> staff.StaffApiKey:
        key = request.headers.get("x-api-key")
        if key is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            key = value.strip() if scheme.lower() == "bearer" else None
        return staff.authenticate(db_session=db_session, key=key, min_role=min_role)

    return dependency
