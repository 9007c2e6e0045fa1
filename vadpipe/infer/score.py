"""Scoring whole videos (or precomputed features) with a trained run, and writing the per-video outputs.

Flow for one video: decode -> 16-frame snippets -> backbone -> (T, C, D) features ->
scorer over the whole video at once (linear-memory attention) -> snippet scores averaged
over crops -> per-frame curve of exactly N values -> intervals (:func:`scored_curve`, no
file) -> the score outputs of :data:`vadpipe.infer.outputs.SCORE_OUTPUTS`: CSV / JSON / PNG
(and an overlay video on request).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vadpipe.errors import InputError
from vadpipe.infer.intervals import Interval, ScoredCurve, frame_time, scored_curve, truth_intervals
from vadpipe.infer.options import IntervalOptions  # noqa: F401  (re-exported: callers import it from here)
from vadpipe.infer.outputs import (  # OverlaySource re-exported: callers import it from here
    OutputJob,
    OverlaySource,
    output_paths,
    select_outputs,
    write_outputs,
)
from vadpipe.model.checkpoint import RunConfig
from vadpipe.model.scorer import AnomalyScorer


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
    precision: str | None = None  # of the backbone's forward passes (int8: quantized); None for precomputed features
    int8_check: dict | None = None  # precision int8 asked: its features against fp32 (min/mean/p1 cosine, ...)
    timings_s: dict[str, float] = field(default_factory=dict)  # this video's own seconds, per step
    metadata: dict = field(default_factory=dict)
    ground_truth: dict | None = None  # with --gt: {"file", "intervals": [{start_frame, end_frame, start_s, end_s}]}


def snippet_scores(model: AnomalyScorer, features: np.ndarray | torch.Tensor, expected_dim: int,
                   source: str) -> np.ndarray:
    """(T,) scores of one video's (T, C, D) or (T, D) features, averaged over crops.

    Raises:
        InputError: features of another shape, that do not fit in memory (checked before they are read: a
            memory-mapped file may be far larger than the memory), that hold NaN or Inf, or whose scores are
            not finite (values too large for the scorer's float32 arithmetic).
    """
    shape = tuple(features.shape)
    if len(shape) not in (2, 3) or shape[-1] != expected_dim or shape[0] == 0:
        raise InputError(
            f"{source}: features of shape {shape} do not fit the model, which expects "
            f"{expected_dim}-d (T, C, {expected_dim}) features; extract them with the backbone the run was trained on"
        )
    _check_memory(shape, model, source)
    try:
        feats = torch.from_numpy(np.array(features, dtype=np.float32))  # a copy: memory maps are read-only
        if not torch.isfinite(feats).all():
            raise InputError(f"{source}: features contain NaN or Inf; re-extract them")
        scores = model.score_video(feats).float().cpu().numpy()
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "alloc" not in str(exc):
            raise
        raise InputError(f"{source}: features of shape {shape} do not fit in memory to be scored; score a "
                         "shorter part of the video, or on a machine with more memory") from None
    if not np.isfinite(scores).all():
        raise InputError(f"{source}: its scores are not numbers: features up to {float(feats.abs().max()):.3g} "
                         "overflow the scorer's float32 arithmetic; re-extract them with the backbone the run was "
                         "trained on")
    return scores


def _check_memory(shape: tuple[int, ...], model: AnomalyScorer, source: str) -> None:
    """Refuse features whose scoring needs more host memory than there is (before anything is read)."""
    from vadpipe.devices import available_memory

    t, d = shape[0], shape[-1]
    crops = shape[1] if len(shape) == 3 else 1
    cfg = model.cfg
    per_snippet = d + 4 * cfg.hidden_dim + 2 * sum(cfg.mlp_dims) + 2  # floats of activations per snippet and crop
    at_once = min(crops, max(1, 65_536 // t))  # crops scored together (AnomalyScorer.score_video)
    need = 4 * (2 * t * crops * d + t * at_once * per_snippet)  # the float32 copy, its check, the activations
    available = available_memory()
    if available is not None and need > available:
        raise InputError(f"{source}: scoring its features of shape {shape} needs about {need / 2**30:,.1f} GiB of "
                         f"memory, more than the {available / 2**30:,.1f} GiB available; score a shorter part of "
                         "the video, or on a machine with more memory")


def write_video_outputs(
    out_dir: Path, stem: str, scores: np.ndarray, *, n_frames: int, fps: float, config: RunConfig,
    options: IntervalOptions, source: str, model_dir: str, metadata: dict | None = None,
    truth: np.ndarray | None = None, truth_file: str | None = None, engine: str | None = None,
    timings_s: dict[str, float] | None = None, overlay: OverlaySource | None = None,
    precision: str | None = None, int8_check: dict | None = None,
) -> VideoScore:
    """Per-frame curve and intervals (:func:`~vadpipe.infer.intervals.scored_curve`), then every score output
    of :data:`~vadpipe.infer.outputs.SCORE_OUTPUTS` the video gets: ``<stem>.scores.csv``, ``<stem>.png``,
    ``<stem>.json`` (and ``<stem>.overlay.mp4`` when ``overlay`` is given).

    ``<stem>.json`` is written last, so it holds the same result as the returned one, timings included.

    Args:
        scores: (T,) snippet scores. n_frames: decoded frame count N (the curve has N values).
        truth: optional (N,) 0/1 frame labels to draw on the plot and record; truth_file: where they came from.
        engine, precision, int8_check: what ran the backbone, at which precision, and int8's check.
        timings_s: seconds this video already took (decoding, scoring); the
            seconds of writing (and of the overlay) are added.
    """
    started = time.perf_counter()
    scored = scored_curve(scores, n_frames, fps, options, config)
    result = video_score(scored, source=source, engine=engine, timings_s=timings_s, metadata=metadata,
                         truth=truth, truth_file=truth_file, precision=precision, int8_check=int8_check)
    result.timings_s["writing"] = time.perf_counter() - started  # the curve; each output's seconds are added

    def record() -> dict:  # after the other outputs: their seconds are in
        result.timings_s = {k: round(v, 6) for k, v in result.timings_s.items()}
        return score_record(result, config=config, options=options, model_dir=model_dir)

    job = OutputJob(scored, title=Path(source).name, truth=truth, overlay=overlay, record=record)
    outputs = select_outputs(job)
    result.outputs = {name: str(path) for name, path in output_paths(outputs, out_dir, stem).items()}
    write_outputs(outputs, out_dir, stem, job, timings=result.timings_s)
    result.timings_s = {k: round(v, 6) for k, v in result.timings_s.items()}
    return result


def video_score(scored: ScoredCurve, *, source: str, engine: str | None = None,
                timings_s: dict[str, float] | None = None, metadata: dict | None = None,
                truth: np.ndarray | None = None, truth_file: str | None = None, precision: str | None = None,
                int8_check: dict | None = None) -> VideoScore:
    """The :class:`VideoScore` of a scored curve, before any file is written (``outputs`` empty)."""
    return VideoScore(
        video=source, frames=int(scored.frames), fps=float(scored.fps),
        duration_s=frame_time(scored.frames, scored.fps), snippets=int(len(scored.scores)),
        max_score=float(scored.curve.max()), threshold=float(scored.threshold),
        threshold_source=scored.threshold_source, intervals=scored.intervals, engine=engine, precision=precision,
        int8_check=int8_check,
        timings_s=dict(timings_s or {}), metadata=metadata or {},
        ground_truth=None if truth is None else {"file": truth_file, "intervals": truth_intervals(truth, scored.fps)},
    )


def score_record(result: VideoScore, *, config: RunConfig, options: IntervalOptions, model_dir: str) -> dict:
    """The document of ``<stem>.json``: the result, the model that scored it and the interval options."""
    return {
        **asdict(result),
        "model": {"run": model_dir, "preset": config.preset,
                  "features": config.features.record_fields() if config.features else None},
        "interval_options": {"smooth_snippets": options.smooth, "min_duration_s": options.min_duration_s,
                             "merge_gap_s": options.merge_gap_s},
    }
