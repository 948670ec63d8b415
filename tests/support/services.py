"""Services of a fault test's own: PostgreSQL, Redis and an S3 server on ports of their own.

A fault test kills, freezes and cuts off these, never the machine's services. PostgreSQL runs as
an unprivileged user (initdb refuses root, and CI runs as root); S3 (moto) sits behind a TCP
proxy the test can cut, because killing moto would erase what it stores, which real S3 does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout_s}s")


def postgres_bin() -> Path | None:
    """Return the folder of PostgreSQL's server binaries, if installed."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_binaries() -> list[str]:
    """Return what a fault test needs that this machine lacks."""
    missing = [] if postgres_bin() else ["PostgreSQL server (initdb, postgres)"]
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    return missing


def children(pid: int) -> list[int]:
    """Return the pids of a process's direct children."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


class Service:
    """A server process and the processes it started: killed, frozen and resumed as a whole."""

    proc: subprocess.Popen | None = None
    name = "service"

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        # The server and its direct children (PostgreSQL's backends make groups of their own).
        for pid in [self.proc.pid, *children(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL the server and everything it started."""
        if self.proc and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(10)

    def freeze(self) -> None:
        """SIGSTOP it: connections stay open and nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT it."""
        self._signal(signal.SIGCONT)


class OwnPostgres(Service):
    """A PostgreSQL cluster in a temp folder, run as an unprivileged user, on its own port."""

    name = "postgresql"

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.data = root / "pgdata"
        user = "nobody" if os.geteuid() == 0 else None
        self._demote = None
        if user is not None:
            entry = pwd.getpwnam(user)
            self._uid, self._gid = entry.pw_uid, entry.pw_gid
            self._demote = self._as_user
        root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            os.chown(root, self._uid, self._gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "smartgo", "--auth=trust",
                   "--no-sync", "-E", "UTF8", "--locale=C"])

    def _as_user(self) -> None:
        os.setgid(self._gid)
        os.setuid(self._uid)

    def _run(self, args: list[str]) -> None:
        out = subprocess.run(args, preexec_fn=self._demote, capture_output=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.decode(errors="replace")[-2000:])

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of its postgres database."""
        return f"postgresql+psycopg://smartgo@127.0.0.1:{self.port}/postgres"

    def start(self) -> "OwnPostgres":
        """Start the server and wait until it takes connections."""
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             # fsync off costs nothing a killed server would keep (the WAL reaches the OS at each
             # commit); synchronous_commit stays on, or a SIGKILL would lose committed work.
             "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            preexec_fn=self._demote_new_session, stdout=subprocess.DEVNULL,
            stderr=open(self.data.parent / "postgres.log", "ab"))
        _wait_port(self.port, 30, "postgres", self.proc)
        end = time.monotonic() + 30

        while True:
            try:
                psycopg.connect(self.url.replace("+psycopg", ""), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:  # still starting ("the database system is starting up")
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    def _demote_new_session(self) -> None:
        os.setsid()
        if self._demote is not None:
            self._demote()


class OwnRedis(Service):
    """A Redis server that keeps nothing on disk: killed and started again, it comes back empty."""

    name = "redis"

    def __init__(self, root: Path | None = None) -> None:
        self.port = free_port()
        self.root = root or temp_root("smartgo-redis-")
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """Return its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "OwnRedis":
        """Start the server and wait until it listens."""
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)], start_new_session=True, stdout=open(self.root / "redis.log", "ab"),
            stderr=subprocess.STDOUT)
        _wait_port(self.port, 20, "redis-server", self.proc)
        return self

    def stop(self) -> None:
        """Stop it for good (thawed first if frozen)."""
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            self.kill()


class CuttableProxy:
    """A TCP proxy on its own port whose link to the server behind it a test can cut and restore.

    Cut, it refuses new connections and resets the open ones (storage unreachable); restored, it
    forwards again.
    """

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxy", daemon=True)
        self._thread.start()
        self.restore()

    def _call(self, coro) -> object:  # noqa: ANN001
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._open.difference_update((writer, up_writer))

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()
        self._open.clear()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        self._call(self._close())

    def restore(self) -> None:
        """Forward again."""
        self._call(self._listen())

    def close(self) -> None:
        """Stop the proxy."""
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class OwnS3(Service):
    """moto's S3 server behind a CuttableProxy: clients use the proxy's port."""

    name = "storage"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.server_port = free_port()
        self.proxy: CuttableProxy | None = None

    @property
    def endpoint(self) -> str:
        """Return the endpoint clients use (the proxy)."""
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    def start(self) -> "OwnS3":
        """Start moto and the proxy in front of it."""
        moto = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.server_port)],
                                     start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=open(self.root / "moto.log", "ab"))
        _wait_port(self.server_port, 30, "moto_server", self.proc)
        self.proxy = CuttableProxy(self.server_port)
        return self

    def stop(self) -> None:
        """Stop the proxy and moto."""
        if self.proxy is not None:
            self.proxy.close()
        self.kill()


def temp_root(prefix: str) -> Path:
    """Return a new temp folder every user can enter (PostgreSQL runs as another user)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root
