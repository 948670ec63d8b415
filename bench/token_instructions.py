"""Instructions per live-playlist request, open URL vs signed playback URL, counted by callgrind.

Wall-clock ratios on a shared 2-core machine move with the neighbours (bench.playlist_throughput
--token gave 0.855 to 0.984 for the same code). Instruction counts do not: one `smartgo api`
process runs under `valgrind --tool=callgrind` with instrumentation off while the channel is
set up, then each measured block turns it on, zeroes the counters, sends N sequential
keep-alive GETs of one URL and dumps. An idle block of the same length measures what the
background tasks (gate sync, origin refresh) cost per second, which is subtracted.

    .venv/bin/python -m bench.token_instructions --mode distributed --requests 2000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx

from bench.common import create_channel, machine, start_server
from bench.playlist_throughput import keep_pushing, signed_url


def callgrind(pid: int, *args: str) -> None:
    """Run callgrind_control against the server."""
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def dumped_instructions(out_dir: Path, pid: int, before: set[Path]) -> int:
    """Return the instruction total of the dump files written since `before`."""
    total = 0
    for path in set(out_dir.glob(f"callgrind.out.{pid}*")) - before:
        m = re.search(r"^(?:summary|totals):\s+(\d+)", path.read_text(errors="replace"), re.M)
        total += int(m.group(1)) if m else 0
    return total


def measure(pid: int, out_dir: Path, work) -> tuple[int, float]:  # noqa: ANN001
    """Count the server's instructions while work() runs; return (instructions, seconds)."""
    before = set(out_dir.glob(f"callgrind.out.{pid}*"))
    callgrind(pid, "-i", "on")
    callgrind(pid, "-z")
    t0 = time.monotonic()
    work()
    seconds = time.monotonic() - t0
    callgrind(pid, "-d")
    callgrind(pid, "-i", "off")
    return dumped_instructions(out_dir, pid, before), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        subprocess.run(["apt-get", "install", "-y", "-q", "valgrind"], check=True, stdout=subprocess.DEVNULL)
    out_dir = Path(f"/tmp/smartgo-callgrind-{int(time.time())}")
    out_dir.mkdir()
    server = start_server(args.mode, wrap=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                           f"--callgrind-out-file={out_dir}/callgrind.out.%p"],
                          start_timeout_s=600)
    stop = threading.Event()
    try:
        password = create_channel(server.url, "tput")
        pusher = threading.Thread(target=keep_pushing, args=(server.url, "tput", password, stop), daemon=True)
        pusher.start()
        urls = {"open": f"{server.url}/live/tput/cmaf/360p.m3u8"}
        deadline = time.time() + 300
        while httpx.get(urls["open"], timeout=60).text.count(".m4s") < 6 and time.time() < deadline:
            time.sleep(1)
        urls["signed"] = signed_url(server.url, "tput")
        stop.set()  # no pushes while counting: the blocks differ only in the URL
        pusher.join(timeout=30)
        pid = server.proc.pid
        with httpx.Client(timeout=60) as client:
            for url in urls.values():  # warm both paths: the signed URL is remembered after its first GET
                for _ in range(20):
                    assert client.get(url).status_code == 200
            per_request: dict[str, list[float]] = {"open": [], "signed": []}
            idle_per_s: list[float] = []
            for i in range(args.rounds):
                order = ["open", "signed"] if i % 2 == 0 else ["signed", "open"]
                counted = {}
                for name in order:
                    def work(url: str = urls[name]) -> None:
                        for _ in range(args.requests):
                            resp = client.get(url)
                            assert resp.status_code == 200, resp.status_code
                    counted[name] = measure(pid, out_dir, work)
                idle_s = statistics.mean(s for _, s in counted.values())
                idle, slept = measure(pid, out_dir, lambda: time.sleep(idle_s))
                idle_per_s.append(idle / slept)
                for name, (instr, seconds) in counted.items():
                    per_request[name].append((instr - idle / slept * seconds) / args.requests)
    finally:
        stop.set()
        server.stop()
    med = {k: statistics.median(v) for k, v in per_request.items()}
    print(json.dumps({
        "mode": args.mode, "requests_per_block": args.requests, "rounds": args.rounds,
        "instructions_per_request": {k: [round(x) for x in v] for k, v in per_request.items()},
        "background_instructions_per_s": [round(x) for x in idle_per_s],
        "median_open": round(med["open"]), "median_signed": round(med["signed"]),
        "open_over_signed": round(med["open"] / med["signed"], 3),
        "target": "open_over_signed >= 0.90 (the check costs at most 10% of a request)",
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
