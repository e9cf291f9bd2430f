"""Whole workflows: the ingest chain end to end, the command line, the demo, ffmpeg, the benchmarks."""
