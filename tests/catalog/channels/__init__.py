"""Tests of catalog.channels."""
