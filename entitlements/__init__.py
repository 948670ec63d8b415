"""Subscribers, devices, packages and rights (issues 4 and 5)."""
