"""Test-side guide helpers: XMLTV written relative to now, imported through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from xml.sax.saxutils import escape, quoteattr

from tests.support.waiting import wait_for


def xmltv(channel: str, programmes: list[tuple[dt.datetime, dt.datetime, str, dict]]) -> bytes:
    """Write a guide of one channel: (start, stop, title, extra attributes) per programme; the
    attribute "progid" becomes a dd_progid episode number instead."""
    fmt = "%Y%m%d%H%M%S +0000"
    rows = [f'<programme start="{s.astimezone(dt.UTC).strftime(fmt)}" stop="{e.astimezone(dt.UTC).strftime(fmt)}" '
            f'channel={quoteattr(channel)}' + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items() if k != "progid")
            + f'><title lang="pl">{escape(title)}</title>'
            + (f'<episode-num system="dd_progid">{escape(attrs["progid"])}</episode-num>' if "progid" in attrs else "")
            + "</programme>" for s, e, title, attrs in programmes]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<tv>' + "\n".join(rows) + "</tv>\n").encode()


def upload(http, admin: dict, source_id: str, data: bytes | None, status: str = "succeeded") -> dict:  # noqa: ANN001
    """Upload a guide to a source (no body: fetch its URL), wait for the import and return it."""
    resp = http.post(f"/v1/admin/epg/sources/{source_id}/imports", content=data or b"",
                     headers={**admin, "content-type": "application/xml"})
    assert resp.status_code == 202, resp.text
    return finished(http, admin, source_id, resp.json()["id"], status)


def finished(http, admin: dict, source_id: str, import_id: str, status: str = "succeeded") -> dict:  # noqa: ANN001
    """Wait until an import ends and check how."""
    url = f"/v1/admin/epg/sources/{source_id}/imports/{import_id}"
    imp = wait_for(lambda: (lambda r: r if r["status"] in ("succeeded", "failed") else None)(
        http.get(url, headers=admin).json()), 60, "the import to finish")
    assert imp["status"] == status, imp
    return imp


def import_programmes(http, admin: dict, channel_id: str,  # noqa: ANN001
                      programmes: list[tuple[dt.datetime, dt.datetime, str, dict]]) -> None:
    """Put programmes on a channel's guide through a new source."""
    source = f"src-{uuid.uuid4().hex[:8]}"
    resp = http.post("/v1/admin/epg/sources", headers=admin,
                     json={"id": source, "name": "test guide", "channel_map": {"feed." + channel_id: channel_id}})
    assert resp.status_code == 201, resp.text
    report = upload(http, admin, source, xmltv("feed." + channel_id, programmes))["report"]
    assert report["rejected"] == 0, report


def programme_ids(http, headers: dict, channel_id: str, start: dt.datetime, end: dt.datetime) -> dict[str, str]:  # noqa: ANN001
    """Return {title: programme id} of a channel's guide between start and end (the players' grid)."""
    resp = http.get("/v1/guide", headers=headers,
                    params={"channels": channel_id, "start": start.isoformat(), "end": end.isoformat()})
    assert resp.status_code == 200, resp.text
    return {p["title"]: p["id"] for p in resp.json()["items"]}
