"""Tests of streaming.ingest."""
