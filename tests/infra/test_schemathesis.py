"""Schemathesis over the whole OpenAPI: no 5xx, and every answer documented, for every kind of caller.

The CLI runs in a subprocess against a real HTTP server of the app under test (its own process
generates while this one serves: the two cores both work), twice: anonymously, and with each
operation sent as the caller its security names (staff key, signed-in subscriber, signed billing
request; see schemathesis_hooks.py). Seeded and deterministic, one worker, so a run is repeatable.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.http_server import BackgroundServer
from infra.runtime import Runtime
from infra.web import create_app
from tests.conftest import ADMIN_KEY, BILLING_KEY_ID, BILLING_SECRET

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")  # seed, checks, phases, 30 examples per operation
EXAMPLES = 30


class Tally:
    """ASGI middleware counting the API requests answered, by status."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app, self.statuses = app, collections.Counter()

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        async def counting(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start" and scope["path"].startswith("/v1/"):
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, send if scope["type"] != "http" else counting)


@pytest.fixture(scope="module")
def fuzz_server(rt: Runtime) -> Iterator[tuple[str, Tally]]:
    """The app on its own HTTP server, without a job runner (fuzzed uploads queue jobs nobody runs here)."""
    tally = Tally(create_app(rt, run_jobs=False))
    srv = BackgroundServer(tally).start()
    yield f"http://127.0.0.1:{srv.port}", tally
    srv.stop()


def _run(base: str, caller: str, report: Path, env: dict[str, str]) -> dict:
    cmd = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{base}/openapi.json",
           "--generation-with-security-parameters", "true" if caller == "anonymous" else "false",
           "--report", "json", "--report-json-path", str(report), "--no-color"]
    done = subprocess.run(cmd, env={**env, "SMARTGO_FUZZ_CALLER": caller}, cwd=report.parent, capture_output=True,
                          text=True, timeout=600)
    assert report.exists(), done.stdout[-5000:] + done.stderr[-5000:]
    result = json.loads(report.read_text())
    assert done.returncode == 0 and not result["failures"] and not result["errors"], (
        f"schemathesis ({caller}) found problems:\n{done.stdout[-20000:]}\n{done.stderr[-3000:]}")
    return result


def test_every_operation_answers_every_caller_as_documented(fuzz_server, tmp_path) -> None:  # noqa: ANN001
    base, tally = fuzz_server
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "SMARTGO_FUZZ_BASE_URL": base, "SMARTGO_FUZZ_ADMIN_KEY": ADMIN_KEY,
           "SMARTGO_FUZZ_BILLING_KEY_ID": BILLING_KEY_ID, "SMARTGO_FUZZ_BILLING_SECRET": BILLING_SECRET,
           "SMARTGO_FUZZ_COUNTS": str(tmp_path / "counts-{caller}.json")}
    started, results = time.monotonic(), {}
    for caller in ("anonymous", "callers"):
        results[caller] = _run(base, caller, tmp_path / f"{caller}.json", env)
    elapsed = time.monotonic() - started
    counts = {caller: json.loads((tmp_path / f"counts-{caller}.json").read_text()) for caller in results}
    tested = {caller: r["operations"]["tested"] for caller, r in results.items()}
    few = {caller: {op: n for op, n in c.items() if n < EXAMPLES} for caller, c in counts.items()}
    print(f"\nschemathesis: {sum(tally.statuses.values())} requests, operations tested {tested} of "
          f"{results['callers']['operations']['total']}, statuses {dict(sorted(tally.statuses.items()))}, "
          f"{elapsed:.0f} s; operations with fewer than {EXAMPLES} requests (no more distinct inputs): {few}")
    assert not [s for s in tally.statuses if s >= 500]
    assert tested == {"anonymous": results["callers"]["operations"]["total"],
                      "callers": results["callers"]["operations"]["total"]}
    assert elapsed < 180, f"the run took {elapsed:.0f} s; CI allows 3 minutes"
