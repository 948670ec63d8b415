"""Tests of streaming.protection."""
