"""Scoring whole videos (or precomputed features) with a trained run, and writing the per-video outputs.

Flow for one video: decode -> 16-frame snippets -> backbone -> (T, C, D) features ->
scorer over the whole video at once (linear-memory attention) -> snippet scores averaged
over crops -> per-frame curve of exactly N values -> intervals -> CSV / JSON / PNG
(and an overlay video on request).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vadpipe.errors import InputError
from vadpipe.infer.intervals import (
    Interval,
    detect_intervals,
    frame_time,
    smooth_scores,
    truth_intervals,
)
from vadpipe.infer.options import IntervalOptions  # noqa: F401  (re-exported: callers import it from here)
from vadpipe.infer.report import plot_curve, write_report_json, write_scores_csv
from vadpipe.model.checkpoint import RunConfig
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.video.snippets import frame_scores


@dataclass(frozen=True)
class OverlaySource:
    """Where ``<stem>.overlay.mp4`` takes its picture and sound from.

    Attributes:
        video: the scored video file. resample_fps: the rate its frames were resampled to for scoring
            (None: every decoded frame), so that the overlay shows exactly the frames the curve scores.
    """

    video: Path
    resample_fps: float | None = None


@dataclass
class VideoScore:
    """The result for one video, as written to ``<stem>.json``."""

    video: str
    frames: int
    fps: float
    duration_s: float
    snippets: int
    max_score: float
    threshold: float
    threshold_source: str
    intervals: list[Interval]
    outputs: dict[str, str] = field(default_factory=dict)
    engine: str | None = None  # what ran the backbone (vadpipe.engines); None for precomputed features
    timings_s: dict[str, float] = field(default_factory=dict)  # this video's own seconds, per step
    metadata: dict = field(default_factory=dict)
    ground_truth: dict | None = None  # with --gt: {"file", "intervals": [{start_frame, end_frame, start_s, end_s}]}


def snippet_scores(model: AnomalyScorer, features: np.ndarray | torch.Tensor, expected_dim: int,
                   source: str) -> np.ndarray:
    """(T,) scores of one video's (T, C, D) or (T, D) features, averaged over crops."""
    feats = torch.from_numpy(np.array(features, dtype=np.float32))  # a copy: memory maps are read-only
    if feats.dim() not in (2, 3) or feats.shape[-1] != expected_dim or feats.shape[0] == 0:
        raise InputError(
            f"{source}: features of shape {tuple(feats.shape)} do not fit the model, which expects "
            f"{expected_dim}-d (T, C, {expected_dim}) features; extract them with the backbone the run was trained on"
        )
    if not torch.isfinite(feats).all():
        raise InputError(f"{source}: features contain NaN or Inf; re-extract them")
    return model.score_video(feats).float().cpu().numpy()


def write_video_outputs(
    out_dir: Path, stem: str, scores: np.ndarray, *, n_frames: int, fps: float, config: RunConfig,
    options: IntervalOptions, source: str, model_dir: str, metadata: dict | None = None,
    truth: np.ndarray | None = None, truth_file: str | None = None, engine: str | None = None,
    timings_s: dict[str, float] | None = None, overlay: OverlaySource | None = None,
) -> VideoScore:
    """Per-frame curve, intervals and the files ``<stem>.scores.csv``, ``<stem>.png``, ``<stem>.json``
    (and ``<stem>.overlay.mp4`` when ``overlay`` is given).

    ``<stem>.json`` is written last, so it holds the same result as the returned one, timings included.

    Args:
        scores: (T,) snippet scores. n_frames: decoded frame count N (the curve has N values).
        truth: optional (N,) 0/1 frame labels to draw on the plot and record; truth_file: where they came from.
        engine: what ran the backbone. timings_s: seconds this video already took (decoding, scoring); the
            seconds of writing (and of the overlay) are added.
    """
    started = time.perf_counter()
    curve = frame_scores(scores, n_frames)  # (N,)
    smoothed = None
    if options.smooth and options.smooth > 1:
        smoothed = frame_scores(smooth_scores(scores, options.smooth), n_frames)
    threshold, threshold_source = options.resolve_threshold(config)
    intervals = detect_intervals(smoothed if smoothed is not None else curve, fps, threshold=threshold,
                                 min_duration_s=options.min_duration_s, merge_gap_s=options.merge_gap_s,
                                 values=curve)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / f"{stem}.scores.csv", "json": out_dir / f"{stem}.json", "png": out_dir / f"{stem}.png"}
    write_scores_csv(paths["csv"], curve, fps, smoothed)
    plot_curve(paths["png"], curve, fps, intervals, threshold, title=Path(source).name, truth=truth,
               smoothed=smoothed)
    result = VideoScore(
        video=source, frames=int(n_frames), fps=float(fps), duration_s=frame_time(n_frames, fps),
        snippets=int(len(scores)),
        max_score=float(curve.max()), threshold=float(threshold), threshold_source=threshold_source,
        intervals=intervals, outputs={k: str(v) for k, v in paths.items()}, engine=engine,
        timings_s=dict(timings_s or {}), metadata=metadata or {},
        ground_truth=None if truth is None else {"file": truth_file, "intervals": truth_intervals(truth, fps)},
    )
    result.timings_s["writing"] = time.perf_counter() - started
    if overlay is not None:
        from vadpipe.infer.overlay import write_overlay

        started = time.perf_counter()
        path = out_dir / f"{stem}.overlay.mp4"
        alarm = np.zeros(n_frames, dtype=bool)  # (N,)
        for iv in intervals:
            alarm[iv.start_frame : iv.end_frame] = True
        write_overlay(overlay.video, path, curve, alarm, threshold, fps, resample_fps=overlay.resample_fps)
        result.outputs["overlay"] = str(path)
        result.timings_s["overlay"] = time.perf_counter() - started
    result.timings_s = {k: round(v, 6) for k, v in result.timings_s.items()}
    report = {
        **asdict(result),
        "model": {"run": model_dir, "preset": config.preset,
                  "features": config.features.record_fields() if config.features else None},
        "interval_options": {"smooth_snippets": options.smooth, "min_duration_s": options.min_duration_s,
                             "merge_gap_s": options.merge_gap_s},
    }
    write_report_json(paths["json"], report)
    return result
