"""Settings, database, Redis, storage, bus, events and HTTP plumbing; the composition on top."""
