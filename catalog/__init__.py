"""Every description: channels, the guide and the VOD titles content ops manage."""
