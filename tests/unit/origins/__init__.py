"""Tests of the origin seam.

A package, so that ``test_origins`` is not taken for the pytester file of that name
that ``tests/test_local_stack.py`` writes and runs in process.
"""
