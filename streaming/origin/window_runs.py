"""Where the origin finds a window's runs and holes: its in-memory view, the index, or a private copy."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from infra.errors import NotFound
from infra.runtime import Runtime
from streaming.copies.service import load_index
from streaming.formats.windows import Window
from streaming.origin.rendering import ChannelView
from streaming.timeline import service
from streaming.timeline.runs import Run
from streaming.timeline.windows import ArchiveRuns

RunsAndHoles = tuple[list[Run], set[tuple[int, str]]]


class WindowRuns:
    """Runs and holes of windows; complete ones read once from the index (or a copy) and kept."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.kept = ArchiveRuns()

    async def of(self, view: ChannelView, window: Window) -> RunsAndHoles:
        """Return a window's runs and holes."""
        if window.copy_id:
            return await self.of_copy(window)
        # A complete (VOD) window is read from the index when memory has not caught up with its
        # end yet: its playlist is final, and memory follows the index a moment later.
        if view.runs and window.start_us >= view.runs[0].start_us and (
                window.kind != "vod" or window.end_us <= view.runs[-1].end_us):
            return view.runs, view.holes
        hit = self.kept.get(window)
        if hit is not None:
            return hit
        runs, holes = await run_in_threadpool(self._load, window)
        if runs and runs[-1].end_us >= window.end_us:  # complete: it can no longer change
            self.kept.put(window, runs, holes)
        return runs, holes

    async def of_copy(self, window: Window) -> RunsAndHoles:
        """Return a private copy's runs and holes, from its own index (fixed once written)."""
        hit = self.kept.get(window)
        if hit is None:
            hit = await run_in_threadpool(load_index, self.rt, window.copy_id)
            if hit is None:
                raise NotFound("no such copy")
            self.kept.put(window, *hit)
        return hit

    def _load(self, window: Window) -> RunsAndHoles:
        with self.rt.db.session(write=False) as s:
            runs = service.runs_in_window(db_session=s, channel_id=window.channel_id,
                                          start_us=window.start_us, end_us=window.end_us)
            holes = service.holes_from(db_session=s, channel_id=window.channel_id,
                                       first_seq=runs[0].first_seq) if runs else set()
        return runs, {h for h in holes if not runs or h[0] <= runs[-1].last_seq}
