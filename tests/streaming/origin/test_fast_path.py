"""Ready playlists answered at the HTTP protocol layer: same bytes, right order, right framing."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from infra.http_server import SmartGoHttpProtocol
from tests.streaming.ingest.test_ingest import Pusher
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


@pytest.fixture
def channel(http, make_channel, sample_hls) -> Pusher:  # noqa: ANN001
    pusher = Pusher(http, make_channel(), sample_hls)
    pusher.init()
    pusher.segment(0)
    pusher.segment(1)
    return pusher


def _raw(server: str, payload: bytes, *, until_close: bool = False, responses: int = 1) -> bytes:
    """Send raw bytes to the server and read until `responses` full responses (or close)."""
    url = urlparse(server)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if not until_close and _count(data) >= responses:
                return data


def _count(data: bytes) -> int:
    """Count complete HTTP responses (all framed by content-length here)."""
    n, pos = 0, 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return n
        head = data[pos:end].decode("latin-1").lower()
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                       if line.startswith("content-length:")), 0)
        if len(data) < end + 4 + length:
            return n
        n, pos = n + 1, end + 4 + length


def _split(data: bytes) -> list[tuple[str, dict, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        lines = data[pos:end].decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        out.append((lines[0], headers, data[end + 4: end + 4 + length]))
        pos = end + 4 + length
    return out


def test_pipelined_gets_get_the_playlist_the_asgi_path_renders(http, server, channel) -> None:  # noqa: ANN001
    path = f"/live/{channel.channel['id']}/cmaf/360p.m3u8"
    first = http.playlist(path)  # rendered on the ASGI path, kept ready
    get = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    before = SmartGoHttpProtocol.ready_answers
    answers = _split(_raw(server, get * 3, responses=3))
    assert SmartGoHttpProtocol.ready_answers - before == 3  # none went through ASGI
    assert len(answers) == 3
    for status, headers, body in answers:
        assert status == "HTTP/1.1 200 OK"
        assert body == first.content
        assert headers["etag"] == first.headers["etag"]
        assert headers["content-type"] == "application/vnd.apple.mpegurl"
        assert headers["cache-control"] == "public, max-age=1" and "date" in headers


def test_a_slow_request_between_ready_ones_keeps_the_order(http, server, channel) -> None:  # noqa: ANN001
    cid = channel.channel["id"]
    playlist = http.playlist(f"/live/{cid}/cmaf/360p.m3u8").content
    get = f"GET /live/{cid}/cmaf/360p.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    slow = f"GET /v1/admin/channels/{cid}/status HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answers = _split(_raw(server, get + slow + get, responses=3))
    assert [a[0] for a in answers] == ["HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized", "HTTP/1.1 200 OK"]
    assert answers[0][2] == answers[2][2] == playlist
    assert b'"code"' in answers[1][2]


def test_conditional_and_http10_requests_are_answered_correctly(http, server, channel) -> None:  # noqa: ANN001
    path = f"/live/{channel.channel['id']}/cmaf/360p.m3u8"
    first = http.playlist(path)
    again = http.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    data = _raw(server, f"GET {path} HTTP/1.0\r\n\r\n".encode(), until_close=True)
    [(status, headers, body)] = _split(data)
    assert status.endswith("200 OK") and body == first.content
    assert headers.get("connection") == "close"


def test_a_new_segment_replaces_the_ready_playlist(http, server, channel) -> None:  # noqa: ANN001
    path = f"/live/{channel.channel['id']}/cmaf/360p.m3u8"
    before = http.playlist(path).text
    assert "360p/2.m4s" not in before
    channel.segment(2)
    get = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    wait_for(lambda: b"360p/2.m4s" in _raw(server, get), 5, "segment 2 on the ready path")
    assert "360p/2.m4s" in http.playlist(path).text
