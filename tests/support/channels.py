"""Channel bodies for the tests: the small 360p/240p ladder."""

from __future__ import annotations

from tests.support.waiting import wait_for


def channel_body(channel_id: str, **overrides) -> dict:  # noqa: ANN003
    """Return a valid channel creation body with the 360p/240p test ladder."""
    body = {
        "id": channel_id,
        "name": f"Channel {channel_id}",
        "segment_duration_ms": 1920,
        "timeshift_window_s": 3600,
        "renditions": [
            {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800},
            {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 400},
        ],
    }
    body.update(overrides)
    return body


def channel_status(http, admin: dict, channel_id: str) -> dict:  # noqa: ANN001
    """Return a channel's status. A 503 (its database away for a moment: on a loaded machine an
    ingest transaction past its deadline drops its connection) is asked again, as a client would."""
    resp = wait_for(lambda: (r := http.get(f"/v1/admin/channels/{channel_id}/status", headers=admin)).status_code
                    != 503 and r, 10, "an answer other than 503")
    assert resp.status_code == 200, resp.text
    return resp.json()


def stop_packaging(http, admin: dict, channel_ids: list[str] | None = None) -> None:  # noqa: ANN001
    """Disable the given channels, or every enabled channel with a source: a channel left enabled
    with a source would be taken and encoded by every packager node later tests start."""
    if channel_ids is None:
        channel_ids, offset = [], 0
        while True:
            page = http.get("/v1/admin/channels", params={"enabled": True, "offset": offset, "limit": 500},
                            headers=admin).json()
            channel_ids += [c["id"] for c in page["items"] if c["source_url"]]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
    for channel_id in channel_ids:
        resp = http.post(f"/v1/admin/channels/{channel_id}/disable", headers=admin)
        assert resp.status_code in (200, 404), resp.text
