"""Run folders: ``config.json`` + ``model.safetensors``, enough to rebuild the scorer from the files alone.

``config.json`` of format 1 (before the feature spec was stored whole) still loads: its
``features`` section names the backbone, crops, tail and sizes, but not a resampling fps
or dtype, which read as "every frame" and float32.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import vadpipe
from vadpipe.atomic import atomic_path, write_json
from vadpipe.errors import VadpipeError
from vadpipe.model.config import ScorerConfig
from vadpipe.model.run_config import (  # noqa: F401  (re-exported: callers import the run's files from here)
    CONFIG_NAME,
    MODEL_NAME,
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    RunConfig,
    read_run_config,
)
from vadpipe.model.scorer import AnomalyScorer


def save_run(run_dir: str | Path, model: AnomalyScorer, config: RunConfig) -> None:
    """Write ``model.safetensors`` then ``config.json``, each atomically."""
    run_dir = Path(run_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(run_dir / MODEL_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": RUN_FORMAT, "vadpipe_version": vadpipe.__version__})
    write_json(run_dir / CONFIG_NAME, config.to_dict())


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[AnomalyScorer, RunConfig]:
    """Rebuild the scorer of a run folder, in eval mode on ``device``."""
    config = read_run_config(run_dir)
    weights = Path(run_dir) / MODEL_NAME
    if not weights.is_file():
        raise VadpipeError(f"{weights}: missing; the run has no saved model yet (train it, or resume its training)")
    _check_weights_fit(weights, config.scorer)  # before building: a config's sizes may ask for gigabytes
    model = AnomalyScorer(config.scorer)
    try:
        state = load_file(str(weights))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise VadpipeError(f"{weights}: cannot be loaded into the model of config.json ({first})") from exc
    broken = [name for name, tensor in state.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise VadpipeError(f"{weights}: {broken[0]} holds NaN or Inf (a diverged or corrupted run); its scores "
                           "would not be numbers; retrain the run or restore the file")
    return model.to(device).eval(), config


def _check_weights_fit(weights: Path, scorer: ScorerConfig) -> None:
    """Refuse a weights file whose tensors (names, shapes: read from its header) are not the model that
    ``config.json`` describes, before that model is built (the meta device allocates nothing)."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VadpipeError(f"{weights}: not a readable safetensors file ({first}); restore it or retrain") from exc
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in AnomalyScorer(scorer).state_dict().items()}
    for name, shape in expected.items():
        if stored.get(name) != shape:
            found = "missing" if name not in stored else f"of shape {list(stored[name])}"
            raise VadpipeError(f"{weights}: tensor {name} is {found} but config.json's scorer needs {list(shape)}; "
                               "the config does not describe these weights (restore the run's config.json or "
                               "retrain)")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise VadpipeError(f"{weights}: tensor {extra[0]} is not part of the model config.json describes; "
                           "restore the run's config.json or retrain")
