"""vadpipe: weakly supervised video anomaly detection (LA-Net + DDL) from raw video to per-frame scores."""

__version__ = "0.1.0"

SNIPPET_FRAMES = 16
"""Frames per snippet: snippet i covers frames [16i, 16i + 16)."""
