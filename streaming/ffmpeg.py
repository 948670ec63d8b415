"""The one way to run ffmpeg: the binary resolved once, argument lists, a timeout, stderr kept, and a
child that dies with its parent.

Argument lists are built by pure functions elsewhere (streaming/packager/arguments.py,
streaming/vod/media.py, streaming/packager/slate.py) and start with ``ffmpeg_exe()``; this module
only starts them. ``run`` is for one-shot runs (transcodes, remuxes, slates, posters, probes);
``start`` and ``start_async`` for processes watched while they run (the packager's supervisor,
the VOD transcode that reports progress). The project ships no ffprobe (imageio-ffmpeg has none):
probing reads files with PyAV (streaming/vod/media.py) or runs ffmpeg with ``-f null``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import imageio_ffmpeg

STDERR_TAIL_CHARS = 600
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2


@lru_cache
def ffmpeg_exe() -> str:
    """Return the ffmpeg binary shipped by the imageio-ffmpeg package (never one on PATH)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def die_with_parent() -> None:
    """In the forked child: ask Linux to kill it when its parent dies (PR_SET_PDEATHSIG).

    A packager node killed with SIGKILL must not leave its ffmpegs pushing: another node is
    about to take those channels, and two encoders must never feed one channel. A worker killed
    mid-transcode must not leave an encoder burning CPU for an asset another worker takes back.
    Linux sends the signal when the *thread* that started the child ends: start from a thread
    that waits for the run (every caller here does).
    """
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: nothing to ask for
        pass


def stderr_tail(stderr: str | bytes, limit: int = STDERR_TAIL_CHARS) -> str:
    """Return the last words of a process's stderr, stripped, at most limit characters."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    return text.strip()[-limit:]


@dataclass(frozen=True)
class Result:
    """A finished run: its exit code and what it wrote."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class FFmpegFailed(Exception):
    """ffmpeg exited with an error (or did not finish); the message carries its last words."""

    def __init__(self, args: list[str], returncode: int | None, stderr: str, message: str | None = None) -> None:
        self.args_run = args
        self.returncode = returncode
        self.stderr_tail = stderr_tail(stderr)
        tail = f": {self.stderr_tail}" if self.stderr_tail else ""
        super().__init__(message or f"ffmpeg exited with {returncode}{tail}")


class FFmpegTimeout(FFmpegFailed):
    """ffmpeg ran longer than its timeout and was killed."""

    def __init__(self, args: list[str], timeout_s: float, stderr: str, pid: int) -> None:
        self.timeout_s = timeout_s
        self.pid = pid
        super().__init__(args, None, stderr, f"ffmpeg took longer than {timeout_s:g} s")


def start(args: list[str], *, stdout: int = subprocess.DEVNULL, text: bool = False) -> subprocess.Popen:
    """Start ffmpeg (stdin closed, stderr piped) in its own session, to die with this process."""
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=text,
                            start_new_session=True, preexec_fn=die_with_parent)


def wait(proc: subprocess.Popen, *, timeout_s: float, check: bool = True) -> Result:
    """Wait for a started ffmpeg to end, killing it after timeout_s; raise FFmpegFailed on an error exit."""
    args = [str(a) for a in proc.args] if isinstance(proc.args, (list, tuple)) else [str(proc.args)]
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise FFmpegTimeout(args, timeout_s, _text(err), proc.pid) from None
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    result = Result(args, proc.returncode, _text(out), _text(err))
    if check and result.returncode != 0:
        raise FFmpegFailed(args, result.returncode, result.stderr)
    return result


def run(args: list[str], *, timeout_s: float, check: bool = True, stdout: bool = False) -> Result:
    """Run ffmpeg to its end (stdout kept when asked); raise FFmpegFailed on an error exit or timeout."""
    return wait(start(args, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL), timeout_s=timeout_s,
                check=check)


async def start_async(args: list[str]) -> asyncio.subprocess.Process:
    """Start ffmpeg under asyncio (stdin and stdout closed, stderr piped), to die with this process."""
    return await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent)


async def run_async(args: list[str], *, timeout_s: float) -> Result:
    """Run ffmpeg to its end under asyncio; raise FFmpegFailed on an error exit or timeout."""
    proc = await start_async(args)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        _, err = await proc.communicate()
        raise FFmpegTimeout(args, timeout_s, _text(err), proc.pid) from None
    except BaseException:  # cancelled: the run must not outlive its caller
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise FFmpegFailed(args, proc.returncode, _text(err))
    return Result(args, proc.returncode, "", _text(err))


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
