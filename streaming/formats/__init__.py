"""Media formats as pure data: HLS playlists written and read, fMP4 boxes, device profiles."""
