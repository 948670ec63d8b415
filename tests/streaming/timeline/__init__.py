"""Tests of streaming.timeline."""
