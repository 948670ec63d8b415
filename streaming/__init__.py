"""Live packaging, the channel timeline index and the HLS origin."""
