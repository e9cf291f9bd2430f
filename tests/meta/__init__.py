"""Checks on the project itself: the exported names, the docs and README, the layer contract, and the two cross-cutting tables (bad input, secrets never shown)."""
