"""How a score curve becomes intervals: the settings `score` takes, each with its valid range.

Pure Python (no torch, no numpy), so the CLI can read the ranges for its options and ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vadpipe.ranges import check_ranges, ranged

if TYPE_CHECKING:
    from vadpipe.model.checkpoint import RunConfig

DEFAULT_THRESHOLD = 0.5
MAX_SMOOTH = 100_000  # snippets (~18 h at 25 fps)


@dataclass
class IntervalOptions:
    """How the curve becomes intervals (all durations in seconds)."""

    threshold: float | None = ranged(None, min=0, max=1)  # None: the run's stored threshold, else 0.5
    smooth: int = ranged(0, kind=int, min=0, max=MAX_SMOOTH)  # moving average over this many snippets (0/1: off)
    min_duration_s: float = ranged(0.0, min=0)
    merge_gap_s: float = ranged(0.0, min=0)

    def __post_init__(self) -> None:
        check_ranges(self)

    def resolve_threshold(self, config: RunConfig) -> tuple[float, str]:
        if self.threshold is not None:
            return self.threshold, "--threshold"
        if config.threshold is not None:
            return config.threshold, config.threshold_source or "run config"
        return DEFAULT_THRESHOLD, "default 0.5 (the run stores no threshold)"
