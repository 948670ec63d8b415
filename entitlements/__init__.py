"""Who may watch what, where and on which device: accounts, packages and rights, the playback door."""
