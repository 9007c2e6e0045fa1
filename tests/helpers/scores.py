"""Score outputs written by vadpipe's own writer from chosen snippet scores, and an Evaluation (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.eval.evaluate import Evaluation, VideoResult
from vadpipe.eval.metrics import frame_metrics
from vadpipe.infer.score import IntervalOptions, write_video_outputs
from vadpipe.model.checkpoint import RunConfig
from vadpipe.model.config import get_preset


def tiny_config() -> RunConfig:
    preset = get_preset("xd")
    return RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, preset="xd",
                     features=FeatureSpec.resolve("inception_i3d", crops=1))


def write_scored(out: Path, stem: str, scores, *, frames: int, fps: float = 25.0, video: Path | None = None,
                 threshold: float = 0.5, metadata: dict | None = None, truth: np.ndarray | None = None):
    """``<stem>.scores.csv`` / ``.json`` / ``.png`` in ``out`` for the (T,) snippet ``scores`` (and the (N,) 0/1
    ground-truth frames ``truth``, as ``score --gt`` records them)."""
    return write_video_outputs(out, stem, np.asarray(scores, dtype=np.float32), n_frames=frames, fps=fps,
                               config=tiny_config(), options=IntervalOptions(threshold=threshold),
                               source=str(video or out / f"{stem}.npy"), model_dir=str(out / "no-run"),
                               metadata=metadata, truth=truth, truth_file=None if truth is None else "gt.txt")


def synthetic_evaluation() -> Evaluation:
    """Three videos: a good abnormal one, a normal one with a false alarm, a missed abnormal one."""
    rng = np.random.default_rng(0)
    specs = [("good", 1, 64, (16, 48), 0.9), ("false alarm", 0, 48, None, 0.8), ("missed", 1, 32, (0, 32), 0.1)]
    scores, labels, results = [], [], []
    for name, label, n, event, high in specs:
        truth = np.zeros(n)
        if event:
            truth[event[0] : event[1]] = 1
        curve = np.clip(0.1 + rng.normal(0, 0.02, n) + (high - 0.1) * (truth if label else np.r_[np.zeros(n // 2),
                        np.ones(n - n // 2)]), 0, 1)
        scores.append(curve)
        labels.append(truth)
        results.append(VideoResult(id=name, label=label, snippets=n // 16, frames=n, max_score=float(curve.max()),
                                   mean_score=float(curve.mean()), abnormal_frames=int(truth.sum()),
                                   auc=frame_metrics(curve, truth)["auc"]))
    s, y = np.concatenate(scores), np.concatenate(labels)
    return Evaluation(frame_metrics(s, y), results, int(s.size), notes=["a note"], problems=[], scores=s, labels=y)
