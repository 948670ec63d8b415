"""Outage slates: made by ffmpeg, retimed to their place on the wall clock, continuous entry to entry."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from streaming.ffmpeg import ffmpeg_exe
from streaming.packager import jobs as packager_jobs
from streaming.packager import slate
from streaming.packager.slate import PTS_WRAP, cut_ts, first_pts, make_slates, retime_ts, slate_args
from streaming.timeline import service
from streaming.timeline.runs import make_run
from tests.catalog.channels.test_api import create_unchecked_channel
from tests.streaming.packager.test_arguments import BOUNDARY_CHANNELS
from tests.streaming.protection.test_encryption import _decrypt
from tests.support.waiting import wait_for

S = 1_000_000


def test_slate_arguments_are_data() -> None:
    args = slate_args(ffmpeg="ffmpeg", out="o.ts", duration_s=1.92, width=426, height=240, frame_rate=25)
    assert args[args.index("-i") + 1] == "smptebars=size=426x240:rate=25"
    assert "anullsrc=channel_layout=stereo:sample_rate=48000" in args and args[-1] == "o.ts"
    assert args[args.index("-t") + 1] == "1.920" and args[args.index("-g") + 1] == "49"  # one key frame
    audio_only = slate_args(ffmpeg="ffmpeg", out="a.ts", duration_s=2, audio=True)
    assert "smptebars" not in " ".join(audio_only) and "libx264" not in audio_only
    assert "anullsrc" not in " ".join(slate_args(ffmpeg="ffmpeg", out="v.ts", duration_s=2, width=64, height=64,
                                                 audio=False))


@pytest.fixture(scope="module")
def slate_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("slate") / "s.ts"
    proc = subprocess.run(slate_args(ffmpeg=ffmpeg_exe(), out=str(out), duration_s=1.92, width=426, height=240),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def _packet_times(path: Path) -> list[tuple[int, int]]:
    """Return (stream, pts) of every packet as ffmpeg itself reads them (framecrc, timestamps kept)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-copyts", "-i", str(path), "-map", "0", "-c", "copy",
                           "-f", "framecrc", "-"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = [re.split(r",\s*", line) for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    return [(int(r[0]), int(r[2])) for r in rows]


def test_a_retimed_slate_starts_at_its_entry_and_the_next_continues_it(slate_clip: bytes, tmp_path: Path) -> None:
    start_us = 1_765_000_000 * S + 120_000  # a wall-clock time far past the 33-bit wrap
    one, two = retime_ts(slate_clip, start_us), retime_ts(slate_clip, start_us + 1_920_000)
    assert len(one) == len(slate_clip) and one != slate_clip
    expected = start_us * 9 // 100 % PTS_WRAP
    assert first_pts(one) == expected and first_pts(two) == (expected + 1.92 * 90_000) % PTS_WRAP
    # ffmpeg reads the retimed clip whole: the video starts where asked, in its 90 kHz time base.
    (tmp_path / "one.ts").write_bytes(one)
    times = _packet_times(tmp_path / "one.ts")
    video = [t for stream, t in times if stream == 0]
    assert len(video) == 48 and min(video) == expected
    # The two clips played back to back are one stream: ffmpeg concatenates them without a jump.
    (tmp_path / "both.ts").write_bytes(one + two)
    video = sorted(t for stream, t in _packet_times(tmp_path / "both.ts") if stream == 0)
    steps = {b - a for a, b in zip(video, video[1:])}
    assert steps == {3600}, steps  # 25 fps: every frame 3600 ticks after the last, across the join


def test_retiming_refuses_what_is_not_mpeg_ts() -> None:
    with pytest.raises(ValueError, match="not MPEG-TS"):
        retime_ts(b"\x00" * 376, 0)
    assert retime_ts(b"", 5) == b""


def test_an_encrypted_channels_slate_is_sealed_with_its_periods_key(http, rt, make_channel) -> None:  # noqa: ANN001
    """A slate entry sits under the channel's EXT-X-KEY like any segment, so it is sealed the same way."""


    cid = make_channel(segment_sets=["cmaf", "ts"], segment_duration_ms=2000, encryption="aes-128",
                       key_rotation_s=60)["id"]
    end = int(time.time()) // 2 * 2 * S
    before = make_run(first_seq=0, start_us=end - 60 * S, count=20, duration_us=2 * S)
    outage = make_run(first_seq=20, start_us=before.end_us, count=5, duration_us=2 * S, gap=True, discontinuity=True,
                      disc_count=1, session=-1)
    back = make_run(first_seq=25, start_us=outage.end_us, count=5, duration_us=2 * S, discontinuity=True,
                    disc_count=2, session=1)
    with rt.db.session() as s:
        service.write_runs(db_session=s, channel_id=cid, runs=[before, outage, back])
    make_slates(rt, cid)
    base = f"/live/{cid}/dev-tizen-legacy/ts"
    text = http.playlist(f"{base}/360p.m3u8").text
    assert "360p/slate-22.ts" in text and '#EXT-X-KEY:METHOD=AES-128,URI="keys/0.key"' in text
    sealed = http.get(f"{base}/360p/slate-22.ts")
    key = http.get(f"{base}/keys/0.key").content
    assert sealed.status_code == 200 and len(key) == 16
    clear = _decrypt(sealed.content, key, 22)
    assert first_pts(clear) == outage.segment(22).start_us * 9 // 100 % PTS_WRAP


def test_a_slate_is_cut_to_a_slot_shorter_than_a_segment(slate_clip: bytes, tmp_path: Path) -> None:

    cut = cut_ts(slate_clip, 400_000)
    assert len(cut) < len(slate_clip) and len(cut) % 188 == 0 and first_pts(cut) == first_pts(slate_clip)
    (tmp_path / "cut.ts").write_bytes(retime_ts(cut, 5 * S))
    video = [t for stream, t in _packet_times(tmp_path / "cut.ts") if stream == 0]
    assert len(video) == 10 and min(video) == 5 * 90_000  # 0.4 s at 25 fps, still timed to its slot


def test_a_slate_ffmpeg_cannot_make_fails_once_with_a_reason_and_is_not_queued_again(http, admin, rt) -> None:  # noqa: ANN001


    cid = f"odd-{uuid.uuid4().hex[:8]}"
    # Accepted by an older release: x264 cannot encode 4:2:0 video 641 pixels wide.
    create_unchecked_channel(rt, cid, {"name": "odd", "width": 641, "height": 361}, segment_sets=["cmaf", "ts"])
    assert slate.make_slates(rt, cid) == []
    channel = http.get(f"/v1/admin/channels/{cid}", headers=admin).json()
    assert "could not be made" in channel["slate_error"] and "ffmpeg exited" in channel["slate_error"], channel
    for _ in range(2):
        assert cid not in packager_jobs.reconcile_slates(rt)
    # Staff change the channel: its slates are tried once more (and fail again, with the reason).
    assert http.patch(f"/v1/admin/channels/{cid}", json={"name": "Odd"}, headers=admin).json()["slate_error"] is None
    assert cid in packager_jobs.reconcile_slates(rt)
    wait_for(lambda: http.get(f"/v1/admin/channels/{cid}", headers=admin).json()["slate_error"], 30,
             "the slate failure recorded again")
    assert cid not in packager_jobs.reconcile_slates(rt)
    assert not list(rt.store.list(f"slates/{cid}/"))


@pytest.mark.parametrize("segment_ms,rendition", [
    (c["segment_duration_ms"], r) for c in BOUNDARY_CHANNELS for r in c["renditions"]], ids=lambda v: v["name"] if isinstance(v, dict) else str(v))
def test_ffmpeg_makes_the_slate_of_every_rendition_validation_accepts(segment_ms: int, rendition: dict,
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "s.ts"
    proc = subprocess.run(slate_args(ffmpeg=ffmpeg_exe(), out=str(out), duration_s=segment_ms / 1000,
                                     width=rendition["width"], height=rendition["height"],
                                     frame_rate=rendition["frame_rate"]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and first_pts(out.read_bytes()) is not None, proc.stderr
