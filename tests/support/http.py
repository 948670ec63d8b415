"""The tests' HTTP client: every playlist it fetches is held to RFC 8216, its delta update and its BANDWIDTH."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx

from tests.support.hls_bandwidth import check_bandwidth
from tests.support.hls_conformance import (
    ConformanceError,
    PlaylistHistory,
    assert_conformant,
    check_delta,
    segment_urls,
)


class Client(httpx.Client):
    """An HTTP client that checks every playlist it fetches against RFC 8216: each 200 answered as
    an HLS playlist, whether a test asked through ``playlist`` or a plain ``get``."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=20)
        self.history = PlaylistHistory()
        self._checking = False

    def get(self, url, **kwargs) -> httpx.Response:  # noqa: ANN001, ANN003
        """GET, and hold a playlist in the answer to the conformance rules (its delta, its BANDWIDTH)."""
        resp = super().get(url, **kwargs)
        if (resp.status_code == 200 and not self._checking
                and resp.headers.get("content-type", "").startswith("application/vnd.apple.mpegurl")):
            self._checking = True  # the checks' own requests are not checked again
            try:
                self._check(str(url), resp, kwargs)
            finally:
                self._checking = False
        return resp

    def _check(self, path: str, resp: httpx.Response, kwargs: dict) -> None:
        url = str(resp.request.url)
        assert_conformant(url, resp.text, self.history)
        if "CAN-SKIP-UNTIL=" in resp.text and "_HLS_skip" not in url:
            self._check_delta(path, resp.text, kwargs)
        if "#EXT-X-STREAM-INF" in resp.text:
            violations = check_bandwidth(url, resp.text, self._size_of, lambda u: super(Client, self).get(u).text)
            if violations:
                raise ConformanceError(url, violations, resp.text)

    def playlist(self, path: str, *, resolve: bool = False, **kwargs) -> httpx.Response:  # noqa: ANN003
        """GET a playlist, assert 200 (conformance is checked by get) and, with resolve, that every URI serves."""
        resp = self.get(path, **kwargs)
        assert resp.status_code == 200, resp.text
        if resolve:
            url = str(resp.request.url)
            for target in segment_urls(resp.text, url):
                head = self.head(target)
                assert head.status_code == 200, f"{target} -> {head.status_code}"
        return resp

    def _size_of(self, url: str) -> int | None:
        """Return a segment's size in bytes, or None when the store holds none (a synthetic timeline)."""
        head = self.head(url)
        return int(head.headers["content-length"]) if head.status_code == 200 else None

    def _check_delta(self, path: str, full: str, kwargs: dict) -> None:
        """Fetch the delta update of a playlist that offers one and hold it to the full playlist."""
        # httpx replaces a query in the path with params: carry it over.
        bare, _, query = path.partition("?")
        params = {**dict(parse_qsl(query)), **dict(kwargs.get("params") or {}), "_HLS_skip": "YES"}
        for _ in range(3):  # a segment published between the two requests: fetch both again
            resp = self.get(bare, **{**kwargs, "params": params})
            assert resp.status_code == 200, resp.text
            violations = check_delta(full, resp.text)
            if not violations:
                return
            again = self.get(path, **kwargs).text
            if again == full:
                break
            full = again
        raise ConformanceError(str(resp.request.url), violations, resp.text)
