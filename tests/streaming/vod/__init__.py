"""Tests of streaming.vod."""
