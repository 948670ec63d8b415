"""The distributed mode on services of its own, with a live channel, a player and a recording, for faults.

``FaultStack`` starts its own PostgreSQL, Redis and S3 (tests/support/services.py) and the
SmartGo processes an operator runs (API, worker, packager) against them; it creates a channel our
packager encodes, a subscriber who plays it through the door, and it records what the player
saw and what the archive holds. ``Outage`` runs one fault and measures it: what was served
during it, how long until the first new segment after it, what is missing from the archive,
and how many lines each process logged. The fault tests (tests/faults) and the fault benchmark
(bench/faults.py) share it; only the outage length differs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx

from entitlements.accounts.billing import signature
from infra.db import Database
from streaming.timeline import service
from streaming.timeline.runs import segments_in
from tests.support.balancer import Balancer
from tests.support.ffmpeg import TEST_PRESET
from tests.support.services import OwnPostgres, OwnRedis, OwnS3, free_port, temp_root
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "fault-admin-key-" + "x" * 16
BILLING_ID, BILLING_SECRET = "faults", secrets.token_hex(16)
PASSWORD = "correct horse battery"
SEGMENT_S = 1.92
TRACKS = ("cmaf/360p", "cmaf/240p")


@dataclass
class PlayerFetch:
    """One playlist fetch of the player: when, what came back, what it listed."""

    at: float
    status: int
    sequence: int | None = None  # EXT-X-MEDIA-SEQUENCE
    last_seq: int | None = None  # the newest entry's sequence number
    last_end: float | None = None  # the newest real segment's end (PDT + EXTINF), epoch seconds
    gaps: int = 0
    segment_status: int | None = None  # the newest real segment's GET
    discontinuity: int | None = None  # EXT-X-DISCONTINUITY-SEQUENCE
    origin: str = ""  # the origin that answered, behind a balancer (X-Origin)


class Player:
    """A subscriber's player: signs in, asks the door, then fetches the live playlist every second."""

    def __init__(self, stack: "FaultStack") -> None:
        self.stack = stack
        self.fetches: list[PlayerFetch] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self.media_url = ""

    def start(self) -> "Player":
        """Sign in, get a playback URL and start polling."""
        http = self.stack.client
        tokens = http.post("/v1/auth/login", json={"login": self.stack.customer, "password": PASSWORD,
                                                   "device": {"type": "mobile", "name": "phone", "model": "P"}})
        tokens.raise_for_status()
        self.auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        start = http.post("/v1/playback", headers=self.auth,
                          json={"content": {"type": "channel", "id": self.stack.channel_id}})
        start.raise_for_status()
        self.session_id = start.json()["session_id"]
        self.media_url = start.json()["url"].replace("master.m3u8", "360p.m3u8")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                began = time.time()
                self.fetches.append(self._fetch(http, began))
                self._stop.wait(max(0.0, 1.0 - (time.time() - began)))

    def _fetch(self, http: httpx.Client, at: float) -> PlayerFetch:
        try:
            resp = http.get(self.media_url)
        except httpx.HTTPError:
            return PlayerFetch(at, 0)
        origin = resp.headers.get("x-origin", "")
        if resp.status_code != 200:
            return PlayerFetch(at, resp.status_code, origin=origin)
        text = resp.text
        sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1))
        count = text.count("#EXTINF")
        disc = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text)
        fetch = PlayerFetch(at, 200, sequence, sequence + count - 1 if count else None, gaps=text.count("#EXT-X-GAP"),
                            discontinuity=int(disc.group(1)) if disc else 0, origin=origin)
        real = [e for e in re.split(r"(?=#EXT-X-PROGRAM-DATE-TIME)", text) if ".m4s" in e and "#EXT-X-GAP" not in e]
        if real:
            newest = real[-1]
            pdt = re.search(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", newest)
            extinf = re.search(r"#EXTINF:([\d.]+)", newest)
            uri = re.search(r"\n([^#\s]\S*\.m4s)", newest)
            if pdt and extinf:
                fetch.last_end = dt.datetime.fromisoformat(pdt.group(1).replace("Z", "+00:00")).timestamp() + float(
                    extinf.group(1))
            if uri:
                try:
                    fetch.segment_status = http.get(httpx.URL(self.media_url).join(uri.group(1))).status_code
                except httpx.HTTPError:
                    fetch.segment_status = 0
        return fetch

    def between(self, start: float, end: float) -> list[PlayerFetch]:
        """Return the fetches made in [start, end)."""
        return [f for f in list(self.fetches) if start <= f.at < end]


class Process:
    """A SmartGo process of the stack (api, worker, packager), its log in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        """Start it (again)."""
        self.proc = subprocess.Popen([sys.executable, "-m", "infra.composition.cli", *self.args], cwd=ROOT, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        return self

    def kill(self) -> None:
        """SIGKILL it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM it and wait (SIGKILL after 20 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_size(self) -> int:
        """Return the log's size in bytes now."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_lines(self, start: int, end: int) -> list[str]:
        """Return the log lines written between two sizes."""
        with self.log.open("rb") as fh:
            fh.seek(start)
            return fh.read(max(0, end - start)).decode(errors="replace").splitlines()


def _names(kind: str, count: int) -> list[str]:
    return [kind] if count == 1 else [f"{kind}{i + 1}" for i in range(count)]


class FaultStack:
    """PostgreSQL, Redis, S3, APIs, workers and packagers of their own, with a live channel.

    With several APIs, HAProxy balances them (tests/support/balancer.py) and ``url`` is the
    balancer's; ``origins`` names each API's own URL.
    """

    def __init__(self, *, apis: int = 1, workers: int = 1, packagers: int = 1, drain_s: float = 0.0) -> None:
        self.root = temp_root("smartgo-faults-")
        self.pg = OwnPostgres(self.root / "pg")
        self.redis = OwnRedis(self.root / "redis")
        self.s3 = OwnS3(self.root / "s3")
        self.counts = {"api": apis, "worker": workers, "packager": packagers}
        self.drain_s = drain_s
        self.api_ports = {name: free_port() for name in _names("api", apis)}
        self.origins = {name: f"http://127.0.0.1:{port}" for name, port in self.api_ports.items()}
        self.balancer = Balancer(self.root / "haproxy", self.api_ports) if apis > 1 else None
        self.url = self.balancer.url if self.balancer else next(iter(self.origins.values()))
        self.processes: dict[str, Process] = {}
        self.channel_id = f"faults-{uuid.uuid4().hex[:6]}"
        self.client = httpx.Client(base_url=self.url, timeout=20)
        self.player: Player | None = None
        self.customer = ""

    # -- start and stop ----------------------------------------------------------------------
    def env(self, data: Path, **extra: str) -> dict[str, str]:
        """Return the environment of a SmartGo process of this stack."""
        return {**os.environ, "SMARTGO_DATA_DIR": str(data), "SMARTGO_DATABASE_URL": self.pg.url,
                "SMARTGO_REDIS_URL": self.redis.url, "SMARTGO_STORAGE_URL": "s3://smartgo-faults/objects",
                "SMARTGO_S3_ENDPOINT_URL": self.s3.endpoint, "SMARTGO_S3_ACCESS_KEY_ID": "testing",
                "SMARTGO_S3_SECRET_ACCESS_KEY": "testing", "SMARTGO_SECRET_KEY": "fault-secret-" + "k" * 20,
                "SMARTGO_INGEST_SECRET": "fault-ingest-" + "k" * 20, "SMARTGO_BOOTSTRAP_ADMIN_KEY": ADMIN,
                "SMARTGO_BILLING_KEYS": f"{BILLING_ID}:{BILLING_SECRET}", "SMARTGO_LOG_LEVEL": "INFO",
                "SMARTGO_INGEST_URL": self.url, "SMARTGO_DRAIN_S": str(self.drain_s),
                "SMARTGO_LIVE_PRESET": TEST_PRESET, **extra}

    def start(self) -> "FaultStack":
        """Start the services, the processes, the channel and the player; return once it plays."""
        self.pg.start()
        self.redis.start()
        self.s3.start()
        for kind, count in self.counts.items():
            for name in _names(kind, count):
                args = {"api": ["api", "--port", str(self.api_ports.get(name, 0))], "worker": ["worker"],
                        "packager": ["packager", "--health-port", str(free_port())]}[kind]
                data = self.root / name
                data.mkdir()
                self.processes[name] = Process(name, args, self.env(data), self.root / f"{name}.log")
        for name in self.origins:
            self.processes[name].start()
        for name, url in self.origins.items():
            self.wait(lambda url=url: self._answers(url + "/healthz"), 60, f"{name} to start")
        if self.balancer is not None:
            self.balancer.start()
            self.wait(lambda: self._answers("/readyz"), 30, "the balancer to answer")
        for name, process in self.processes.items():
            if not name.startswith("api"):
                process.start()
        self._make_channel_and_subscriber()
        self.wait(lambda: len(self.index_segments(time.time() - 60, time.time() + 5)) >= 2, 90,
                  "the channel's first segments")
        self.player = Player(self).start()
        self.wait(lambda: any(f.status == 200 and f.last_end for f in self.player.fetches), 20, "the player to play")
        return self

    def close(self) -> None:
        """Stop everything this stack started."""
        if self.player is not None:
            self.player.stop()
        for process in self.processes.values():
            process.kill()
        if self.balancer is not None:
            self.balancer.stop()
        self.client.close()
        self.s3.stop()
        self.redis.kill()
        self.pg.kill()

    def _answers(self, path: str) -> bool:
        try:
            return self.client.get(path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait = staticmethod(wait_for)

    # -- the operator and the subscriber ------------------------------------------------------
    def billing(self, method: str, target: str, body: dict) -> httpx.Response:
        """Send a signed billing request."""
        raw = json.dumps(body).encode()
        ts, request_id = str(int(time.time())), uuid.uuid4().hex
        return self.client.request(method, target, content=raw, headers={
            "X-SmartGo-Key-Id": BILLING_ID, "X-SmartGo-Timestamp": ts, "Idempotency-Key": request_id,
            "Content-Type": "application/json",
            "X-SmartGo-Signature": signature(BILLING_SECRET, ts, method, target, raw, request_id)})

    def _make_channel_and_subscriber(self) -> None:
        admin = {"X-API-Key": ADMIN}
        body = {"id": self.channel_id, "name": "Faults", "segment_duration_ms": int(SEGMENT_S * 1000),
                "timeshift_window_s": 3600, "source_url": "testcard:",
                "renditions": [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 500},
                               {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 250}]}
        self.client.post("/v1/admin/channels", json=body, headers=admin).raise_for_status()
        code = f"p{uuid.uuid4().hex[:8]}"
        self.client.post("/v1/admin/packages", headers=admin, json={
            "code": code, "name": "Faults", "kind": "base", "channels": [self.channel_id], "max_streams": 4,
            "recording_hours": 10}).raise_for_status()
        self.customer = f"C{uuid.uuid4().hex[:8].upper()}"
        self.billing("PUT", f"/v1/billing/subscribers/{self.customer}",
                     {"email": f"{self.customer.lower()}@example.com", "password": PASSWORD}).raise_for_status()
        self.billing("PUT", f"/v1/billing/subscribers/{self.customer}/packages",
                     {"packages": [{"code": code}]}).raise_for_status()

    def record(self, start: float, end: float) -> str:
        """Schedule a recording of [start, end) on the channel; return its id."""
        assert self.player is not None
        resp = self.client.post("/v1/me/recordings", headers=self.player.auth, json={
            "channel_id": self.channel_id, "pad_before_s": 0, "pad_after_s": 0,
            "start": dt.datetime.fromtimestamp(start, dt.UTC).isoformat(),
            "end": dt.datetime.fromtimestamp(end, dt.UTC).isoformat()})
        resp.raise_for_status()
        return resp.json()["id"]

    def recording_state(self, recording_id: str) -> str | None:
        """Return a recording's state (None while the API cannot say)."""
        assert self.player is not None
        try:
            resp = self.client.get(f"/v1/me/recordings/{recording_id}", headers=self.player.auth, timeout=5)
        except httpx.HTTPError:
            return None
        return resp.json()["state"] if resp.status_code == 200 else None

    # -- the archive, read from the index and the store themselves ---------------------------
    def _db(self):  # noqa: ANN202

        if not hasattr(self, "_database"):
            self._database = Database(self.pg.url)
        return self._database

    def index_segments(self, start: float, end: float) -> list[tuple[int, float, bool, set[str]]]:
        """Return (seq, start, gap, tracks missing) of every timeline entry starting in [start, end)."""

        try:
            with self._db().session(write=False) as s:
                runs = service.runs_in_window(db_session=s, channel_id=self.channel_id,
                                              start_us=int(start * 1e6), end_us=int(end * 1e6))
                holes = service.holes_from(db_session=s, channel_id=self.channel_id,
                                           first_seq=runs[0].first_seq if runs else 0)
        except Exception:  # the database is the fault: nothing to read now
            return []
        out = []
        for seg in segments_in(runs, int(start * 1e6), int(end * 1e6)):
            if seg.start_us >= start * 1e6:
                out.append((seg.seq, seg.start_us / 1e6, seg.gap, {t for t in TRACKS if (seg.seq, t) in holes}))
        return out

    def stored(self, seq: int, track: str) -> bool:
        """Tell whether storage (moto, past the proxy) holds a segment's bytes."""


        with self._db().session(write=False) as s:
            run = service.run_holding(db_session=s, channel_id=self.channel_id, seq=seq)
        if run is None:
            return False
        key = "objects/" + service.segment_key(self.channel_id, track, run.session, seq - run.enc_offset)
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.s3.server_port}", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        try:
            client.head_object(Bucket="smartgo-faults", Key=key)
            return True
        except Exception:
            return False


@dataclass
class OutageReport:
    """What one fault did."""

    fault: str
    outage_s: float
    served: dict = field(default_factory=dict)  # the player's fetches during the fault, by status
    sequence_went_back: bool = False
    player_stalled_s: float = 0.0  # the longest the newest listed segment's end lagged the wall clock
    first_segment_after_s: float | None = None
    expected: int = 0  # timeline entries the fault's time should hold
    missing: list = field(default_factory=list)  # (seq, track, why): gaps, holes and unstored segments
    log_lines: dict = field(default_factory=dict)
    log: dict = field(default_factory=dict)  # what each process logged during the fault, to read a failure by
    log_lines_per_s: dict = field(default_factory=dict)
    tracebacks: dict = field(default_factory=dict)


def measure_outage(stack: FaultStack, fault: str, begin, end, outage_s: float, *,  # noqa: ANN001
                   settle_s: float = 15.0, wait_out: bool = False) -> OutageReport:
    """Run one fault for outage_s seconds on a playing stack and measure it.

    What is missing is counted settle_s after the fault ends (wait_out), or as soon as nothing is.
    """
    report = OutageReport(fault, outage_s)
    sizes = {name: p.log_size() for name, p in stack.processes.items()}
    began = time.time()
    begin()
    time.sleep(outage_s)  # the outage itself: its length is what is measured, not a wait for a condition
    ended = time.time()
    log_end = {name: p.log_size() for name, p in stack.processes.items()}
    end()
    assert stack.player is not None
    during = stack.player.between(began, ended)
    for f in during:
        report.served[f.status] = report.served.get(f.status, 0) + 1
    sequences = [f.sequence for f in stack.player.between(began - 5, time.time()) if f.sequence is not None]
    report.sequence_went_back = any(b < a for a, b in zip(sequences, sequences[1:]))
    lags = [f.at - f.last_end for f in during if f.last_end]
    report.player_stalled_s = round(max(lags), 2) if lags else outage_s
    # The first segment the encoder made after the fault that reached the archive.
    found = stack.wait(lambda: [s for s in stack.index_segments(ended, time.time() + 5) if not s[2]], 90,
                       f"a new segment after {fault}")
    report.first_segment_after_s = round(found[0][1] + SEGMENT_S - ended, 2)
    report.expected = int((ended - began) / SEGMENT_S)

    def missing() -> list:
        entries = stack.index_segments(began, ended)
        out = [(seq, track, why) for seq, _start, gap, holes in entries for track in TRACKS
               if (why := "gap" if gap else "hole" if track in holes else None if stack.stored(seq, track)
                   else "not stored")]
        return out + [("absent", "timeline", "no entry")] * max(0, report.expected - len(entries))

    # What the issue counts "60 s after": the index and storage have caught up by then. A test
    # stops waiting as soon as nothing is missing; the benchmark waits it out (wait_out).
    if wait_out:
        time.sleep(settle_s)
    else:
        deadline = time.monotonic() + settle_s
        while missing() and time.monotonic() < deadline:
            time.sleep(0.5)
    report.missing = missing()
    for name, process in stack.processes.items():
        lines = process.log_lines(sizes[name], log_end[name])
        report.log_lines[name] = len(lines)
        report.log[name] = lines[-20:]
        report.log_lines_per_s[name] = round(len(lines) / outage_s, 2)
        report.tracebacks[name] = sum(1 for line in lines if line.startswith("Traceback"))
    return report
