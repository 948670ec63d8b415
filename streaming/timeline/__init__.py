"""The channel timeline: runs of segments, the index that stores them, windows, retention, copies."""
