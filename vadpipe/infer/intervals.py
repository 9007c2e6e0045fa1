"""From snippet scores to a per-frame anomaly curve and its detected intervals, with no file written.

Steps, in order: optional smoothing of the snippet scores (moving average over
``smooth`` snippets), thresholding (score >= threshold), merging of intervals
separated by at most ``merge_gap_s`` seconds, then dropping intervals shorter than
``min_duration_s`` seconds. Intervals are half-open in frames: ``[start, end)``.
:func:`scored_curve` does all of it for one video; the writers of
:mod:`vadpipe.infer.outputs` take its result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from vadpipe.infer.options import DEFAULT_THRESHOLD, IntervalOptions
from vadpipe.video.snippets import frame_scores

if TYPE_CHECKING:
    from vadpipe.model.checkpoint import RunConfig


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


@dataclass
class ScoredCurve:
    """One video's snippet scores as a per-frame curve, and the intervals decided on it.

    Attributes:
        scores: (T,) snippet scores. fps: frames per second of the curve.
        curve: (N,) per-frame scores. smoothed: (N,) the smoothed curve the decision was made on, or None.
        threshold, threshold_source: the decision threshold and where it came from.
        intervals: where the (smoothed) curve reaches the threshold; peak and mean from ``curve``.
    """

    scores: np.ndarray
    fps: float
    curve: np.ndarray
    smoothed: np.ndarray | None
    threshold: float
    threshold_source: str
    intervals: list[Interval]

    @property
    def frames(self) -> int:
        return len(self.curve)

    def alarm(self) -> np.ndarray:
        """(N,) bool: True on the frames inside a detected interval."""
        flags = np.zeros(self.frames, dtype=bool)  # (N,)
        for iv in self.intervals:
            flags[iv.start_frame : iv.end_frame] = True
        return flags


def scored_curve(scores: np.ndarray, n_frames: int, fps: float, options: IntervalOptions,
                 config: RunConfig) -> ScoredCurve:
    """The per-frame curve of (T,) snippet ``scores`` over ``n_frames`` frames, and its intervals.

    Pure: nothing is written. The threshold is ``options``' when given, else the run's (``config``), else
    :data:`DEFAULT_THRESHOLD`.
    """
    curve = frame_scores(scores, n_frames)  # (N,)
    smoothed = None
    if options.smooth and options.smooth > 1:
        smoothed = frame_scores(smooth_scores(scores, options.smooth), n_frames)  # (N,)
    threshold, source = options.resolve_threshold(config)
    intervals = detect_intervals(smoothed if smoothed is not None else curve, fps, threshold=threshold,
                                 min_duration_s=options.min_duration_s, merge_gap_s=options.merge_gap_s,
                                 values=curve)
    return ScoredCurve(np.asarray(scores), float(fps), curve, smoothed, float(threshold), source, intervals)
