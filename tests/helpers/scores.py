"""Score outputs written by vadpipe's own writer from chosen snippet scores (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vadpipe.infer.score import IntervalOptions, write_video_outputs
from vadpipe.model.checkpoint import FeatureSpec, RunConfig
from vadpipe.model.config import get_preset


def tiny_config() -> RunConfig:
    preset = get_preset("xd")
    return RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, preset="xd",
                     features=FeatureSpec(dim=preset.scorer.feature_dim, crops=1, backbone="inception_i3d"))


def write_scored(out: Path, stem: str, scores, *, frames: int, fps: float = 25.0, video: Path | None = None,
                 threshold: float = 0.5, metadata: dict | None = None):
    """``<stem>.scores.csv`` / ``.json`` / ``.png`` in ``out`` for the (T,) snippet ``scores``."""
    return write_video_outputs(out, stem, np.asarray(scores, dtype=np.float32), n_frames=frames, fps=fps,
                               config=tiny_config(), options=IntervalOptions(threshold=threshold),
                               source=str(video or out / f"{stem}.npy"), model_dir=str(out / "no-run"),
                               metadata=metadata)
