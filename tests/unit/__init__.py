"""Unit tests, one folder per area of the package; no moto, no ffmpeg."""
