"""Supervising one channel's ffmpeg: restart with back-off, fail over to a backup and back.

The supervisor judges health by what reaches the timeline, not by ffmpeg's own progress: an
encoder that runs but whose segments never publish is stalled. Publish notifications on the bus
wake it at once; when none came for a stall period it asks the timeline itself (the database)
before it restarts anything, because the bus may be what failed (Redis away), and restarting a
healthy encoder for that would cut a hole in the channel. If the database cannot say either,
ffmpeg's own uploads of media segments are the evidence left. Every restart makes the new ffmpeg push a new init segment and numbering from zero,
so ingest records the break as a discontinuity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from streaming import ffmpeg

log = logging.getLogger(__name__)

STATES = ("starting", "live", "degraded", "down", "stopped")
_MEDIA_UPLOAD = re.compile(r"Opening '[^']+\.(?:m4s|ts)' for writing")


@dataclass
class SupervisorPolicy:
    """Timings of supervision, in seconds, derived from the channel's target duration."""

    target_duration_s: float
    stall_factor: float = 2.0  # no segment for this many target durations = stalled
    startup_grace_s: float = 8.0  # first segment may take this much longer after a start
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    failover_after: int = 3  # consecutive failures on a source before trying the other
    primary_probe_every_s: float = 30.0
    stable_after_s: float = 30.0  # live this long = failures forgotten

    @property
    def stall_s(self) -> float:
        """Return how long without a published segment counts as a stall."""
        return self.stall_factor * self.target_duration_s


@dataclass
class ChannelState:
    """What the API and logs show about a supervised channel."""

    state: str = "starting"
    reason: str | None = None
    restarts: int = 0
    current_source: str = "primary"
    last_segment_at: float | None = None
    history: deque = field(default_factory=lambda: deque(maxlen=20))


def classify_failure(stderr_tail: str, returncode: int | None) -> str:
    """Turn ffmpeg's last words into a short reason an operator can act on."""
    text = stderr_tail.lower()
    rules = (
        # A missing stream first: ffmpeg then also says "Error opening output files".
        ("matches no streams", "source lacks a stream the channel needs (audio or video)"),
        # Output failures next: a refused ingest also says "Connection refused".
        ("could not write header", "ingest unreachable"),
        ("error opening output", "ingest unreachable"),
        ("server returned 401", "ingest refused our credentials"),
        ("401 unauthorized", "ingest refused our credentials"),
        ("connection refused", "source unreachable (connection refused)"),
        ("no such file", "source file not found"),
        ("timed out", "source timed out"),
        ("input/output error", "source I/O error"),
        ("i/o error", "source I/O error"),
        ("does not contain any stream", "source has no audio or video stream"),
        ("invalid data found", "source sent data ffmpeg cannot read"),
        ("server returned 4", "source refused the request (HTTP 4xx)"),
        ("server returned 5", "source failed (HTTP 5xx)"),
    )
    for needle, reason in rules:
        if needle in text:
            return reason
    last = next((ln for ln in reversed(stderr_tail.strip().splitlines()) if ln.strip()), "")
    return f"ffmpeg exited with {returncode}: {last[-200:]}" if last else f"ffmpeg exited with {returncode}"


class ChannelSupervisor:
    """Runs and watches the ffmpeg of one channel until stopped."""

    def __init__(self, channel_id: str, *, args_for: Callable[[str], list[str]], primary: str,
                 backup: str | None, policy: SupervisorPolicy,
                 on_state: Callable[[str, ChannelState], None] | None = None,
                 probe_args_for: Callable[[str], list[str]] | None = None,
                 inspect_line: Callable[[str, bool], str | None] | None = None,
                 published_since: Callable[[float], bool | None] | None = None) -> None:
        self.channel_id = channel_id
        self.args_for = args_for
        self.sources = {"primary": primary, "backup": backup}
        self.policy = policy
        self.on_state = on_state or (lambda _ch, _st: None)
        self.probe_args_for = probe_args_for
        self.inspect_line = inspect_line
        self.published_since = published_since
        self._last_upload: float | None = None  # monotonic time of ffmpeg's last media upload
        self._warning: str | None = None  # a source problem that degrades but does not stop
        self.status = ChannelState()
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._published = asyncio.Event()
        self._switch_to_primary = False

    # -- events from outside -------------------------------------------------------------
    def segment_published(self) -> None:
        """Tell the supervisor a segment of its channel reached the timeline."""
        self.status.last_segment_at = time.time()
        self._published.set()

    def start(self) -> None:
        """Start supervising in the background."""
        # Reported at once, so the API names this node before the first segment arrives.
        self._report()
        self._task = asyncio.create_task(self._run(), name=f"supervise-{self.channel_id}")

    async def stop(self) -> None:
        """Stop ffmpeg and the supervision loop."""
        self._stopping = True
        await self._terminate()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._set("stopped", None)

    # -- the loop ------------------------------------------------------------------------
    def _set(self, state: str, reason: str | None) -> None:
        changed = (state, reason) != (self.status.state, self.status.reason)
        self.status.state, self.status.reason = state, reason
        if changed:
            self.status.history.append((time.time(), state, reason))
            log.info("channel %s: %s%s (source %s, restarts %d)", self.channel_id, state,
                     f" ({reason})" if reason else "", self.status.current_source, self.status.restarts)
            self._report()

    def _report(self) -> None:
        try:
            self.on_state(self.channel_id, self.status)
        except Exception:  # reporting must never stop supervision
            log.exception("channel %s: state report failed", self.channel_id)

    async def _run(self) -> None:
        failures = 0
        backoff = self.policy.backoff_initial_s
        probe_task: asyncio.Task | None = None
        try:
            while not self._stopping:
                source = self.status.current_source
                started = time.monotonic()
                try:
                    reason = await self._run_once(self.sources[source])  # returns when ffmpeg ends
                except (OSError, ValueError, TypeError) as err:
                    # A packaging configuration ffmpeg cannot take: keep the reason, keep trying.
                    log.exception("channel %s: could not start ffmpeg", self.channel_id)
                    reason = f"cannot start packaging: {err}"
                if self._stopping:
                    return
                if self._switch_to_primary:
                    self._switch_to_primary = False
                    self.status.current_source, failures = "primary", 0
                    self.status.restarts += 1
                    continue
                lived = time.monotonic() - started
                if lived >= self.policy.stable_after_s and self.status.state == "live":
                    failures, backoff = 0, self.policy.backoff_initial_s
                failures += 1
                self.status.restarts += 1
                other = "backup" if source == "primary" else "primary"
                if failures >= self.policy.failover_after and self.sources.get(other):
                    self.status.current_source, failures = other, 0
                    reason = f"{reason}; switched to the {other} source"
                    if other == "backup" and self.probe_args_for and (probe_task is None or probe_task.done()):
                        probe_task = asyncio.create_task(self._probe_primary())
                bad = failures >= self.policy.failover_after and not self.sources.get(other)
                self._set("down" if bad else "degraded", reason)
                await asyncio.sleep(backoff)
                backoff = min(self.policy.backoff_max_s, backoff * 2)
        finally:
            if probe_task:
                probe_task.cancel()

    async def _run_once(self, source: str) -> str:
        """Run ffmpeg on source until it exits or stalls; return why it ended."""
        self._published.clear()
        self._set("starting" if self.status.state in ("starting", "stopped") else self.status.state,
                  self.status.reason)
        args = self.args_for(source)
        # Dies with this node (ffmpeg.die_with_parent): a SIGKILLed node leaves no encoder pushing.
        self._proc = await ffmpeg.start_async(args)
        tail: deque[str] = deque(maxlen=30)
        self._warning = None
        reader = asyncio.create_task(self._read_stderr(self._proc, tail))
        first_deadline = time.monotonic() + self.policy.startup_grace_s + self.policy.stall_s
        last_seen = None
        last_seen_wall = time.time()
        stalled = False
        exited = asyncio.ensure_future(self._proc.wait())
        try:
            # Wake only for a publish, ffmpeg's exit or the stall deadline: a node runs many
            # channels, so no channel may poll.
            while not exited.done() and not self._stopping:
                deadline = first_deadline if last_seen is None else last_seen + self.policy.stall_s
                published = asyncio.ensure_future(self._published.wait())
                await asyncio.wait({published, exited}, timeout=max(0.0, deadline - time.monotonic()),
                                   return_when=asyncio.FIRST_COMPLETED)
                published.cancel()
                if not self._published.is_set() and not exited.done() and time.monotonic() >= deadline and (
                        await self._still_publishing(last_seen_wall)):
                    self._published.set()  # the bus was quiet, the timeline was not
                if self._published.is_set():
                    self._published.clear()
                    last_seen, last_seen_wall = time.monotonic(), time.time()
                    if self.status.current_source != "primary":
                        self._set("degraded", "running on the backup source")
                    elif self._warning:
                        self._set("degraded", self._warning)
                    else:
                        self._set("live", None)
                elif not exited.done() and time.monotonic() >= deadline:
                    stalled = True
                    break
        finally:
            exited.cancel()
        await self._terminate()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, timeout=2)
        if stalled:
            return (f"stalled: no segment for {self.policy.stall_s:g}s"
                    + (f" ({classify_failure(''.join(tail), None)})" if tail else ""))
        return classify_failure("".join(tail), self._proc.returncode if self._proc else None)

    async def _still_publishing(self, since_wall: float) -> bool:
        """Tell whether the channel published since a wall time though the bus said nothing."""
        if self.published_since is not None:
            try:
                answer = await asyncio.wait_for(asyncio.to_thread(self.published_since, since_wall), 3)
            except (asyncio.TimeoutError, Exception):  # the database cannot say either
                answer = None
            if answer is not None:
                return answer
        return self._last_upload is not None and time.monotonic() - self._last_upload < self.policy.stall_s

    async def _read_stderr(self, proc: asyncio.subprocess.Process, tail: deque) -> None:
        assert proc.stderr is not None
        seen_output = False
        async for raw in proc.stderr:
            line = raw.decode(errors="replace")
            if line.startswith("Output #") or line.startswith("Stream mapping"):
                seen_output = True
            if line.lstrip().startswith("[hls @") and "Opening '" in line:
                # One line per uploaded file: not worth keeping, but a media segment's upload is
                # the last evidence of progress when neither the bus nor the database can tell.
                if _MEDIA_UPLOAD.search(line):
                    self._last_upload = time.monotonic()
                continue
            tail.append(line)
            if self.inspect_line:
                problem = self.inspect_line(line, seen_output)
                if problem and problem != self._warning:
                    self._warning = problem
                    log.warning("channel %s: %s", self.channel_id, problem)

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _probe_primary(self) -> None:
        """While on the backup, test the primary now and then; switch back when it answers."""
        assert self.probe_args_for is not None
        while not self._stopping:
            await asyncio.sleep(self.policy.primary_probe_every_s)
            if self.status.current_source != "backup":
                return
            try:
                await ffmpeg.run_async(self.probe_args_for(self.sources["primary"]), timeout_s=15)
            except (ffmpeg.FFmpegFailed, OSError):  # still away (or ffmpeg cannot start): ask again later
                continue
            log.info("channel %s: primary source is back; switching", self.channel_id)
            self._switch_to_primary = True
            await self._terminate()
            return
