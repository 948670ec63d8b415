"""A job run in a child process that stops at a chosen point and waits there to be killed.

    python -m tests.support.killable finalize RECORDING_ID NOW_ISO
    python -m tests.support.killable copy COPY_ID CHANNEL_ID START_US END_US

It prints "paused" once it is inside the job: finishing a recording, after its changes and its
event are written but before the transaction commits; copying, once three objects are copied
(the other copying threads go on, but the index, written last, never is).
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time

from infra.composition.wiring import build
from infra.runtime import set_runtime
from infra.settings import get_settings
from recorder import service
from streaming.copies import service as copies


def _pause() -> None:
    print("paused", flush=True)
    time.sleep(600)


def main(argv: list[str]) -> None:
    """Run the job argv names up to its pause point."""
    rt = build(get_settings())
    set_runtime(rt)
    if argv[0] == "finalize":

        announce = service.announce

        def announce_then_pause(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
            announce(*args, **kwargs)
            _pause()

        service.announce = announce_then_pause
        with rt.db.session() as s:
            service.finalize(rt, db_session=s, recording_id=argv[1], now=dt.datetime.fromisoformat(argv[2]))
    elif argv[0] == "copy":

        copy, copied, lock = rt.store.copy, [], threading.Lock()

        def copy_then_pause(source: str, target: str) -> None:
            copy(source, target)
            with lock:
                copied.append(target)
                third = len(copied) == 3
            if third:
                _pause()

        rt.store.copy = copy_then_pause
        copies.make_copy(rt, copy_id=argv[1], channel_id=argv[2], start_us=int(argv[3]), end_us=int(argv[4]))


if __name__ == "__main__":
    main(sys.argv[1:])
