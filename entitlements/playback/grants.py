"""Playback grants: the keys that sign the token in a playback URL, and the topic that revokes one."""

from __future__ import annotations

from entitlements.accounts.tokens import PlaybackTokens
from infra.runtime import Runtime

REVOKED_TOPIC = "playback.revoked"


def playback_tokens(rt: Runtime) -> PlaybackTokens:
    """Return the playback-token keys of this process's settings."""
    return rt.state(PlaybackTokens, lambda rt: PlaybackTokens(rt.settings.secret_key,
                                                              rt.settings.previous_secret_key_list))
