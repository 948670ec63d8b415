"""What every player sees alike, kept in this process until the catalogue changes.

The key is the database and the latest title change id: every write through the API records a
change, so a publish, an edit or a delete shows at once. A TTL bounds what no change records (a
licence window opening or closing, rows written around the API). Playback and details check
visibility exactly, so a card kept a few seconds past its window still cannot be played.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.vod.models import TitleChange

T = TypeVar("T")
MAX_ENTRIES = 64  # per catalogue version: the names are few, but a name may hold a client's ?lang=

_lock = threading.Lock()
_version: tuple[str, int | None] | None = None
_entries: dict[str, tuple[float, object]] = {}


def cached(*, db_session: Session, name: str, ttl_s: float, compute: Callable[[], T]) -> T:
    """Return compute()'s value for name, computed again after a catalogue change or ttl_s seconds."""
    global _version
    version = (str(db_session.get_bind().url), db_session.scalar(select(func.max(TitleChange.id))))
    now = time.monotonic()
    with _lock:
        if version != _version:
            _version = version
            _entries.clear()
        kept = _entries.get(name)
    if kept is not None and now - kept[0] < ttl_s:
        return kept[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        if version == _version:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[name] = (now, value)
    return value
