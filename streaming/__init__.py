"""Every byte of media: received from encoders, indexed on each channel's timeline, stored, served."""
