"""The playback door: facts, targets, the pure decision, streams, tokens and the origin's gate."""
