"""Pushed segments kept on local disk while storage is away, uploaded when it is back.

Ingest stores a segment's bytes before it records anything, so without a spool a storage outage
refuses every push (503) and becomes a hole in every channel. With it, ingest writes the bytes
to a bounded folder on local disk and publishes as usual; this process's origin serves them
from there; a background task uploads them, oldest first, once the storage probe says storage
answers again, and then deletes them. Past the bound a push is refused with 503 as before, and
the timeline records the segment as missing (a hole) when its deadline passes. A process that
restarts uploads what an earlier run left in its spool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from infra.errors import StorageUnavailable
from infra.runtime import Runtime
from infra.storage import check_key

log = logging.getLogger(__name__)
FLUSH_EVERY_S = 1.0


class SpoolFull(StorageUnavailable):
    """Storage is away and the spool that waits for it is full: still STORAGE_UNAVAILABLE to the encoder."""


class SegmentSpool:
    """Objects waiting on local disk for storage to come back."""

    def __init__(self, rt: Runtime, root: Path, max_bytes: int) -> None:
        self.rt, self.root, self.max_bytes = rt, root, max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}  # key -> bytes, in the order they were spooled
        for path in sorted(self.root.rglob("*"), key=lambda p: p.stat().st_mtime if p.is_file() else 0):
            if path.is_file() and not path.name.startswith(".tmp-"):
                self._sizes[path.relative_to(self.root).as_posix()] = path.stat().st_size

    @property
    def used(self) -> int:
        """Return the bytes spooled now."""
        return sum(self._sizes.values())

    def __len__(self) -> int:
        return len(self._sizes)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        """Keep an object until storage takes it; raise SpoolFull past the bound."""
        with self._lock:
            if self.used + len(data) > self.max_bytes:
                raise SpoolFull("storage is unavailable and the ingest spool is full; retry")
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".tmp-{path.name}-{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self._sizes.pop(key, None)
            self._sizes[key] = len(data)

    def get(self, key: str) -> bytes | None:
        """Return a spooled object's bytes, if it is here."""
        if key not in self._sizes:
            return None
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:  # uploaded meanwhile
            return None

    def holds(self, key: str) -> bool:
        """Tell whether key waits here."""
        return key in self._sizes

    def discard(self, keys: Iterable[str]) -> None:
        """Forget objects nobody will want (refused or dropped segments)."""
        with self._lock:
            for key in keys:
                if self._sizes.pop(key, None) is not None:
                    self._path(key).unlink(missing_ok=True)

    def flush(self) -> int:
        """Upload what waits, oldest first, until storage fails; return how many went."""
        sent = 0
        for key in list(self._sizes):
            data = self.get(key)
            if data is not None:
                self.rt.store.put(key, data, "video/mp2t" if key.endswith(".ts") else "video/mp4")
            with self._lock:
                if self._sizes.pop(key, None) is not None:
                    self._path(key).unlink(missing_ok=True)
            sent += 1
        return sent

    async def run(self) -> None:
        """Upload spooled objects whenever storage answers, until cancelled."""
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            if not self._sizes or not self.rt.health.is_up("storage"):
                continue
            waiting = len(self._sizes)
            try:
                sent = await asyncio.to_thread(self.flush)
            except Exception as err:
                if not self.rt.health.absorb(err):
                    log.exception("uploading the ingest spool failed")
                continue
            log.warning("ingest spool: %d of %d object(s) uploaded to storage", sent, waiting)


def segment_spool(rt: Runtime) -> SegmentSpool:
    """Return this process's ingest spool (made on first use)."""
    return rt.state(SegmentSpool, lambda rt: SegmentSpool(rt, Path(rt.settings.data_dir).resolve() / "spool",
                                                          rt.settings.ingest_spool_mb * 1024 * 1024))


def store(rt: Runtime, key: str, data: bytes, content_type: str) -> None:
    """Store pushed bytes: in storage, or, while it is away, in the spool."""
    if rt.health.is_up("storage"):
        try:
            rt.store.put(key, data, content_type)
            return
        except StorageUnavailable as err:
            rt.health.failed("storage", err)
    segment_spool(rt).put(key, data)


def stored(rt: Runtime, key: str) -> bool:
    """Tell whether pushed bytes are kept (in storage or the spool)."""
    spool = segment_spool(rt)
    if spool.holds(key):
        return True
    if not rt.health.is_up("storage"):
        return False
    try:
        return rt.store.exists(key)
    except StorageUnavailable as err:
        rt.health.failed("storage", err)
        return False


def delete(rt: Runtime, keys: list[str]) -> None:
    """Delete pushed bytes nobody will want, wherever they are kept."""
    segment_spool(rt).discard(keys)
    try:
        rt.store.delete_many(keys)
    except StorageUnavailable as err:  # left to retention: nothing in the index points at them
        rt.health.failed("storage", err)


def read(rt: Runtime, key: str) -> bytes:
    """Read pushed bytes: from the spool while they wait there, else from storage."""
    data = segment_spool(rt).get(key)
    if data is not None:
        return data
    if not rt.health.is_up("storage"):  # no request waits on storage's timeouts while it is away
        raise StorageUnavailable("storage unavailable, retry")
    return rt.store.get(key).data
