"""Score curves as inline SVG: the full curve of a video page and the small one of a table row.

A per-frame curve is piecewise constant (frame f carries snippet f // 16's score), so it is
drawn as steps between the frames where it changes: exact, and a few thousand points even for
an hour of video. Past ``MAX_STEPS`` changes it is drawn as the per-column maximum instead, so
that a short peak is never averaged away.
"""

from __future__ import annotations

import numpy as np

from vadpipe.report.template import esc

MAX_STEPS = 4000

# The full curve: a fixed coordinate system that the page's script also reads (data-* on the <svg>).
WIDTH, HEIGHT = 1000, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 30  # margins around the plot area


def runs(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length code of a curve: (start frame of each run, its value). (N,) -> (R,), (R,)"""
    curve = np.asarray(curve, dtype=np.float64)
    if curve.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    starts = np.flatnonzero(np.r_[True, curve[1:] != curve[:-1]])
    return starts, curve[starts]


def _step_points(curve: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(x in frames, y) of a step line through the curve, or of its per-column maxima when long."""
    starts, values = runs(curve)
    n = len(curve)
    if len(starts) <= MAX_STEPS:
        x = np.repeat(np.r_[starts, n], 2)[1:-1]  # each run: (start, v), (end, v)
        y = np.repeat(values, 2)
        return x.astype(np.float64), y
    edges = np.linspace(0, n, columns + 1).astype(np.int64)
    peaks = np.maximum.reduceat(np.asarray(curve, dtype=np.float64), edges[:-1])  # (columns,)
    x = np.repeat(edges, 2)[1:-1]
    return x.astype(np.float64), np.repeat(peaks, 2)


def _polyline(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _tick_step(duration: float) -> float:
    """A round tick spacing giving 4 to 10 ticks."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 10:
            return step
    return duration / 5


def _clock(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:g}s"


def curve_svg(curve: np.ndarray, fps: float, threshold: float, intervals: list[dict], *,
              smoothed: np.ndarray | None = None, truth: np.ndarray | None = None) -> str:
    """The full curve of one video, with the threshold, the intervals shaded, time and score axes, and a
    cursor line (``#cursor``) for the page's script to move. The plot area's box is in data-* attributes.

    Args:
        curve: (N,) per-frame scores in [0, 1]. intervals: dicts with start_s / end_s (seconds).
        truth: optional (N,) 0/1 frame labels, shaded grey.
    """
    n = len(curve)
    duration = n / fps if n else 1.0
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of_time(t):
        return LEFT + pw * np.asarray(t, dtype=np.float64) / duration

    def y_of(v):
        return TOP + ph * (1 - np.clip(np.asarray(v, dtype=np.float64), 0, 1))

    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fff" stroke="#dde1e8"/>']
    if truth is not None:
        starts, values = runs(truth)
        ends = np.r_[starts[1:], n]
        for s, e, v in zip(starts, ends, values, strict=True):
            if v:
                parts.append(f'<rect class="truth" x="{x_of_time(s / fps):.1f}" y="{TOP}" '
                             f'width="{x_of_time(e / fps) - x_of_time(s / fps):.1f}" height="{ph}" '
                             f'fill="rgba(30,30,30,.10)"/>')
    for iv in intervals:
        x0, x1 = x_of_time(iv["start_s"]), x_of_time(iv["end_s"])
        parts.append(f'<rect class="interval" x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" '
                     f'height="{ph}" fill="rgba(214,51,58,.16)"/>')
    for v in (0.25, 0.5, 0.75, 1.0):
        y = y_of(v)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef0f4"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + ph + 4}" text-anchor="end">0</text>')
    step = _tick_step(duration)
    for t in np.arange(0, duration + 1e-9, step):
        x = x_of_time(t)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + ph}" y2="{TOP + ph + 4}" stroke="#9aa1ad"/>'
                     f'<text x="{x:.1f}" y="{TOP + ph + 17}" text-anchor="middle">{esc(_clock(round(t, 3)))}</text>')
    if n:
        xs, ys = _step_points(curve, pw)
        parts.append(f'<polyline class="score" fill="none" stroke="#2f6fde" stroke-width="1.6" '
                     f'points="{_polyline(x_of_time(xs / fps), y_of(ys))}"/>')
        if smoothed is not None:
            xs, ys = _step_points(smoothed, pw)
            parts.append(f'<polyline class="smoothed" fill="none" stroke="#8a4fc7" stroke-width="1.2" '
                         f'stroke-dasharray="4 3" points="{_polyline(x_of_time(xs / fps), y_of(ys))}"/>')
    yt = y_of(threshold)
    parts.append(f'<line class="threshold" x1="{LEFT}" x2="{LEFT + pw}" y1="{yt:.1f}" y2="{yt:.1f}" '
                 f'stroke="#d6333a" stroke-dasharray="6 4"/>'
                 f'<text x="{LEFT + pw - 4}" y="{yt - 4:.1f}" text-anchor="end" fill="#d6333a">'
                 f'threshold {threshold:.2f}</text>')
    parts.append(f'<line id="cursor" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}" stroke="#1d2330" '
                 f'stroke-width="1.5"/>')
    return (f'<svg class="curve" id="curve" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="anomaly score over time" data-left="{LEFT}" data-width="{pw}" '
            f'data-duration="{duration!r}">{"".join(parts)}</svg>')


def sparkline_svg(curve: np.ndarray, threshold: float | None = None, *, truth: np.ndarray | None = None,
                  width: int = 160, height: int = 34) -> str:
    """A small curve for a table row (per-column maxima, so a peak always shows); red above the threshold."""
    curve = np.asarray(curve, dtype=np.float64)
    if curve.size == 0:
        return ""
    cols = min(width, curve.size)
    edges = np.linspace(0, curve.size, cols + 1).astype(np.int64)
    peaks = np.maximum.reduceat(curve, edges[:-1])  # (cols,)
    xs = np.linspace(0, width, cols)
    ys = 2 + (height - 4) * (1 - np.clip(peaks, 0, 1))
    parts = []
    if truth is not None and truth.any():
        marks = np.maximum.reduceat(np.asarray(truth, dtype=np.float64), edges[:-1]) > 0
        for i in np.flatnonzero(marks):
            parts.append(f'<rect class="truth" x="{xs[i] - width / cols / 2:.1f}" y="0" '
                         f'width="{width / cols + 0.5:.1f}" height="{height}" fill="rgba(30,30,30,.12)"/>')
    if threshold is not None:
        yt = 2 + (height - 4) * (1 - threshold)
        parts.append(f'<line x1="0" x2="{width}" y1="{yt:.1f}" y2="{yt:.1f}" stroke="#d6333a" '
                     f'stroke-width=".8" stroke-dasharray="3 2"/>')
    parts.append(f'<polyline fill="none" stroke="#2f6fde" stroke-width="1.2" points="{_polyline(xs, ys)}"/>')
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-hidden="true">{"".join(parts)}</svg>')
