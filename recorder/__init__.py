"""Cloud DVR (issue 7)."""
