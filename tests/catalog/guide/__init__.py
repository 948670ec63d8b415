"""Tests of catalog.guide."""
