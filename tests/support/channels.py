"""Channel bodies for the tests: the small 360p/240p ladder."""

from __future__ import annotations


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
