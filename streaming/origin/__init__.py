"""The origin: every playlist rendered from the timeline or the VOD index, and the bytes it serves."""
