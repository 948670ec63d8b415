"""The HLS origin: a bare ASGI app that serves playlists from memory and segments from storage.

The playlist path is the hottest in the system, so it bypasses the web framework and
never waits on the network: each process keeps the recent timeline of every channel in
memory, refreshed when the bus says a channel published (and by a periodic version check
in case a message was lost), and renders each playlist once per change. Only a cold
channel (first request after start) and segments read the database or the store.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from catalog.channels.errors import RenditionNotFound
from entitlements.playback.errors import TokenRequired
from infra.errors import NotFound, ObjectNotFound, SmartGoError
from infra.raw_http import MethodNotAllowed, send_error
from infra.runtime import Runtime
from streaming.copies.service import copied_key
from streaming.formats.device_profiles import DeviceProfile, profile_of_path
from streaming.formats.windows import Window
from streaming.ingest import spool
from streaming.ingest.provisional import provisional, run_from_json
from streaming.origin.bodies import key_body, slate_body
from streaming.origin.errors import DeviceProfileNotFound, SegmentNotFound
from streaming.origin.recent import RecentSegments
from streaming.origin.rendering import (
    FOREVER_US,
    LIVE_CACHE,
    ChannelView,
    master_playlist,
    media_playlist,
    now_us,
    wants_delta,
    window_gaps,
    window_playlist,
)
from streaming.origin.vod import VodOrigin
from streaming.origin.window_runs import WindowRuns
from streaming.protection.keys import encrypt_segment, key_source
from streaming.timeline import service
from streaming.timeline.models import ChannelTimelineState
from streaming.timeline.runs import Run
from streaming.timeline.windows import contains

log = logging.getLogger(__name__)
# A live URL's segments may be this much older than its window (a player behind, a slow fetch).
SEGMENT_REACH_SLACK_S = 120

_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
_ROUTE = re.compile(
    rf"^/(?:live/(?P<ch>{_NAME})|window/(?P<wch>{_NAME})/(?P<ws>\d{{9,11}})/(?P<we>\d{{9,11}})/"
    r"(?P<kind>vod|event|live)-(?P<off>\d{1,5})(?:/copy-(?P<copy>[0-9a-f]{32}))?)"
    r"(?:/(?P<prof>dev-[a-z0-9-]{1,32}))?"
    rf"/(?P<set>cmaf|ts)/(?:(?P<master>master)\.m3u8|(?P<rend>{_NAME})"
    r"(?:\.m3u8|/(?:(?P<seq>\d{1,18})\.(?P<ext>m4s|ts)|init-(?P<init>[0-9a-f]{16})\.mp4|slate-(?P<slate>\d{1,18})\.ts))"
    r"|keys/(?P<key>\d{1,15})\.key)$"
)
SEGMENT_CACHE = b"public, max-age=31536000, immutable"
CONTENT_TYPES = {"m3u8": b"application/vnd.apple.mpegurl", "m4s": b"video/iso.segment",
                 "ts": b"video/mp2t", "mp4": b"video/mp4", "vtt": b"text/vtt; charset=utf-8"}
# Keep this much beyond a channel's time-shift window in memory, so windows that start
# mid-run and a slightly late refresh never fall off the edge.
MEMORY_SLACK_US = 600 * 1_000_000
REFRESH_EVERY_S = 2.0


@dataclass
class FastEntry:
    """A rendered playlist response, ready to send while its view and gap count hold."""

    __slots__ = ("view", "valid_until_us", "etag", "start", "body", "http_head", "http_body")

    def __init__(self, view: "ChannelView", valid_until_us: int, body: bytes, etag: bytes,
                 cache: bytes = LIVE_CACHE) -> None:
        self.view, self.valid_until_us, self.etag = view, valid_until_us, etag
        headers = [(b"content-type", CONTENT_TYPES["m3u8"]), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", cache), (b"access-control-allow-origin", b"*"), (b"etag", etag)]
        self.start = {"type": "http.response.start", "status": 200, "headers": headers}
        self.body = {"type": "http.response.body", "body": body}
        # The same response as raw HTTP/1.1 for infra.http_server's fast path (which adds
        # the server's Date and Server headers and the blank line).
        self.http_head = b"HTTP/1.1 200 OK\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        self.http_body = body


FAST_MAX = 10_000


class TokenGate(Protocol):
    """The playback door's check of a session URL's token, in memory (entitlements.playback.gate).

    The composition gives it to the origin: the door sits below the origin, and the origin knows
    only this much of it. A grant is the door's; the origin keeps it to ask again and reads its mode.
    """

    async def start(self) -> None:
        """Start following revocations."""

    async def stop(self) -> None:
        """Stop following revocations."""

    def admit(self, token: str, scope: str, mode_window_s: float | None) -> Any:
        """Return the grant of a token valid for scope, or raise the door's refusal."""

    def still_admitted(self, grant: Any) -> bool:
        """Tell whether a grant admitted earlier still stands (not revoked, not expired)."""


class Origin:
    """Playlist and segment server for /live/...; everything else goes to the API app."""

    def __init__(self, rt: Runtime, app, gate: TokenGate) -> None:  # noqa: ANN001
        self.rt = rt
        self.app = app
        self.gate = gate
        self.views: dict[str, ChannelView] = {}
        self._loading: dict[str, asyncio.Future] = {}
        self._refreshing: set[str] = set()
        self._task: asyncio.Task | None = None
        # (path, query) -> ready response: the hot path is one dict lookup and two sends.
        self._fast: dict[tuple[str, bytes], FastEntry] = {}
        # (signed path, query) -> (the _fast key, its admitted grant), per session URL.
        self._signed: dict[tuple[str, bytes], tuple[tuple[str, bytes], object]] = {}
        self.recent = RecentSegments(rt.settings.segment_memory_mb * 1024 * 1024)
        self.windows = WindowRuns(rt)

        self.vod = VodOrigin(rt, self)

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to timeline and channel changes and start the safety refresh."""
        self.rt.bus.subscribe(service.TIMELINE_TOPIC, self._on_timeline)
        self.rt.bus.subscribe("channel.", self._on_channel)
        self._task = asyncio.create_task(self._refresh_loop(), name="origin-refresh")
        self._catch_up = asyncio.create_task(provisional(self.rt).run(), name="timeline-catch-up")
        self._uploads = asyncio.create_task(spool.segment_spool(self.rt).run(), name="spool-uploads")
        self.vod.start()
        await self.gate.start()

    async def stop(self) -> None:
        """Stop background work."""
        self.rt.bus.unsubscribe(self._on_timeline)
        self.rt.bus.unsubscribe(self._on_channel)
        self.vod.stop()
        if self._task:
            self._task.cancel()
            self._catch_up.cancel()
            self._uploads.cancel()
        await self.gate.stop()

    def _on_timeline(self, topic: str, message: dict) -> None:
        ch = topic[len(service.TIMELINE_TOPIC):]
        view = self.views.get(ch)
        if view is None or message.get("version", 0) <= view.version:
            return
        published = message.get("provisional")
        if published is not None:
            # Published while the database is away (streaming/ingest/provisional.py): the message
            # carries the runs themselves, as there is no index to read them from.
            self.views[ch] = _extended(view, published, message["version"])
        else:
            self._schedule_refresh(ch)

    def _on_channel(self, topic: str, message: dict) -> None:
        ch = topic.split(".", 1)[1]
        self.views.pop(ch, None)

    def _schedule_refresh(self, ch: str) -> None:
        # With the database away there is nothing to read: the periodic version check catches up.
        if ch not in self._refreshing and self.rt.health.is_up("database"):
            self._refreshing.add(ch)
            asyncio.get_running_loop().create_task(self._refresh(ch))

    async def _refresh(self, ch: str) -> None:
        try:
            view = self.views.get(ch)
            if view is not None:
                await run_in_threadpool(self._refresh_tail, view)
        except Exception as err:  # the view stays as it is: playlists go on from memory
            if not self.rt.health.absorb(err):
                log.exception("origin refresh of %s failed", ch)
        finally:
            self._refreshing.discard(ch)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY_S)
            if not self.views or not self.rt.health.is_up("database"):
                continue
            try:
                versions = await run_in_threadpool(self._versions)
            except Exception as err:
                if not self.rt.health.absorb(err):
                    log.exception("origin version check failed")
                continue
            for ch, view in list(self.views.items()):
                if versions.get(ch, 0) > view.version:
                    self._schedule_refresh(ch)

    def _versions(self) -> dict[str, int]:

        with self.rt.db.session(write=False) as s:
            rows = s.execute(select(ChannelTimelineState.channel_id, ChannelTimelineState.version))
            return dict(rows.all())

    # -- loading -------------------------------------------------------------------
    def _load(self, ch: str) -> ChannelView:
        with self.rt.db.session(write=False) as s:
            spec = service.channel_spec(db_session=s, channel_id=ch)
            version, published = service.timeline_version(db_session=s, channel_id=ch)
            start = now_us() - spec.timeshift_window_s * 1_000_000 - MEMORY_SLACK_US
            runs = service.runs_in_window(db_session=s, channel_id=ch, start_us=start, end_us=2**62)
            first = runs[0].first_seq if runs else 0
            holes = service.holes_from(db_session=s, channel_id=ch, first_seq=first)
            bandwidth = service.track_bandwidth(db_session=s, channel_id=ch)
        return ChannelView(spec, runs, holes, bandwidth, version, published)

    def _refresh_tail(self, view: ChannelView) -> None:
        ch = view.spec.id
        from_seq = view.runs[-1].first_seq if view.runs else 0
        with self.rt.db.session(write=False) as s:
            version, published = service.timeline_version(db_session=s, channel_id=ch)
            tail = service.runs_from_seq(db_session=s, channel_id=ch, first_seq=from_seq)
            holes = service.holes_from(db_session=s, channel_id=ch, first_seq=from_seq)
            bandwidth = service.track_bandwidth(db_session=s, channel_id=ch)
        keep_from = now_us() - view.spec.timeshift_window_s * 1_000_000 - MEMORY_SLACK_US
        kept = [r for r in view.runs if r.first_seq < from_seq and r.end_us > keep_from]
        runs = kept + tail if tail else view.runs
        # Swap whole objects: requests on the event loop see either old or new state.
        new_view = ChannelView(view.spec, runs, {h for h in view.holes if h[0] >= (runs[0].first_seq if runs else 0)} | holes,
                               bandwidth, version, published)
        self.views[ch] = new_view

    async def view(self, ch: str) -> ChannelView:
        """Return the channel's view, loading it on first use (the only DB wait of playlists)."""
        view = self.views.get(ch)
        if view is not None:
            return view
        fut = self._loading.get(ch)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._loading[ch] = fut
            try:
                view = await run_in_threadpool(self._load, ch)
                self.views[ch] = view
                fut.set_result(view)
            except BaseException as err:
                fut.set_exception(err)
                fut.exception()  # mark retrieved; waiters re-raise it
                raise
            finally:
                self._loading.pop(ch, None)
            return view
        return await fut

    def ready_response(self, path: str, query: bytes) -> FastEntry | None:
        """Return the ready-made response for a playlist GET while it is still the right one.

        A request with a playback token (``/p/{token}/live/...``) is answered only if the
        token admits it; anything doubtful takes the full path, which says why it refuses.
        """
        signed = self._signed.get((path, query)) if path.startswith("/p/") else None
        if signed is not None:
            # This session's URL was admitted before: only what can change is checked again.
            key, grant = signed
            if not self.gate.still_admitted(grant):
                return None
        else:
            token, bare = _split_token(path)
            if token is None and not self.rt.settings.open_playback:
                return None
            key, grant = (bare, query), None
        entry = self._fast.get(key)
        if (entry is None or self.views.get(entry.view.spec.id) is not entry.view
                or time.time_ns() // 1000 >= entry.valid_until_us):
            return None
        if signed is None and token is not None:
            try:
                grant = self.gate.admit(token, "channel:" + entry.view.spec.id, _query_window(query))
            except SmartGoError:
                return None
            if len(self._signed) >= FAST_MAX:
                self._signed.clear()
            self._signed[(path, query)] = (key, grant)
        return entry

    # -- ASGI ----------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(("/live/", "/p/", "/window/", "/vod/")):
            await self.app(scope, receive, send)
            return
        entry = self.ready_response(path, scope["query_string"]) if scope["method"] == "GET" else None
        if entry is not None:
            await _send_entry(send, scope, entry)
            return
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise MethodNotAllowed("the origin only serves GET and HEAD")
            token, path = _split_token(path)
            if path.startswith("/vod/"):
                await self.vod.serve(scope, send, path, token)
            else:
                await self._serve(scope, send, path, token)
        except SmartGoError as err:
            await send_error(send, err, head=scope["method"] == "HEAD")

    async def _serve(self, scope, send, path: str, token: str | None) -> None:  # noqa: ANN001
        m = _ROUTE.match(path)
        if m is None:
            raise NotFound("no such playlist or segment")
        window = Window(m["wch"], int(m["ws"]), int(m["we"]), m["kind"], int(m["off"]), m["copy"]) if m["wch"] else None
        if window is not None and window.end_s <= window.start_s:
            raise NotFound("no such window")
        grant = None
        if token is not None:
            grant = self.gate.admit(token, window.scope if window else "channel:" + m["ch"],
                                    None if window else _query_window(scope.get("query_string", b"")))
        elif not self.rt.settings.open_playback:

            raise TokenRequired("playback needs a URL from POST /v1/playback")
        profile = profile_of_path(m["prof"])
        if profile is None:
            raise DeviceProfileNotFound(f"no device profile {m['prof'][4:]!r}")
        view = await self.view(window.channel_id if window else m["ch"])
        seg_set = m["set"]
        if seg_set not in view.spec.segment_sets:
            raise NotFound(f"channel {view.spec.id!r} has no {seg_set} segment set")
        head = scope["method"] == "HEAD"
        query = scope.get("query_string", b"")
        if m["master"]:
            body, etag = master_playlist(view, seg_set, b"" if window else query, profile)
            await self._send_playlist(send, scope, view, body, etag, FOREVER_US, head, fast=window is None)
            return
        if m["key"] is not None:
            # A key is private to the session that asked: never stored by a shared cache.
            await _send(send, 200, await key_body(self, view, int(m["key"])), b"application/octet-stream",
                        b"private, no-store", head=head)
            return
        name = m["rend"]
        if view.spec.rendition(name) is None and view.spec.audio_track(name) is None:

            raise RenditionNotFound(f"channel {view.spec.id!r} has no rendition {name!r}")
        track = f"{seg_set}/{name}"
        if m["seq"] is not None:
            reach_s = None if window is not None else (
                self.rt.settings.live_window_s if grant is not None and grant.mode == "live"
                else max(view.spec.timeshift_window_s, self.rt.settings.live_window_s))
            await self._segment(send, view, track, int(m["seq"]), m["ext"], head, window, reach_s)
        elif m["slate"] is not None:
            if seg_set != "ts":
                raise SegmentNotFound("slates are MPEG-TS: there are none in the CMAF set")
            body = await slate_body(self, view, track, int(m["slate"]), window)
            await _send(send, 200, body, CONTENT_TYPES["ts"], SEGMENT_CACHE, head=head)
        elif m["init"] is not None:
            await self._object(send, _stored_key(window, service.init_key(view.spec.id, track, m["init"])), "mp4", head)
        elif window is not None:
            body, etag, cache = await self._window_media(view, track, window, wants_delta(query), profile)
            await self._send_playlist(send, scope, view, body, etag, FOREVER_US, head, fast=False, cache=cache)
        else:
            body, etag, valid_until = media_playlist(view, track, query, self.rt.settings, profile)
            await self._send_playlist(send, scope, view, body, etag, valid_until, head)

    async def _send_playlist(self, send, scope, view: ChannelView, body: bytes, etag: bytes,  # noqa: ANN001
                             valid_until_us: int, head: bool, *, fast: bool = True, cache: bytes = b"") -> None:
        entry = FastEntry(view, valid_until_us, body, etag, cache or LIVE_CACHE)
        if fast:
            if len(self._fast) >= FAST_MAX:
                self._fast.clear()
            # Keyed by the path after any token: every viewer shares the same bytes.
            self._fast[(_split_token(scope["path"])[1], scope["query_string"])] = entry
        if head:
            await send(entry.start)
            await send({"type": "http.response.body", "body": b""})
        else:
            await _send_entry(send, scope, entry)

    async def _window_media(self, view: ChannelView, track: str, window: Window, delta: bool,
                            profile: DeviceProfile) -> tuple[bytes, bytes, bytes]:
        """A window's media playlist, rendered once per view and gap count: start-over players
        reload it every few seconds, and every new segment brings a new view."""
        gaps = window_gaps(view, window, self.rt.settings)
        key = ("window", track, window, len(gaps), delta, profile.path_part)
        hit = view.rendered.get(key)
        if hit is not None:
            return hit
        runs, holes = await self.windows.of(view, window)
        result = window_playlist(view, track, window, runs, holes, gaps, delta=delta, profile=profile)
        # An index read of a window that is not complete yet may grow before the view changes.
        if runs is view.runs or (runs and runs[-1].end_us >= window.end_us):
            view.rendered[key] = result
        return result

    async def _segment(self, send, view: ChannelView, track: str, seq: int, ext: str,  # noqa: ANN001
                       head: bool, window: Window | None = None, reach_s: float | None = None) -> None:
        if ext != service.SEGMENT_EXT[track.split("/", 1)[0]]:
            raise SegmentNotFound("wrong segment extension for this set")
        if window is not None and window.copy_id:
            runs, holes = await self.windows.of_copy(window)
            run = next((r for r in runs if r.first_seq <= seq <= r.last_seq), None)
        else:
            run, holes = view.run_for_seq(seq), view.holes
            if run is None:
                run = await run_in_threadpool(self.run_from_db, view.spec.id, seq)
        if run is None or run.gap or (seq, track) in holes:
            raise SegmentNotFound(f"no segment {seq} on this track", seq=seq)
        segment = run.segment(seq)
        if window is not None and not contains(window, segment):
            raise SegmentNotFound(f"segment {seq} is outside this window", seq=seq)
        if reach_s is not None and segment.end_us < now_us() - (reach_s + SEGMENT_REACH_SLACK_S) * 1_000_000:
            # A live URL reaches back only as far as its window: older segments are catch-up,
            # with their own rights, through a window URL.
            raise SegmentNotFound(f"segment {seq} is older than this playback's window", seq=seq)
        key = _stored_key(window, service.segment_key(view.spec.id, track, run.session, seq - run.enc_offset))
        spec = view.spec
        seal = None
        if spec.key_period_segments:

            def seal(data: bytes) -> bytes:
                key_bytes = key_source(self.rt).key_for(spec.id, seq // spec.key_period_segments)
                return encrypt_segment(data, key_bytes, seq)
        await self._object(send, key, ext, head, seal=seal)

    def run_from_db(self, ch: str, seq: int) -> Run | None:
        """Return the stored run holding seq (a segment older than the in-memory view)."""
        with self.rt.db.session(write=False) as s:
            return service.run_holding(db_session=s, channel_id=ch, seq=seq)

    async def _object(self, send, key: str, ext: str, head: bool,  # noqa: ANN001
                      seal: Callable[[bytes], bytes] | None = None) -> None:
        """Serve a stored object, through seal (encryption) when given: storage holds clear bytes."""
        if (self.rt.settings.segment_delivery == "redirect" and seal is None
                and not spool.segment_spool(self.rt).holds(key)):
            url = self.rt.store.url_for(key)
            if url:
                await send({"type": "http.response.start", "status": 302, "headers": [
                    (b"location", url.encode()), (b"cache-control", b"private, max-age=60")]})
                await send({"type": "http.response.body", "body": b""})
                return

        def load() -> bytes:
            data = spool.read(self.rt, key)
            return seal(data) if seal else data

        remembered = (key, seal is not None)
        body = self.recent.get(remembered)
        if body is None:
            try:
                body = await run_in_threadpool(load)
            except ObjectNotFound as err:
                raise SegmentNotFound("segment not in storage") from err
            self.recent.put(remembered, body)
        await _send(send, 200, body, CONTENT_TYPES[ext], SEGMENT_CACHE, head=head)


def _extended(view: ChannelView, published: dict, version: int) -> ChannelView:
    """Return a view with runs published from memory added (a run already held is replaced)."""
    runs = {r.first_seq: r for r in view.runs}
    for values in published["runs"]:
        run = run_from_json(values)
        runs[run.first_seq] = run
    holes = view.holes | {(int(seq), track) for seq, track in published["holes"]}
    return ChannelView(view.spec, [runs[k] for k in sorted(runs)], holes, view.bandwidth, version,
                       published["last_publish_us"])


def _stored_key(window: Window | None, key: str) -> str:
    """Return where an archive object is stored for this window: in its private copy, if it has one."""
    return copied_key(window.copy_id, key) if window is not None and window.copy_id else key


def _split_token(path: str) -> tuple[str | None, str]:
    """Split ``/p/{token}/live/...`` into the token and ``/live/...`` (no token: None, path)."""
    if not path.startswith("/p/"):
        return None, path
    i = path.find("/", 3)
    return (path[3:], "/") if i < 0 else (path[3:i], path[i:])


def _query_window(query: bytes) -> float | None:
    """Return the ``window`` a playlist request asks for, if any (for the live/time-shift check)."""
    if not query or b"window=" not in query:
        return None
    try:
        return float(parse_qs(query.decode("latin-1"))["window"][0])
    except (KeyError, ValueError):
        return None


async def _send_entry(send, scope, entry: FastEntry) -> None:  # noqa: ANN001
    for name, value in scope["headers"]:
        if name == b"if-none-match" and value == entry.etag:
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(b"etag", entry.etag), (b"cache-control", LIVE_CACHE)]})
            await send({"type": "http.response.body", "body": b""})
            return
    await send(entry.start)
    await send(entry.body)


async def _send(send, status: int, body: bytes, ctype: bytes, cache: bytes, *, head: bool = False,  # noqa: ANN001
                etag: bytes | None = None) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
               (b"cache-control", cache), (b"access-control-allow-origin", b"*")]
    if etag:
        headers.append((b"etag", etag))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
