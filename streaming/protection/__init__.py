"""Content protection: the keys channels are encrypted with, kept wrapped at rest."""
