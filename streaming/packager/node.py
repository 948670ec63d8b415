"""A packager node: takes channels through leases and supervises one ffmpeg per channel.

Any number of nodes may run (`smartgo packager`); each enabled channel with a source is
packaged by exactly one of them. A node renews its leases three times per lease lifetime;
a node that dies stops renewing and its channels are taken by another node once the leases
lapse.

A node never stops its channels because Redis or the database cannot be reached: an outage of
either would otherwise be a hole in every channel. Two nodes are kept from feeding one channel
by the packager epoch instead: a node taking a channel gets a new, higher epoch from the
database (``ingest_store.take_packager_epoch``) and sends it with every push, and ingest refuses
pushes of a lower one. So when Redis comes back (empty, or with the lease expired) and another
node took the channel meanwhile, the old node's pushes are refused at once and it lets the
channel go at its next lease round; if nobody did, it simply takes its lease again.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from catalog.channels import service as channel_service
from infra.runtime import Runtime
from streaming.ffmpeg import ffmpeg_exe
from streaming.ingest import credentials as ingest_credentials
from streaming.ingest import store as ingest_store
from streaming.packager.arguments import (
    AudioOut,
    LadderRung,
    PackagerSpec,
    default_font,
    packager_args,
    source_kind,
    source_problem,
)
from streaming.packager.models import ChannelStatus
from streaming.packager.supervisor import (
    ChannelState,
    ChannelSupervisor,
    SupervisorPolicy,
)
from streaming.timeline import service as timeline_service

if TYPE_CHECKING:  # the row's type only: channels are read through the catalogue's service
    from catalog.channels.models import Channel

log = logging.getLogger(__name__)
LEASE_PREFIX = "packager:channel:"
EPOCH_HEADER = "X-SmartGo-Epoch"


def packager_spec(channel: Channel) -> PackagerSpec:
    """Build the packaging facts of a channel row."""
    return PackagerSpec(
        channel_id=channel.id,
        segment_s=channel.segment_duration_ms / 1000,
        packaging=channel.packaging,
        rungs=tuple(LadderRung(r.name, r.width, r.height, r.video_bitrate_kbps, r.audio_bitrate_kbps,
                               r.frame_rate) for r in channel.renditions),
        audio=tuple(AudioOut(a["name"], a["language"], bool(a.get("default")),
                             int(a.get("bitrate_kbps", 96))) for a in channel.audio_tracks or []),
        segment_sets=tuple(channel.segment_sets),
    )


def probe_args(source_url: str) -> list[str]:
    """Return ffmpeg args that read two seconds of a source and discard them (a health probe)."""
    kind = source_kind(source_url)
    if kind == "testcard":
        return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                "testsrc2", "-t", "1", "-f", "null", "-"]
    url = source_url[len("file://"):] if kind == "file" else source_url
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-rw_timeout", "5000000", "-i", url,
            "-t", "2", "-f", "null", "-"]


class PackagerNode:
    """Runs the channels this node holds."""

    def __init__(self, rt: Runtime, *, ingest_url: str, node_id: str | None = None,
                 lease_s: float = 2.0, scan_every_s: float | None = None, list_every_s: float = 10.0,
                 policy: dict | None = None) -> None:
        self.rt = rt
        self.ingest_url = ingest_url.rstrip("/")
        self.node_id = node_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_s = lease_s
        # Renewing three times per lease lifetime survives one slow round trip to Redis.
        self.scan_every_s = scan_every_s or lease_s / 3
        self.list_every_s = list_every_s
        self.policy = policy or {}  # SupervisorPolicy overrides (tests shorten the timings)
        self._wanted_cache: tuple[float, dict] = (0.0, {})
        self.supervisors: dict[str, tuple[ChannelSupervisor, tuple]] = {}
        self._task: asyncio.Task | None = None
        self._font = default_font()
        # One writer thread keeps state reports in the order they happened.
        self._reporter = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="status")
        # Lease rounds run on a thread of their own, one at a time, in order.
        self._leasing = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="leases")

    async def start(self) -> None:
        """Start taking channels."""
        self.rt.bus.subscribe(timeline_service.TIMELINE_TOPIC, self._on_publish)
        self.rt.bus.subscribe("channel.", self._on_channel)
        await self.rt.bus.start()
        self._task = asyncio.create_task(self._loop(), name="packager-node")

    async def stop(self) -> None:
        """Stop every channel and give the leases back."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self.rt.bus.unsubscribe(self._on_publish)
        self.rt.bus.unsubscribe(self._on_channel)
        for channel_id in list(self.supervisors):
            await self._drop(channel_id, release=True)
        await asyncio.to_thread(self._reporter.shutdown, wait=True)
        self._leasing.shutdown(wait=False)

    def _on_publish(self, topic: str, message: dict) -> None:
        entry = self.supervisors.get(topic[len(timeline_service.TIMELINE_TOPIC):])
        if entry:
            entry[0].segment_published()

    async def _loop(self) -> None:
        while True:
            try:
                await self._scan()
            except Exception as err:  # the channels it runs keep running: see the module's docstring
                if not self.rt.health.absorb(err):
                    log.exception("packager %s: lease round failed; its channels keep running", self.node_id)
            await asyncio.sleep(self.scan_every_s)

    def _wanted(self) -> dict[str, tuple]:
        """Return the fingerprint of every channel a packager should run (one light query)."""
        with self.rt.db.session(write=False) as s:
            return channel_service.packaged_channels(db_session=s)

    def _load_channel(self, channel_id: str) -> tuple[Channel, int] | None:
        """Return the channel's row (renditions loaded) and a new packager epoch for it."""
        with self.rt.db.session() as s:
            channel = channel_service.find(db_session=s, channel_id=channel_id)
            if channel is None:
                return None
            return channel, ingest_store.take_packager_epoch(db_session=s, channel_id=channel_id)

    async def _scan(self) -> None:
        # One thread hop and one pipelined round trip renew the leases this node holds and
        # try the channels nobody runs here. The channel list, which changes rarely, is
        # read every list_every_s or when a bus message says a channel changed.
        now = time.monotonic()
        if now - self._wanted_cache[0] >= self.list_every_s:
            try:
                self._wanted_cache = (now, await asyncio.to_thread(self._wanted))
            except Exception as err:  # the database is away: the list read last still stands
                if not self.rt.health.absorb(err):
                    raise
                self._wanted_cache = (now, self._wanted_cache[1])
        wanted = self._wanted_cache[1]
        held = list(self.supervisors)
        free = [c for c in wanted if c not in self.supervisors]
        if not held and not free:
            return
        # Taking a lease that is ours renews it; taking one nobody holds (Redis restarted empty,
        # or the lease expired while Redis was frozen) takes it back, with the epoch we have.
        holding = await asyncio.get_running_loop().run_in_executor(
            self._leasing, self.rt.leases.acquire_many, [LEASE_PREFIX + c for c in held + free],
            self.node_id, self.lease_s)
        for channel_id in held:
            lost = not holding.get(LEASE_PREFIX + channel_id, False)
            fingerprint = self.supervisors[channel_id][1]
            if lost or wanted.get(channel_id) != fingerprint:
                await self._drop(channel_id, release=not lost)
        for channel_id in free:
            if holding.get(LEASE_PREFIX + channel_id):
                await self._take(channel_id, wanted[channel_id])

    async def _take(self, channel_id: str, fingerprint: tuple) -> None:
        """Start a channel whose lease this node just took, with a new packager epoch."""
        try:
            taken = await asyncio.to_thread(self._load_channel, channel_id)
        except Exception as err:  # the database is away: no epoch to be had, try again next round
            if not self.rt.health.absorb(err):
                log.exception("packager %s: could not take channel %s", self.node_id, channel_id)
            taken = None
        if taken is None:
            try:
                await asyncio.to_thread(self.rt.leases.release, LEASE_PREFIX + channel_id, self.node_id)
            except Exception as err:
                self.rt.health.absorb(err)
            return
        self._launch(*taken, fingerprint)

    def _on_channel(self, topic: str, message: dict) -> None:
        self._wanted_cache = (0.0, self._wanted_cache[1])  # re-list on the next scan

    def _launch(self, channel: Channel, epoch: int, fingerprint: tuple) -> None:
        spec = packager_spec(channel)
        password = ingest_credentials.ingest_key(self.rt.settings.ingest_secret, channel.id,
                                      channel.ingest_key_version)
        auth = "Basic " + base64.b64encode(f"{channel.id}:{password}".encode()).decode()
        headers = {"Authorization": auth, EPOCH_HEADER: str(epoch)}
        ffmpeg = ffmpeg_exe()

        def args_for(source: str) -> list[str]:
            return packager_args(spec, ffmpeg=ffmpeg, source_url=source, ingest_base=self.ingest_url,
                                 headers=headers, font=self._font, preset=self.rt.settings.live_preset)

        sup = ChannelSupervisor(
            channel.id, args_for=args_for, primary=channel.source_url or "",
            backup=channel.backup_source_url,
            policy=SupervisorPolicy(target_duration_s=channel.target_duration_s, **self.policy),
            on_state=self._report, probe_args_for=probe_args,
            inspect_line=lambda line, seen_output: source_problem(line, spec, seen_output=seen_output),
            published_since=lambda since: self._published_since(channel.id, since),
        )
        self.supervisors[channel.id] = (sup, fingerprint)
        log.info("packager %s: took channel %s (epoch %d)", self.node_id, channel.id, epoch)
        sup.start()

    async def _drop(self, channel_id: str, *, release: bool) -> None:
        sup, _ = self.supervisors.pop(channel_id)
        await sup.stop()
        # The "stopped" report is written before the lease goes: written after, it could land
        # on top of the next node's report and name this node as the channel's, stopped.
        await asyncio.get_running_loop().run_in_executor(self._reporter, lambda: None)
        if release:
            try:
                await asyncio.to_thread(self.rt.leases.release, LEASE_PREFIX + channel_id, self.node_id)
            except Exception as err:  # it lapses by itself
                self.rt.health.absorb(err)
        log.info("packager %s: let go of channel %s", self.node_id, channel_id)

    def _published_since(self, channel_id: str, since_wall: float) -> bool | None:
        """Tell whether a channel's timeline took a segment after a wall time (None: cannot tell)."""
        if not self.rt.health.is_up("database"):
            return None
        with self.rt.db.session(write=False, timeout_s=2.0) as s:
            _, published_us = timeline_service.timeline_version(db_session=s, channel_id=channel_id)
        return published_us > since_wall * 1_000_000

    def _report(self, channel_id: str, state: ChannelState) -> None:
        snapshot = (state.state, state.reason, state.restarts, state.current_source)
        self._reporter.submit(self._write_status, channel_id, snapshot)

    def _write_status(self, channel_id: str, snapshot: tuple) -> None:
        state, reason, restarts, source = snapshot
        try:
            with self.rt.db.session() as s:
                row = s.get(ChannelStatus, channel_id)
                if row is not None and state == "stopped" and row.node not in (None, self.node_id):
                    return  # another node has the channel now (this node's lease lapsed)
                if row is None:
                    if channel_service.find(db_session=s, channel_id=channel_id) is None:
                        return
                    row = ChannelStatus(channel_id=channel_id)
                    s.add(row)
                row.state, row.reason, row.restarts = state, (reason or None) and reason[:500], restarts
                row.current_source, row.node, row.updated_us = source, self.node_id, time.time_ns() // 1000
        except Exception as err:
            if not self.rt.health.absorb(err):
                log.exception("packager %s: could not record state of %s", self.node_id, channel_id)
