"""Schemathesis over the whole OpenAPI: no 5xx, and every answer documented, for every kind of caller.

The CLI runs in a subprocess against the test session's real HTTP server (its own process
generates while this one serves: the two cores both work), twice: anonymously, and with each
operation sent as the caller its security names (staff key, signed-in subscriber, signed billing
request; see schemathesis_hooks.py). Seeded, one worker, inputs from the schema alone: the same
requests every run.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.run import ADMIN_KEY, BILLING_KEY_ID, BILLING_SECRET

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")  # seed, checks, phases, 30 examples per operation
EXAMPLES = 30


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


@pytest.mark.timeout(900)  # a CPU-bound minute or two, longer on a loaded machine; the figure is in docs/benchmarks.md
@pytest.mark.once  # ./dev test runs it in the embedded pass: the same requests, answered the same way
def test_every_operation_answers_every_caller_as_documented(server: str, tmp_path: Path) -> None:
    base = server  # the session's server: its job runner runs what fuzzed uploads and imports queue
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "SMARTGO_FUZZ_BASE_URL": base, "SMARTGO_FUZZ_ADMIN_KEY": ADMIN_KEY,
           "SMARTGO_FUZZ_BILLING_KEY_ID": BILLING_KEY_ID, "SMARTGO_FUZZ_BILLING_SECRET": BILLING_SECRET,
           "SMARTGO_FUZZ_COUNTS": str(tmp_path / "counts-{caller}.json")}
    started, results, spent = time.monotonic(), {}, {}
    for caller in ("anonymous", "callers"):
        results[caller] = _run(base, caller, tmp_path / f"{caller}.json", env)
        spent[caller] = time.monotonic() - started - sum(spent.values())
    elapsed = time.monotonic() - started
    counts = {caller: json.loads((tmp_path / f"counts-{caller}.json").read_text()) for caller in results}
    sent = {caller: c["sent"] for caller, c in counts.items()}
    statuses = collections.Counter()
    for c in counts.values():
        statuses.update({int(status): n for status, n in c["statuses"].items()})
    doc = httpx.get(f"{base}/openapi.json").json()
    with_inputs = {f"{m.upper()} {path}" for path, item in doc["paths"].items() for m, op in item.items()
                   if op.get("parameters") or op.get("requestBody")}
    print(f"\nschemathesis: {sum(statuses.values())} requests, answered by status "
          f"{dict(sorted(statuses.items()))}; " + "; ".join(
              f"{caller}: {sum(sent[caller].values())} requests, {r['operations']['tested']} of "
              f"{r['operations']['total']} operations, {spent[caller]:.0f} s" for caller, r in results.items())
          + f"; {elapsed:.0f} s in all")
    assert not [status for status in statuses if status >= 500]
    for caller, r in results.items():
        assert r["operations"]["tested"] == r["operations"]["total"] == len(sent[caller]), caller
    short = {op: n for op, n in sent["callers"].items() if op in with_inputs and n < EXAMPLES}
    assert not short, f"operations with inputs that got fewer than {EXAMPLES} requests: {short}"
    # Its wall time is a figure for docs/benchmarks.md (printed above), not an assertion: on a
    # loaded machine a timed test fails for reasons that are not the code's.
