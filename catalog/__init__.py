"""Linear channels, the EPG and the VOD catalogue."""
