"""Ingest: segments and playlists pushed over HTTP PUT, checked, stored and published to the timeline."""
