"""The packager: nodes that take channels through leases and supervise one ffmpeg per channel."""
