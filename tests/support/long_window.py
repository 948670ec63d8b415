"""A channel with six hours of real, playable history, for players to load and seek in.

Encoding six hours live would take six hours; instead ffmpeg encodes one segment-long clip and loops
it with stream copy into thousands of CMAF segments whose timestamps run on continuously (a
video-only clip: every frame lasts exactly 40 ms, so loops never drift). The segments go to the
store under the channel's keys and one uniform run goes into the index, ending now; a thread then
"publishes" one more pre-made segment every 6 s (extending the run and bumping the channel's
timeline version, as ingest does), so the playlist grows like a live one while players watch.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import update

from infra.runtime import Runtime
from streaming.ffmpeg import ffmpeg_exe
from streaming.timeline import service
from streaming.timeline.models import ChannelTimelineState
from streaming.timeline.runs import make_run

S = 1_000_000
SEGMENT_S = 6  # a 6-hour window is 3,600 entries; at 2 s it would be 10,800 objects to store first
TRACK = "cmaf/240p"
CODECS = "avc1.64001e"  # H.264 High 3.0, no audio


def loop_segments(work: Path, count: int) -> tuple[bytes, list[Path]]:
    """Return the init segment and `count` CMAF segments of SEGMENT_S seconds of a looped test pattern."""
    clip, out = work / "clip.mp4", work / "hls"
    out.mkdir(parents=True, exist_ok=True)
    encode = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
              "testsrc=size=426x240:rate=25", "-t", str(SEGMENT_S), "-c:v", "libx264", "-preset", "veryfast",
              "-profile:v", "high", "-level", "3.0", "-pix_fmt", "yuv420p", "-b:v", "40k", "-maxrate", "60k", "-bufsize", "240k", "-g", str(25 * SEGMENT_S),
              "-bf", "0", str(clip)]
    loop = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(count - 1), "-i", str(clip),
            "-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_playlist_type", "vod",
            "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(out / "seg_%d.m4s"), str(out / "index.m3u8")]
    for args in (encode, loop):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
    segments = sorted(out.glob("seg_*.m4s"), key=lambda p: int(p.stem[4:]))
    if len(segments) != count:
        raise RuntimeError(f"ffmpeg made {len(segments)} segments, not {count}")
    return (out / "init.mp4").read_bytes(), segments


class LongWindowChannel:
    """Six hours of a channel's history in the index and the store, growing by one segment at a time."""

    def __init__(self, rt: Runtime, channel_id: str, work: Path, *, history_s: int, spare_s: int = 600) -> None:
        self.rt, self.channel_id = rt, channel_id
        self.history = history_s // SEGMENT_S
        init, self.files = loop_segments(work, self.history + spare_s // SEGMENT_S)
        self.init_hash = hashlib.sha256(init).hexdigest()[:16]
        rt.store.put(service.init_key(channel_id, TRACK, self.init_hash), init, "video/mp4")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def store(self) -> None:
        """Put every segment in the store (several at once: S3 round trips dominate)."""
        def put(i: int) -> None:
            self.rt.store.put(service.segment_key(self.channel_id, TRACK, 0, i), self.files[i].read_bytes(),
                              "video/mp4")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(len(self.files))))

    def _write(self, count: int) -> None:
        run = make_run(first_seq=0, start_us=self.start_us, count=count, duration_us=SEGMENT_S * S,
                       inits={TRACK: self.init_hash})
        with self.rt.db.session() as s:
            service.write_runs(db_session=s, channel_id=self.channel_id, runs=[run],
                               replace_first_seq=0 if count > self.history else None)
            s.execute(update(ChannelTimelineState).where(ChannelTimelineState.channel_id == self.channel_id)
                      .values(version=ChannelTimelineState.version + 1, last_publish_us=time.time_ns() // 1000))

    def start(self) -> "LongWindowChannel":
        """Index the history (ending now) and start publishing one segment as each ends."""
        self.start_us = (time.time_ns() // 1000) - self.history * SEGMENT_S * S
        self._write(self.history)

        def publish() -> None:
            count = self.history
            while not self._stop.wait(max(0.0, (self.start_us + (count + 1) * SEGMENT_S * S) / S - time.time())):
                count += 1
                if count > len(self.files):
                    return
                self._write(count)
        self._thread = threading.Thread(target=publish, name="long-window-publisher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop publishing."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
