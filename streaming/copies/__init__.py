"""Private copies: a window of a channel's timeline copied, objects and index, under a prefix of its own."""
