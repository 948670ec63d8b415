"""The origin's VOD side: playlists rendered from an asset's index, segments from storage.

``/p/{token}/vod/{asset}/cmaf/...``; the token's scope is ``asset:{id}`` (the door decided on the
title). An asset's index never changes once it is ready, so each process reads it once and
renders each playlist once; its labels and subtitle tracks can change, which the bus announces
(``vod.asset.{id}``) and which are read again after a minute at most anyway.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from entitlements.playback.errors import TokenRequired
from infra.errors import NotFound
from infra.runtime import Runtime
from streaming.origin.errors import SegmentNotFound
from streaming.vod import index as vod
from streaming.vod import service as assets
from streaming.vod.errors import AssetNotFound
from streaming.vod.service import ASSET_TOPIC

ASSET_TTL_S = 60.0
_ROUTE = re.compile(
    r"^/vod/(?P<asset>[0-9a-f]{32})/(?P<set>cmaf|ts)/(?:(?P<master>master)\.m3u8|(?P<track>[a-z0-9][a-z0-9-]{0,39}?)"
    r"(?:(?P<iframes>-iframes)?\.m3u8|/(?:(?P<n>\d{1,7})\.(?P<ext>m4s|ts)|(?P<init>init)\.mp4|(?P<vtt>0)\.vtt)))$")
PLAYLIST = b"application/vnd.apple.mpegurl"
VOD_PLAYLIST_CACHE = b"public, max-age=300"


@dataclass
class AssetView:
    """One ready asset in this process's memory: its index, labels, subtitles and rendered playlists."""

    index: dict
    labels: list
    subtitles: list[dict]
    loaded_at: float
    rendered: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    def track(self, name: str) -> dict | None:
        """Return a video or audio track of the index by name."""
        return next((t for t in self.index["video"] + self.index["audio"] if t["name"] == name), None)


def scope_of(asset_id: str) -> str:
    """Return the playback-token scope that grants an asset's playlists and segments."""
    return f"asset:{asset_id}"


class VodOrigin:
    """Serves VOD playlists and segments for the origin (streaming/origin/app.py)."""

    def __init__(self, rt: Runtime, origin) -> None:  # noqa: ANN001 - the Origin, for its object path
        self.rt, self.origin = rt, origin
        self.views: dict[str, AssetView] = {}

    def start(self) -> None:
        """Forget an asset's view when its labels or subtitles change."""
        self.rt.bus.subscribe(ASSET_TOPIC, self._on_asset)

    def stop(self) -> None:
        """Stop listening."""
        self.rt.bus.unsubscribe(self._on_asset)

    def _on_asset(self, topic: str, _message: dict) -> None:
        self.views.pop(topic[len(ASSET_TOPIC):], None)

    def _load(self, asset_id: str) -> AssetView:
        with self.rt.db.session(write=False) as s:
            row = assets.get(db_session=s, asset_id=asset_id)
            if row.state != "ready":
                raise AssetNotFound("the asset is not ready", asset_id=asset_id)
            return AssetView(row.manifest, vod.audio_labels(row.manifest, row.audio_labels), list(row.subtitles),
                             time.monotonic())

    async def view(self, asset_id: str) -> AssetView:
        """Return the asset's view, reading it once a minute at most."""
        view = self.views.get(asset_id)
        if view is None or time.monotonic() - view.loaded_at > ASSET_TTL_S:
            view = await run_in_threadpool(self._load, asset_id)
            if len(self.views) > 10_000:
                self.views.clear()
            self.views[asset_id] = view
        return view

    async def serve(self, scope, send, path: str, token: str | None) -> None:  # noqa: ANN001
        """Serve one VOD request, admitted by its token (or open playback)."""
        m = _ROUTE.match(path)
        if m is None:
            raise NotFound("no such playlist or segment")
        asset_id = m["asset"]
        if token is not None:
            self.origin.gate.admit(token, scope_of(asset_id), None)
        elif not self.rt.settings.open_playback:

            raise TokenRequired("playback needs a URL from POST /v1/playback")
        view = await self.view(asset_id)
        seg_set = m["set"]
        if seg_set not in vod.sets_of(view.index):
            raise NotFound(f"the asset has no {seg_set} segment set")
        head = scope["method"] == "HEAD"
        name = m["track"]
        if m["master"]:
            return await self._playlist(send, scope, view, f"{seg_set}/master", lambda: vod.render_vod_master(
                view.index, view.labels, view.subtitles, seg_set), head)
        subtitle = next((s for s in view.subtitles if s["name"] == name), None)
        if subtitle is not None:
            if m["vtt"] is not None:
                return await self.origin._object(send, vod.subtitle_key(asset_id, name), "vtt", head)
            if m["n"] is None and m["init"] is None and not m["iframes"]:
                duration_us = view.index["duration_ms"] * 1000
                return await self._playlist(send, scope, view, name,
                                            lambda: vod.render_subtitles(subtitle, duration_us), head)
            raise SegmentNotFound("no such subtitle file")
        track = view.track(name)
        if track is None:
            raise NotFound(f"the asset has no track {name!r}")
        track = vod.track_in(view.index, seg_set, track)
        if m["iframes"]:
            if not track.get("iframes"):
                raise NotFound(f"track {name!r} has no I-frame playlist")
            return await self._playlist(send, scope, view, f"{seg_set}/{name}-iframes",
                                        lambda: vod.render_iframes(track), head)
        if m["init"] and seg_set == "cmaf":
            return await self.origin._object(send, vod.init_key(asset_id, name), "mp4", head)
        if m["n"] is not None and m["ext"] == vod.EXT[seg_set]:
            n = int(m["n"])
            if n >= len(track["durations_us"]):
                raise SegmentNotFound(f"no segment {n} on this track", seq=n)
            return await self.origin._object(send, vod.segment_key(asset_id, seg_set, name, n), m["ext"], head)
        if m["n"] is not None or m["init"] or m["vtt"] is not None:
            raise SegmentNotFound("no such file on this track")
        await self._playlist(send, scope, view, f"{seg_set}/{name}", lambda: vod.render_vod_media(track, seg_set), head)

    async def _playlist(self, send, scope, view: AssetView, key: str, render, head: bool) -> None:  # noqa: ANN001
        hit = view.rendered.get(key)
        if hit is None:
            body = render().encode()
            hit = view.rendered[key] = (body, vod.etag(body))
        body, etag = hit
        for name, value in scope["headers"]:
            if name == b"if-none-match" and value == etag:
                await send({"type": "http.response.start", "status": 304,
                            "headers": [(b"etag", etag), (b"cache-control", VOD_PLAYLIST_CACHE)]})
                await send({"type": "http.response.body", "body": b""})
                return
        headers = [(b"content-type", PLAYLIST), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", VOD_PLAYLIST_CACHE), (b"access-control-allow-origin", b"*"), (b"etag", etag)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})
