"""Tests of streaming.packager."""
