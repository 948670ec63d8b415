"""Patterns every package's request schemas share."""

# Text shown to people or looked up in the database: no control characters (PostgreSQL
# refuses NUL in text, and nobody's device is called "TV\x1b[2J").
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
URL = r"^https?://[^\x00-\x20\x7f]+$"
