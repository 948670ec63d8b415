"""The one ffmpeg runner: timeouts kill the child, errors carry stderr's tail, children die with us."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from streaming import ffmpeg
from streaming.ffmpeg import ffmpeg_exe

# A child that reports the death signal it was given (PR_GET_PDEATHSIG), read back through prctl.
REPORT_DEATH_SIGNAL = ("import ctypes; v = ctypes.c_int(); "
                       f"ctypes.CDLL('libc.so.6').prctl({ffmpeg.PR_GET_PDEATHSIG}, ctypes.byref(v)); print(v.value)")
ENDLESS = ["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2", "-f", "null", "-"]


def gone(pid: int) -> bool:
    """Tell whether no process has this id any more (reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("args, timeout_s, error, words", [
    # A source that is not there: nonzero exit, ffmpeg's own words in the error.
    ([ffmpeg_exe(), "-hide_banner", "-i", "/nonexistent/in.ts", "-f", "null", "-"], 30, ffmpeg.FFmpegFailed,
     "No such file or directory"),
    # A run that never ends on its own: killed at the timeout.
    ([ffmpeg_exe(), *ENDLESS], 0.5, ffmpeg.FFmpegTimeout, "ffmpeg took longer than 0.5 s"),
    # A long stderr: the error keeps its tail, not its head.
    ([sys.executable, "-c", "import sys; sys.stderr.write('x' * 5000 + 'THE END'); sys.exit(3)"], 30,
     ffmpeg.FFmpegFailed, "ffmpeg exited with 3: " + "x" * (ffmpeg.STDERR_TAIL_CHARS - 7) + "THE END"),
])
def test_a_failed_run_raises_with_stderrs_tail(args, timeout_s, error, words) -> None:  # noqa: ANN001
    started = time.monotonic()
    with pytest.raises(error) as raised:
        ffmpeg.run(args, timeout_s=timeout_s)
    assert words in str(raised.value) or words in raised.value.stderr_tail
    assert len(raised.value.stderr_tail) <= ffmpeg.STDERR_TAIL_CHARS
    assert time.monotonic() - started < 20
    if isinstance(raised.value, ffmpeg.FFmpegTimeout):
        assert gone(raised.value.pid)


@pytest.mark.parametrize("args, stdout", [
    ([sys.executable, "-c", REPORT_DEATH_SIGNAL], f"{int(signal.SIGKILL)}\n"),
    ([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2", "-t", "0.2",
      "-f", "null", "-"], ""),
])
def test_a_run_that_succeeds_returns_its_output(args, stdout) -> None:  # noqa: ANN001
    result = ffmpeg.run(args, timeout_s=30, stdout=True)
    assert (result.returncode, result.stdout) == (0, stdout)


def test_a_started_process_dies_with_its_parent(tmp_path) -> None:  # noqa: ANN001
    # A parent that starts a long ffmpeg through the runner, says its pid, then is SIGKILLed.
    parent = ffmpeg.start([sys.executable, "-c",
                           "import time; from streaming import ffmpeg; "
                           f"p = ffmpeg.start({[ffmpeg_exe(), *ENDLESS]!r}); print(p.pid, flush=True); "
                           "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _dead_or_zombie(child):
        time.sleep(0.05)
    assert _dead_or_zombie(child)


def _dead_or_zombie(pid: int) -> bool:
    # The orphan is reaped by init (or a subreaper), maybe a little later than it dies.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_the_async_run_kills_at_its_timeout_and_reports_failures() -> None:
    async def scenario() -> None:
        with pytest.raises(ffmpeg.FFmpegTimeout) as raised:
            await ffmpeg.run_async([ffmpeg_exe(), *ENDLESS], timeout_s=0.5)
        assert gone(raised.value.pid)
        with pytest.raises(ffmpeg.FFmpegFailed, match="No such file or directory"):
            await ffmpeg.run_async([ffmpeg_exe(), "-hide_banner", "-i", "/nonexistent/in.ts", "-f", "null", "-"],
                                   timeout_s=30)
        # start_async keeps stdout closed: the child reports its death signal on stderr.
        report = REPORT_DEATH_SIGNAL.replace("print(v.value)", "import sys; sys.stderr.write(str(v.value))")
        proc = await ffmpeg.start_async([sys.executable, "-c", report])
        _, err = await proc.communicate()
        assert err.decode() == str(int(signal.SIGKILL))

    asyncio.run(scenario())
