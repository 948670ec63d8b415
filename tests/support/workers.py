"""Worker processes in a test or a bench: a Redis of their own to kill or freeze, a database of
their own, `smartgo worker` started and stopped, its log read back."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.composition.jobs import job_specs
from tests.support.services import free_port
from tests.support.waiting import wait_for
from workers.schedule_store import RedisScheduleStore

ROOT = Path(__file__).resolve().parents[2]
PERIODIC = {name: spec.every_s for name, spec in job_specs().items() if spec.every_s}


def isolated_env(base: dict[str, str], folder: Path, redis_url: str) -> dict[str, str]:
    """Return base with a SQLite database, a store folder and a Redis of the worker's own."""
    return {**base, "SMARTGO_DATA_DIR": str(folder), "SMARTGO_DATABASE_URL": f"sqlite:///{folder / 'worker.db'}",
            "SMARTGO_STORAGE_URL": f"file://{folder / 'objects'}", "SMARTGO_S3_ENDPOINT_URL": "",
            "SMARTGO_REDIS_URL": redis_url, "SMARTGO_LOG_LEVEL": "INFO"}


@dataclass
class WorkerProcess:
    """A `smartgo worker` child process, its log in a file and its probes on a port."""

    env: dict[str, str]
    log_path: Path
    module: str = "infra.composition.cli"
    args: list[str] = field(default_factory=list)
    health_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        """Start it and wait until its /readyz says it takes work."""
        prefix = ["worker"] if self.module == "infra.composition.cli" else []
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", self.module, *prefix, "--health-port",
                                      str(self.health_port), *self.args], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.readiness()[0] == 200, 30, f"worker {self.proc.pid} ready")
        return self

    def readiness(self) -> tuple[int, dict]:
        """Return the status and body of its /readyz (0 while it does not answer)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"worker {self.proc.pid} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        try:
            resp = httpx.get(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2)
        except httpx.HTTPError:
            return 0, {}
        return resp.status_code, resp.json()

    def log(self) -> str:
        """Return everything it logged so far."""
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        """Return its log lines so far."""
        return self.log().splitlines()

    def terminate(self, timeout_s: float = 30) -> int:
        """Send SIGTERM and return its exit code once it has drained."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        """Kill it if it still runs (test clean-up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def runs_since(store: RedisScheduleStore, name: str, since: float) -> list[float]:
    """Return the start times of a periodic job's runs after `since`, oldest first."""
    return sorted(t for t in store.records([name])[name].runs if t > since)

