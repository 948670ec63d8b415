"""Tests of catalog.vod."""
