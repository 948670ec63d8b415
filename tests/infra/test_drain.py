"""SIGTERM drains an API process: readiness turns 503 first, it keeps serving meanwhile, then it exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.services import free_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
DRAIN_S = 3.0


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


@pytest.mark.once  # a process of its own, on its own SQLite: the same in either pass
def test_sigterm_turns_readiness_503_keeps_serving_for_the_drain_then_exits_cleanly(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SMARTGO_DATA_DIR": str(tmp_path), "SMARTGO_DRAIN_S": str(DRAIN_S),
           "SMARTGO_DATABASE_URL": "", "SMARTGO_REDIS_URL": "", "SMARTGO_STORAGE_URL": ""}
    proc = subprocess.Popen([sys.executable, "-m", "infra.composition.cli", "api", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (r := _get(url + "/readyz")) is not None and r.status_code == 200, 60, "the API ready")
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        ready = wait_for(lambda: (r := _get(url + "/readyz")) is not None and r.status_code == 503 and r, 5,
                         "readiness to say draining")
        assert ready.json()["status"] == "draining" and ready.json()["reasons"] == ["draining"]
        # The balancer moves players away meanwhile; whoever still comes is served.
        while time.monotonic() - signalled < DRAIN_S - 1:
            assert _get(url + "/healthz").status_code == 200
            assert _get(url + "/v1/channels").status_code == 200
            time.sleep(0.2)
        assert proc.wait(DRAIN_S + 15) == 0
        assert time.monotonic() - signalled >= DRAIN_S - 0.5  # it did not stop listening before the drain
        assert _get(url + "/healthz") is None  # and then it did
    finally:
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        assert "Traceback" not in err, err
