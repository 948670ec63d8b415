"""VOD media: mezzanine uploads, probe and transcode into the ladder, the segment index, subtitles."""
