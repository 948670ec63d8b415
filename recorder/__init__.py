"""Cloud DVR: recordings as references to the timeline, series rules, stored copies."""
