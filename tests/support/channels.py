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
