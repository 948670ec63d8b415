"""Test-side ffmpeg helpers: make sample segments and push a live test pattern into ingest."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from streaming.ffmpeg import ffmpeg_exe
from streaming.packager.arguments import testcard_push_args
from tests.support.channels import channel_body
from tests.support.waiting import wait_for

# x264 preset of every test encoder: ultrafast costs about half the CPU of the product's default
# (veryfast), and the suite runs several live channels at once on two cores.
TEST_PRESET = "ultrafast"


def make_sample_hls(out_dir: Path, *, seconds: float = 8.0, segment_s: float = 1.92) -> Path:
    """Encode a short two-rendition CMAF HLS test pattern into out_dir (no network)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = testcard_push_args(
        ffmpeg=ffmpeg_exe(), base_url=str(out_dir), segment_s=segment_s,
        realtime=False, duration_s=seconds, headers=None, preset=TEST_PRESET,
    )
    proc = subprocess.run(args, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
    return out_dir


def basic_auth(user: str, password: str) -> str:
    """Return an Authorization header value for Basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class LivePush:
    """A real ffmpeg pushing a live test pattern to a channel's ingest until stopped."""

    def __init__(self, base_url: str, channel_id: str, password: str, *, segment_s: float = 1.92,
                 duration_s: float | None = None) -> None:
        self.args = testcard_push_args(
            ffmpeg=ffmpeg_exe(), base_url=f"{base_url}/ingest/{channel_id}/cmaf",
            segment_s=segment_s, realtime=True, duration_s=duration_s,
            headers={"Authorization": basic_auth(channel_id, password)}, preset=TEST_PRESET,
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LivePush":
        """Start ffmpeg in the background."""
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def stop(self) -> str:
        """Stop ffmpeg and return what it printed on stderr."""
        if self.proc is None:
            return ""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        self.proc = None
        return (err or b"").decode(errors="replace")


@contextlib.contextmanager
def pushed_channel(http, admin: dict, server: str, prefix: str, *, segments: int = 3,  # noqa: ANN001
                   timeout_s: float = 40, **overrides) -> Iterator[str]:  # noqa: ANN003
    """Create a channel, keep ffmpeg pushing it live, and yield its id once it has segments."""

    cid = f"{prefix}-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/channels", json=channel_body(cid, **overrides), headers=admin).status_code == 201
    password = http.get(f"/v1/admin/channels/{cid}/ingest", headers=admin).json()["password"]
    push = LivePush(server, cid, password).start()
    try:
        wait_for(lambda: http.get(f"/live/{cid}/cmaf/360p.m3u8?window=600").text.count(".m4s") >= segments,
                 timeout_s, f"{segments} live segments")
        yield cid
    finally:
        push.stop()
