"""Channels: what is on the air, its renditions, audio tracks and sources, and their admin API."""
