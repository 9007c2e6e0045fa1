"""Run folders: ``config.json`` + ``model.safetensors``, enough to rebuild the scorer from the files alone.

The config (:class:`RunConfig`, read without torch) is :mod:`vadpipe.model.run_config`'s; this module
writes and loads the model with it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import vadpipe
from vadpipe.atomic import atomic_path, write_json
from vadpipe.errors import VadpipeError
from vadpipe.model.run_config import CONFIG_NAME, MODEL_NAME, RUN_FORMAT, RunConfig, read_run_config
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
    model = AnomalyScorer(config.scorer)
    try:
        state = load_file(str(weights))
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise VadpipeError(f"{weights}: cannot be loaded into the model of config.json ({first})") from exc
    return model.to(device).eval(), config
