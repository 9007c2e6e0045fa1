"""The attention band of live scoring: window W (snippets seen back) and lookahead L (snippets waited for).

A run trained with ``--window W --lookahead L`` is scored with the same band by `evaluate`, `score` and
`watch`; W = 0 means no band (the whole sequence, offline).

The defaults come from the W x L tables of ``bench/live_auc.py`` (docs/performance.md, live detection):

- a run trained without a band is watched with W = 64, L = 4: for such a run the lookahead is what wins
  back the AUC a band costs (L = 4 recovers most of it; L = 8 all of it, at twice the latency), and
  4 snippets are 2.56 s at 25 fps;
- a run trained with ``--window W`` keeps L = 0 (``ScorerConfig.lookahead``): trained with the band, it
  scored as well at L = 0 as at L = 2 or 4, so its scores come without waiting.
"""

from __future__ import annotations

from vadpipe import SNIPPET_FRAMES
from vadpipe.errors import ConfigError

# The band `watch` uses for a run trained without one (offline): 64 snippets ~ 40 s at 25 fps,
# wide enough for the prior (sigma 16 reaches ~25 snippets) and cheap per snippet; the window
# hardly changes the AUC (16 to 128 measured), the lookahead does.
DEFAULT_LIVE_WINDOW = 64
DEFAULT_LIVE_LOOKAHEAD = 4


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


def live_band(trained: tuple[int, int], window: int | None = None, lookahead: int | None = None) -> tuple[int, int]:
    """The band `watch` scores with: as :func:`resolve_band`, except that a run trained without a band
    gets :data:`DEFAULT_LIVE_WINDOW` and :data:`DEFAULT_LIVE_LOOKAHEAD` for the parts not given.

    Raises:
        ConfigError: a lookahead without a window (``params`` window, lookahead).
    """
    if not trained[0]:
        window = DEFAULT_LIVE_WINDOW if window is None else window
        if lookahead is None and window:
            lookahead = DEFAULT_LIVE_LOOKAHEAD
    return resolve_band(trained, window, lookahead)


def lookahead_seconds(lookahead: int, fps: float) -> float:
    """What a lookahead of L snippets adds to the latency of every score: L x 16 frames, in seconds at ``fps``."""
    return lookahead * SNIPPET_FRAMES / fps
