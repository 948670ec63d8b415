"""Tests of streaming.origin."""
