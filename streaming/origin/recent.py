"""The origin's memory of segments it served lately, bounded in bytes.

Live viewers all ask for the last few segments, so the origin keeps the bytes it sent (clear,
or sealed for an encrypted channel) and answers the next viewer without storage or cipher work.
Segment objects never change under their key, so an entry can only be dropped, never stale.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentSegments:
    """A least-recently-used map of response bodies, holding at most max_bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._bodies: OrderedDict[tuple, bytes] = OrderedDict()

    def get(self, key: tuple) -> bytes | None:
        """Return the body kept for key, if any (and mark it recently used)."""
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: tuple, body: bytes) -> None:
        """Keep body for key, dropping the least recently used bodies past the bound."""
        if not self.max_bytes or len(body) > self.max_bytes // 4 or key in self._bodies:
            return
        self._bodies[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, dropped = self._bodies.popitem(last=False)
            self.size -= len(dropped)
