"""Bodies the origin makes rather than reads as stored: content keys and retimed outage slates.

Kept apart from streaming/origin/app.py (routing, playlists, stored segments); each function returns
the bytes, the origin sends them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from infra.errors import ObjectNotFound
from streaming.formats.windows import Window
from streaming.origin.errors import KeyNotFound, SegmentNotFound
from streaming.origin.rendering import ChannelView, window_gaps
from streaming.packager.slate import cut_ts, retime_ts, slate_key
from streaming.protection.keys import encrypt_segment, key_source
from streaming.timeline.windows import contains

if TYPE_CHECKING:
    from streaming.origin.app import Origin


async def slate_body(origin: "Origin", view: ChannelView, track: str, seq: int, window: Window | None) -> bytes:
    """Return the slate of an outage's entry, timed to its place (streaming/packager/slate.py) and sealed
    like the channel's segments."""
    if window is not None and window.copy_id:
        runs, _ = await origin.windows.of_copy(window)
        run = next((r for r in runs if r.first_seq <= seq <= r.last_seq), None)
    else:
        run = view.run_for_seq(seq) or await run_in_threadpool(origin.run_from_db, view.spec.id, seq)
    segment = run.segment(seq) if run is not None and run.gap else next(
        (g for g in window_gaps(view, Window(view.spec.id, 0, 2**40, "live", 0), origin.rt.settings)
         if g.seq == seq), None)
    if segment is None or (window is not None and not contains(window, segment)):
        raise SegmentNotFound(f"no outage at segment {seq}", seq=seq)
    spec, name = view.spec, track.split("/", 1)[1]
    remembered = (slate_key(spec, name), seq, spec.key_period_segments > 0)
    body = origin.recent.get(remembered)
    if body is not None:
        return body

    try:
        clip = await run_in_threadpool(lambda: origin.rt.store.get(remembered[0]).data)
    except ObjectNotFound as err:
        raise SegmentNotFound("this channel has no slate yet", seq=seq) from err
    key = None
    if spec.key_period_segments:

        key = await run_in_threadpool(key_source(origin.rt).key_for, spec.id, seq // spec.key_period_segments)

    def shape() -> bytes:
        # An outage's last slot may be shorter than a segment: the clip is cut to it.
        timed = retime_ts(cut_ts(clip, segment.duration_us) if segment.duration_us < spec.segment_duration_us
                          else clip, segment.start_us)
        if key is None:
            return timed

        return encrypt_segment(timed, key, seq)

    body = await run_in_threadpool(shape)
    origin.recent.put(remembered, body)
    return body


async def key_body(origin: "Origin", view: ChannelView, period: int) -> bytes:
    """Return a content key; only an encrypted channel has keys, and none far ahead of live."""
    spec = view.spec
    live_seq = view.runs[-1].last_seq if view.runs else 0
    if not spec.key_period_segments or period > live_seq // spec.key_period_segments + 1:
        raise KeyNotFound("no such key")
    return await run_in_threadpool(key_source(origin.rt).key_for, spec.id, period)
