"""Tests of entitlements.packages."""
