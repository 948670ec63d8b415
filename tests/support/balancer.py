"""HAProxy from Debian in front of several origins, as an operator runs it (docs/operations.md, "Several origins").

Players' requests under ``/p/{token}/`` are hashed on that prefix (consistent hashing), so a
session stays on one origin while it is up and moves to another when it is not; everything else
(the API, ingest) goes round-robin. Each origin is health-checked on ``/readyz`` every 500 ms,
so an origin that drains (SIGTERM) or dies leaves the pool within a second; a request that
finds its origin dead is retried once on another. ``X-Origin`` names the origin that answered.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx

from tests.support.services import free_port

HAPROXY = "haproxy"


def haproxy_config(port: int, stats_port: int, origins: dict[str, int], *, hash_playback: bool = True) -> str:
    """Return the configuration of a balancer on port (its statistics on stats_port) in front of
    origins (name -> port)."""
    servers = "\n".join(f"  server {name} 127.0.0.1:{p} check" for name, p in origins.items())
    playback = "balance uri depth 2\n  hash-type consistent" if hash_playback else "balance roundrobin"
    return f"""global
  maxconn 4096

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout queue 5s
  retries 2
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
  option httpchk GET /readyz
  default-server inter 500ms fall 1 rise 2

listen stats
  bind 127.0.0.1:{stats_port}
  stats enable
  stats uri /stats

frontend players
  bind 127.0.0.1:{port}
  acl playback path_beg /p/
  use_backend sessions if playback
  default_backend api

backend sessions
  {playback}
  http-response set-header X-Origin %[srv_name]
{servers}

backend api
  balance roundrobin
  http-response set-header X-Origin %[srv_name]
{servers}
"""


class Balancer:
    """An HAProxy process of its own."""

    def __init__(self, root: Path, origins: dict[str, int], *, hash_playback: bool = True) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port, self.stats_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, self.stats_port, origins, hash_playback=hash_playback))
        self.log = root / "haproxy.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Balancer":
        """Check the configuration, then run HAProxy in the foreground."""
        check = subprocess.run([HAPROXY, "-c", "-f", str(self.config)], capture_output=True, text=True, timeout=30)
        if check.returncode:
            raise RuntimeError(f"HAProxy refused {self.config}:\n{check.stdout}{check.stderr}")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "ab"))
        return self

    def up(self) -> set[str]:
        """Return the origins HAProxy counts as up in every backend (from its statistics)."""
        try:
            rows = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2).text.splitlines()
        except httpx.HTTPError:
            return set()
        header = rows[0].lstrip("# ").split(",")
        servers = [dict(zip(header, row.split(","), strict=False)) for row in rows[1:] if row]
        servers = [r for r in servers if r["svname"] not in ("FRONTEND", "BACKEND") and r["pxname"] != "stats"]
        names = {r["svname"] for r in servers}
        return {n for n in names if all(r["status"] == "UP" for r in servers if r["svname"] == n)}

    def stop(self) -> None:
        """Stop HAProxy."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def haproxy_missing() -> bool:
    """Tell whether Debian's HAProxy is missing here."""
    return shutil.which(HAPROXY) is None
