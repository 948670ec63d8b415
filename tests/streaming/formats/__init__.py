"""Tests of streaming.formats."""
