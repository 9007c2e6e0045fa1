"""Run folders: ``config.json`` + ``model.safetensors``, enough to rebuild the scorer from the files alone.

``config.json`` of format 1 (before the feature spec was stored whole) still loads: its
``features`` section names the backbone, crops, tail and sizes, but not a resampling fps
or dtype, which read as "every frame" and float32.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import vadpipe
from vadpipe.atomic import atomic_path, write_json
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.errors import VadpipeError
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig, from_dict
from vadpipe.model.run_folder import CONFIG_NAME, MODEL_NAME, check_run_folder
from vadpipe.model.scorer import AnomalyScorer

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


def save_run(run_dir: str | Path, model: AnomalyScorer, config: RunConfig) -> None:
    """Write ``model.safetensors`` then ``config.json``, each atomically."""
    run_dir = Path(run_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(run_dir / MODEL_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": RUN_FORMAT, "vadpipe_version": vadpipe.__version__})
    write_json(run_dir / CONFIG_NAME, config.to_dict())


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


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[AnomalyScorer, RunConfig]:
    """Rebuild the scorer of a run folder, in eval mode on ``device``."""
    config = read_run_config(run_dir)
    weights = Path(run_dir) / MODEL_NAME
    if not weights.is_file():
        raise VadpipeError(f"{weights}: missing; the run has no saved model yet (train it, or resume its training)")
    model = AnomalyScorer(config.scorer)
    try:
        state = load_file(str(weights))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise VadpipeError(f"{weights}: cannot be loaded into the model of config.json ({first})") from exc
    return model.to(device).eval(), config
