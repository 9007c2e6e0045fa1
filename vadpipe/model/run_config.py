"""A run folder's ``config.json``: :class:`RunConfig`, reading and checking it, without torch.

`score`, `evaluate` and `watch` check ``--model`` (:func:`check_run_folder`, :func:`read_run_config`)
before they import torch, so a mistyped path or a broken config is one line at once;
:mod:`vadpipe.model.checkpoint` adds the model's weights (``model.safetensors``).

``config.json`` of format 1 (before the feature spec was stored whole) still loads: its
``features`` section names the backbone, crops, tail and sizes, but not a resampling fps
or dtype, which read as "every frame" and float32.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import vadpipe
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.errors import VadpipeError
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig, from_dict

CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"
RUN_FORMAT = "vadpipe-run"
RUN_FORMAT_VERSION = 2  # 2: `features` is the whole FeatureSpec (with resample_fps, dtype); 1 still loads


@dataclass
class RunConfig:
    """Everything in ``config.json``."""

    scorer: ScorerConfig
    loss: LossConfig
    train: TrainConfig
    features: FeatureSpec | None  # how the training features were made; None when no store recorded it
    preset: str | None = None
    metric: str = "auc"
    threshold: float | None = None  # decision threshold for intervals, chosen on validation data
    threshold_source: str | None = None
    best_epoch: int | None = None
    best_metric: float | None = None
    epochs_done: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT,
            "format_version": RUN_FORMAT_VERSION,
            "vadpipe_version": vadpipe.__version__,
            **dataclasses.asdict(self),
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        return cls(
            scorer=from_dict(ScorerConfig, data["scorer"]),
            loss=from_dict(LossConfig, data["loss"]),
            train=from_dict(TrainConfig, data["train"]),
            features=FeatureSpec.from_record(data.get("features")),
            **{k: data[k] for k in ("preset", "metric", "threshold", "threshold_source", "best_epoch",
                                    "best_metric", "epochs_done", "extra") if k in data},
        )


def check_run_folder(path: str | Path) -> Path:
    """``path`` as a run folder (one holding ``config.json``).

    Raises:
        VadpipeError: no such folder; a file; a folder that holds no run, naming the run folders
            one level down when there are (the demo's run is ``<out>/run``).
    """
    folder = Path(path)
    if not folder.exists():
        raise VadpipeError(f"{folder}: no such folder; give a run folder written by `vadpipe train`")
    if not folder.is_dir():
        raise VadpipeError(f"{folder}: a file, not a run folder; give the folder `vadpipe train` wrote")
    if (folder / CONFIG_NAME).is_file():
        return folder
    try:
        below = sorted(d for d in folder.iterdir() if d.is_dir() and (d / CONFIG_NAME).is_file())
    except OSError:
        below = []
    if len(below) == 1:
        raise VadpipeError(f"{folder}: not a run folder, but {below[0]} is one; give that")
    if below:
        names = ", ".join(str(d) for d in below[:3]) + (", ..." if len(below) > 3 else "")
        raise VadpipeError(f"{folder}: not a run folder, but the {len(below)} folders in it are ({names}); "
                           "give one of them")
    raise VadpipeError(f"{folder}: no {CONFIG_NAME}, so not a run folder; give a folder written by `vadpipe train`")


def read_run_config(run_dir: str | Path) -> RunConfig:
    """Parse and check ``config.json`` of a run folder (a path that is not one: :func:`check_run_folder`)."""
    path = check_run_folder(run_dir) / CONFIG_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise VadpipeError(f"{path}: not valid JSON ({exc}); retrain or restore the file") from exc
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT or version is None:
        raise VadpipeError(f"{path}: not a vadpipe run config; retrain with `vadpipe train`")
    if version > RUN_FORMAT_VERSION:
        raise VadpipeError(
            f"{path}: run format {version} is newer than this vadpipe understands ({RUN_FORMAT_VERSION}); "
            "upgrade vadpipe"
        )
    try:
        return RunConfig.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise VadpipeError(f"{path}: incompatible run config ({exc}); retrain with this vadpipe version") from exc
