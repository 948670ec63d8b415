"""What this process's ingest remembers between pushes: channel specs, encoder sessions, epochs, tails."""

from __future__ import annotations

from infra.runtime import Runtime
from streaming.timeline.runs import Run
from streaming.timeline.service import SpecCache


class IngestMemory:
    """Ingest's per-process memory (``rt.state(IngestMemory)``): hints that save database reads.

    Every entry is a hint the database confirms or corrects, never the truth: a process that
    starts empty, or another process that pushed meanwhile, only costs a read.
    """

    def __init__(self, rt: Runtime) -> None:
        self.specs = SpecCache()  # channel specs, forgotten on every channel change
        rt.bus.subscribe("channel.", self.specs.forget)
        self.session_hints: dict[tuple[str, str], tuple] = {}  # (channel, track) -> its encoder session
        self.segment_timed: set[tuple[str, str]] = set()  # CMAF tracks whose segments timed themselves
        self.packager_epochs: dict[str, int] = {}  # the newest packager epoch seen, by channel
        self.tails: dict[str, tuple[int, Run | None]] = {}  # the run this process wrote last, by version
