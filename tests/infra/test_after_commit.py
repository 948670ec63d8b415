"""Work that runs after a commit may open sessions of its own, even on SQLite's single writer."""

from __future__ import annotations

import threading

from sqlalchemy import select

from infra.runtime import run_after_commit


def test_after_commit_work_opens_its_own_write_session(rt) -> None:  # noqa: ANN001
    done: list[int] = []

    def follow_up() -> None:
        with rt.db.session() as s:  # a write session: SQLite's lock must be free by now
            done.append(s.scalar(select(1)))

    def transaction() -> None:
        with rt.db.session() as s:
            run_after_commit(s, follow_up)

    worker = threading.Thread(target=transaction, daemon=True)
    worker.start()
    worker.join(15)
    assert not worker.is_alive(), "the follow-up waited for the lock of the transaction it follows"
    assert done == [1]


def test_after_commit_work_is_dropped_on_rollback(rt) -> None:  # noqa: ANN001
    done: list[str] = []
    try:
        with rt.db.session() as s:
            run_after_commit(s, lambda: done.append("ran"))
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    assert done == []
