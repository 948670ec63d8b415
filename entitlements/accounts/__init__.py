"""Subscriber accounts: sign-in, devices, profiles and PIN, billing's changes."""
