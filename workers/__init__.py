"""Durable background jobs: ingest sweeps now; harvests, retention and EPG imports later."""
