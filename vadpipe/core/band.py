"""The attention band of live scoring: window W (snippets seen back) and lookahead L (snippets waited for).

A run trained with ``--window W --lookahead L`` is scored with the same band by `evaluate`, `score` and
`watch`; W = 0 means no band (the whole sequence, offline).
"""

from __future__ import annotations

from vadpipe.errors import ConfigError

# The band `watch` uses for a run trained without one (offline): 64 snippets ~ 40 s at 25 fps,
# wide enough for the prior (sigma 16 reaches ~25 snippets) and cheap per snippet.
DEFAULT_LIVE_WINDOW = 64


def check_band(window: int, lookahead: int) -> None:
    """Refuse a lookahead without a window (each of them alone is in its range: see ScorerConfig)."""
    if lookahead and not window:
        raise ConfigError(f"lookahead needs a window (lookahead {lookahead} with window 0, which already sees the "
                          "whole sequence)",
                          params=("window", "lookahead"))


def resolve_band(trained: tuple[int, int], window: int | None = None, lookahead: int | None = None) -> tuple[int, int]:
    """The band to score with: ``trained`` (window, lookahead) with ``window`` / ``lookahead`` given instead.

    A window given without a lookahead keeps the trained lookahead (none when the run has no band).

    Raises:
        ConfigError: a lookahead without a window (``params`` window, lookahead).
    """
    window = trained[0] if window is None else window
    lookahead = (trained[1] if window else 0) if lookahead is None else lookahead
    check_band(window, lookahead)
    return window, lookahead
