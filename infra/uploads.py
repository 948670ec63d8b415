"""Request bodies streamed to a file as they arrive (uploads never held in memory)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from infra.errors import InvalidInput, SmartGoError

FLUSH_BYTES = 1 << 20


class UploadIncomplete(InvalidInput):
    code = "UPLOAD_INCOMPLETE"
    status = 400


async def receive_to_file(request: Request, path: Path, cap: int,
                          too_large: Callable[[], SmartGoError]) -> tuple[int, str]:
    """Write the request body to path as it arrives; return its size and SHA-256.

    A body over cap raises too_large(); a client that goes away mid-body raises UploadIncomplete.
    """
    size, digest, pending = 0, hashlib.sha256(), []
    try:
        with path.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise too_large()
                pending.append(chunk)
                if sum(map(len, pending)) >= FLUSH_BYTES:
                    block, pending = b"".join(pending), []
                    await run_in_threadpool(_write, fh, digest, block)
            if pending:
                await run_in_threadpool(_write, fh, digest, b"".join(pending))
    except ClientDisconnect as err:
        raise UploadIncomplete(f"the upload was cut off after {size} bytes", received=size) from err
    return size, digest.hexdigest()


def _write(fh, digest, block: bytes) -> None:  # noqa: ANN001
    fh.write(block)
    digest.update(block)
