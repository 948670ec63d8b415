"""Tests of entitlements.playback."""
