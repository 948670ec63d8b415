"""Tests of entitlements.accounts."""
