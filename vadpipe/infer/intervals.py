"""From a per-frame anomaly curve to detected intervals.

Steps, in order: optional smoothing of the snippet scores (moving average over
``smooth`` snippets), thresholding (score >= threshold), merging of intervals
separated by at most ``merge_gap_s`` seconds, then dropping intervals shorter than
``min_duration_s`` seconds. Intervals are half-open in frames: ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vadpipe.infer.options import DEFAULT_THRESHOLD  # noqa: F401  (one source; re-exported)


def frame_time(frame: int, fps: float) -> float:
    """Seconds at the start of ``frame``, to the microsecond (4.004, not 4.0040000000000004)."""
    return round(frame / fps, 6)


def truth_intervals(truth: np.ndarray, fps: float) -> list[dict]:
    """The runs of 1 in (N,) 0/1 frame labels as half-open ``[start_frame, end_frame)`` with their seconds."""
    flags = np.concatenate([[0], np.asarray(truth) > 0, [0]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(flags))
    return [{"start_frame": a, "end_frame": b, "start_s": frame_time(a, fps), "end_s": frame_time(b, fps)}
            for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)]


@dataclass
class Interval:
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    peak_score: float
    mean_score: float

    def to_dict(self) -> dict:
        return asdict(self)


def smooth_scores(snippet_scores: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` snippets (the edges average what exists). (T,) -> (T,)"""
    scores = np.asarray(snippet_scores, dtype=np.float64)
    if window <= 1 or scores.size == 0:
        return scores.astype(np.float32)
    kernel = np.ones(window)
    left = (window - 1) // 2
    padded_sum = np.convolve(np.pad(scores, (left, window - 1 - left)), kernel, mode="valid")
    counts = np.convolve(np.pad(np.ones_like(scores), (left, window - 1 - left)), kernel, mode="valid")
    return (padded_sum / counts).astype(np.float32)


def detect_intervals(curve: np.ndarray, fps: float, *, threshold: float = DEFAULT_THRESHOLD,
                     min_duration_s: float = 0.0, merge_gap_s: float = 0.0,
                     values: np.ndarray | None = None) -> list[Interval]:
    """Intervals where ``curve`` >= ``threshold``.

    Args:
        curve: (N,) per-frame scores the decision is made on (smoothed or not).
        fps: frames per second, to express times and the two durations.
        min_duration_s: intervals shorter than this (after merging) are dropped.
        merge_gap_s: intervals separated by a gap of at most this many seconds are merged.
        values: (N,) scores to report peak / mean from (default: ``curve``).
    """
    curve = np.asarray(curve)
    values = curve if values is None else np.asarray(values)
    above = np.concatenate([[False], curve >= threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))  # [start, end) frames
    merged: list[list[int]] = []
    for start, end in runs:
        if merged and (start - merged[-1][1]) / fps <= merge_gap_s:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [
        Interval(start, end, frame_time(start, fps), frame_time(end, fps), float(values[start:end].max()),
                 float(values[start:end].mean()))
        for start, end in merged
        if (end - start) / fps >= min_duration_s
    ]
