"""The architecture's rules as code: import-linter contracts of our own, and the tests that keep the map true."""
