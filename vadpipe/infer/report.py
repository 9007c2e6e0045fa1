"""The writers of two score outputs (see :mod:`vadpipe.infer.outputs`): the per-frame CSV and the curve's PNG,
both written atomically."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from vadpipe.atomic import atomic_path
from vadpipe.infer.intervals import Interval, truth_intervals


def write_scores_csv(path: Path, curve: np.ndarray, fps: float, smoothed: np.ndarray | None = None) -> None:
    """One row per decoded frame: frame, time_s, score (and smoothed when smoothing was asked for)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "time_s", "score"] + (["smoothed"] if smoothed is not None else []))
        for frame, score in enumerate(curve):
            row = [frame, f"{frame / fps:.3f}", f"{score:.6f}"]
            if smoothed is not None:
                row.append(f"{smoothed[frame]:.6f}")
            writer.writerow(row)


def plot_label(text: str) -> str:
    """A name as a picture can show it: a file name's bytes that are not UTF-8 (``surrogateescape``) as U+FFFD.
    Give it with ``parse_math=False``: ``$`` in a name is not math."""
    return os.fsencode(text).decode("utf-8", errors="replace") if isinstance(text, str) else str(text)


def plot_curve(path: Path, curve: np.ndarray, fps: float, intervals: list[Interval], threshold: float, *,
               title: str, truth: np.ndarray | None = None, smoothed: np.ndarray | None = None,
               release: float | None = None, gaps: tuple[tuple[float, float], ...] = (), start_s: float = 0.0) -> None:
    """The curve over time (seconds) with detected intervals shaded and the threshold drawn.

    Args:
        truth: optional (N,) 0/1 frame labels, drawn as a black band under the curve (``score --gt``).
        release: a live event's release level, drawn under the threshold.
        gaps: (start_s, end_s) spans with no score (NaN in ``curve``: a broken line), shaded grey.
        start_s: the time of the curve's first frame on the x axis (a live event's: its stream time); the
            intervals' and gaps' times are counted from it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = start_s + np.arange(len(curve)) / fps
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=110)
    for i, iv in enumerate(intervals):
        ax.axvspan(start_s + iv.start_s, start_s + iv.end_s, color="tab:red", alpha=0.18, lw=0,
                   label="detected interval" if i == 0 else None)
    if truth is not None and truth.any():  # each run of frames [start, end) covers start / fps to end / fps
        spans = [(iv["start_s"], iv["end_s"] - iv["start_s"]) for iv in truth_intervals(truth, fps)]
        ax.broken_barh(spans, (-0.06, 0.04), color="black", label="ground truth")
    elif truth is not None:  # annotated, with no abnormal frame: said in the legend, nothing to draw
        ax.plot([], [], color="black", lw=4, label="ground truth: none")
    ax.plot(times, curve, color="tab:blue", lw=1.3, label="anomaly score")
    if smoothed is not None:
        ax.plot(times, smoothed, color="tab:purple", lw=1.0, ls="-", alpha=0.8, label="smoothed")
    for i, (start, end) in enumerate(gaps):
        ax.axvspan(start_s + start, start_s + end, color="0.6", alpha=0.3, lw=0, hatch="//",
                   label="not scored" if i == 0 else None)
    ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.2f}")
    if release is not None:
        ax.axhline(release, color="tab:orange", ls=":", lw=1, label=f"release {release:.2f}")
    ax.set_xlim(start_s, start_s + max(len(curve), 1) / fps)  # to the end of the last frame, where intervals may end
    ax.set_ylim(-0.08, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("anomaly score")
    ax.set_title(plot_label(title), fontsize=10, parse_math=False)  # a name's `$x$` is not math
    ax.grid(alpha=0.25)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
