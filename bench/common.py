"""Shared benchmark helpers: start a SmartGo server, make channels, replay encoder pushes."""

from __future__ import annotations

import asyncio
import base64
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis
import uvloop

from streaming.ffmpeg import ffmpeg_exe
from streaming.formats.hls import format_pdt
from streaming.packager.arguments import testcard_push_args
from tests.support.services import children  # noqa: F401 - the benches' interface

ADMIN = "bench-admin-key-" + "x" * 16
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """Describe this machine for the results table."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BILLING_KEY_ID, BILLING_SECRET = "bench", secrets.token_hex(16)


def mode_env(mode: str, data_dir: Path) -> dict[str, str]:
    """Return SMARTGO_* variables for 'embedded' or 'distributed' (local PostgreSQL, Redis)."""
    env = {"SMARTGO_DATA_DIR": str(data_dir), "SMARTGO_BOOTSTRAP_ADMIN_KEY": ADMIN,
           "SMARTGO_SECRET_KEY": secrets.token_hex(16), "SMARTGO_INGEST_SECRET": secrets.token_hex(16),
           "SMARTGO_LOG_LEVEL": "WARNING", "SMARTGO_BILLING_KEYS": f"{BILLING_KEY_ID}:{BILLING_SECRET}",
           "SMARTGO_OPEN_PLAYBACK": "true"}
    if mode == "distributed":
        url = reset_bench_database()
        env.update(SMARTGO_DATABASE_URL=url, SMARTGO_REDIS_URL="redis://127.0.0.1:6379/3")
    return env


def reset_bench_database() -> str:
    """Recreate the smartgo_bench database on the local PostgreSQL and return its URL."""

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS smartgo_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE smartgo_bench")
    return "postgresql+psycopg://postgres@127.0.0.1:5432/smartgo_bench"


@dataclass
class Server:
    """A `smartgo api` subprocess."""

    proc: subprocess.Popen
    url: str
    env: dict[str, str]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(mode: str, *, workers: int = 1, wrap: list[str] = (), start_timeout_s: float = 60,
                 beside: Server | None = None) -> Server:
    """Start `smartgo api` (behind a wrapper such as valgrind) in a fresh data folder; wait until it answers.

    beside: another origin of that server's deployment (its database, Redis, secrets and storage).
    """
    data = Path(tempfile.mkdtemp(prefix="smartgo-bench-"))
    port = free_port()
    if beside:  # (mode_env would make a new database)
        shared = beside.env.get("SMARTGO_STORAGE_URL") or f"file://{Path(beside.env['SMARTGO_DATA_DIR']).resolve()}/objects"
        env = {**beside.env, "SMARTGO_DATA_DIR": str(data), "SMARTGO_STORAGE_URL": shared}
    else:
        env = {**os.environ, **mode_env(mode, data)}
    proc = subprocess.Popen([*wrap, sys.executable, "-m", "infra.composition.cli", "api", "--port", str(port),
                             "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(data / "server.log", "wb"))
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + start_timeout_s
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return Server(proc, url, env)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start; see {data / 'server.log'}")


def create_channel(url: str, channel_id: str, *, timeshift_s: int = 7200, **extra) -> str:  # noqa: ANN003
    """Create a 360p/240p channel (extra fields as given) and return its ingest password."""
    headers = {"X-API-Key": ADMIN}
    body = {"id": channel_id, "name": channel_id, "segment_duration_ms": 1920,
            "timeshift_window_s": timeshift_s, **extra,
            "renditions": [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800},
                           {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 400}]}
    resp = httpx.post(f"{url}/v1/admin/channels", json=body, headers=headers, timeout=30)
    resp.raise_for_status()
    return httpx.get(f"{url}/v1/admin/channels/{channel_id}/ingest", headers=headers).json()["password"]


def sample_encode(seconds: float = 8.0) -> Path:
    """Encode a short two-rendition CMAF test pattern once (cached in /tmp)."""
    out = Path(tempfile.gettempdir()) / f"smartgo-bench-sample-{seconds:g}"
    if not (out / "240p" / "index.m3u8").exists():
        args = testcard_push_args(ffmpeg=ffmpeg_exe(), base_url=str(out), segment_s=1.92,
                                  realtime=False, duration_s=seconds, headers=None)
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(args, check=True, capture_output=True, timeout=300)
    return out


class Replayer:
    """Pushes a sample encode's segments to a channel as a live encoder does, one every 1.92 s."""

    RENDITIONS = (("360p", "init_0.mp4"), ("240p", "init_1.mp4"))

    def __init__(self, client: httpx.AsyncClient, url: str, channel_id: str, password: str,
                 sample: Path) -> None:
        self.client, self.url, self.channel_id = client, url, channel_id
        token = base64.b64encode(f"{channel_id}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.segments = {r: [(sample / r / f"seg_{i}.m4s").read_bytes() for i in range(4)]
                         for r, _ in self.RENDITIONS}
        self.inits = {r: (sample / r / name).read_bytes() for r, name in self.RENDITIONS}
        self.history: list[tuple[int, float]] = []
        self.n = 0

    async def put(self, rendition: str, name: str, body: bytes) -> None:
        resp = await self.client.put(f"{self.url}/ingest/{self.channel_id}/cmaf/{rendition}/{name}",
                                     content=body, headers=self.headers)
        resp.raise_for_status()

    async def start(self) -> None:
        for rendition, _ in self.RENDITIONS:
            await self.put(rendition, "init.mp4", self.inits[rendition])

    def playlist(self, start_us: int) -> bytes:

        self.history = (self.history + [(self.n, start_us)])[-6:]
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:2",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.history[0][0]}"]
        for n, t in self.history:
            lines += [f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(t)}", "#EXTINF:1.920000,", f"seg_{n}.m4s"]
        return ("\n".join(lines) + "\n").encode()

    async def push_next(self, start_us: int) -> float:
        """Push segment n of every rendition; return the time just before the last PUT."""
        playlist = self.playlist(start_us)
        last_sent = 0.0
        for i, (rendition, _) in enumerate(self.RENDITIONS):
            await self.put(rendition, f"seg_{self.n}.m4s", self.segments[rendition][self.n % 4])
            if i == len(self.RENDITIONS) - 1:
                last_sent = time.perf_counter()
            await self.put(rendition, "index.m3u8", playlist)
        self.n += 1
        return last_sent


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def run(coro) -> object:  # noqa: ANN001
    """Run a coroutine with uvloop when available."""
    try:

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def start_packager(server: Server, *, cpu: str | None = None) -> subprocess.Popen:
    """Start a `smartgo packager` node pushing to server (optionally pinned with taskset)."""
    env = {**server.env, "SMARTGO_INGEST_URL": server.url, "SMARTGO_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "infra.composition.cli", "packager"]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    return subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds a process has used (not its children); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def passthrough_source(seconds: float = 384) -> Path:
    """A looping MPEG-TS file (H.264 360p, GOP 1.92 s, AAC) to feed passthrough channels.

    384 s is 200 whole segments and 18,000 whole AAC frames; long enough that a benchmark
    window rarely meets the loop point, where ffmpeg pauses while it reopens the file.
    """
    out = Path(tempfile.gettempdir()) / f"smartgo-bench-passthrough-{seconds:g}.ts"
    if not out.exists():
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"testsrc2=size=640x360:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                        f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "48", "-keyint_min", "48",
                        "-sc_threshold", "0", "-b:v", "600k", "-c:a", "aac", "-b:a", "96k",
                        "-f", "mpegts", "-y", str(out)], check=True, timeout=300)
    return out


LADDERS = {
    "test": [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800},
             {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 400}],
    "hd": [{"name": "720p", "width": 1280, "height": 720, "video_bitrate_kbps": 3000},
           {"name": "480p", "width": 854, "height": 480, "video_bitrate_kbps": 1500},
           {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}],
}


def create_sourced_channel(url: str, channel_id: str, source_url: str, *, packaging: str,
                           ladder: str = "test") -> None:
    """Create a channel our packager pulls from source_url."""
    body = {"id": channel_id, "name": channel_id, "segment_duration_ms": 1920,
            "source_url": source_url, "packaging": packaging,
            "renditions": LADDERS[ladder] if packaging == "ladder" else LADDERS["test"][:1],
            "audio_tracks": [{"name": "pol", "language": "pol", "label": "Polski", "default": True}]}
    httpx.post(f"{url}/v1/admin/channels", json=body, headers={"X-API-Key": ADMIN},
               timeout=30).raise_for_status()


class PublishListener:
    """Records the wall time of every timeline publish, per channel, from the Redis bus."""

    def __init__(self, redis_url: str = "redis://127.0.0.1:6379/3") -> None:


        self.times: dict[str, list[float]] = {}
        self._pubsub = redis.Redis.from_url(redis_url).pubsub()
        self._pubsub.psubscribe("smartgo:bus:timeline.*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._pubsub.get_message(timeout=0.2)
            if msg and msg["type"] == "pmessage":
                channel = msg["channel"].decode().rsplit("timeline.", 1)[1]
                self.times.setdefault(channel, []).append(time.time())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._pubsub.close()
