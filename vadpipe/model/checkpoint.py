"""Run folders: ``config.json`` + ``model.safetensors``, enough to rebuild the scorer from the files alone.

``config.json`` of format 1 (before the feature spec was stored whole) still loads: its
``features`` section names the backbone, crops, tail and sizes, but not a resampling fps
or dtype, which read as "every frame" and float32.
"""

from __future__ import annotations

import contextlib
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
from vadpipe.errors import ConfigError, VadpipeError
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig, from_dict
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.ranges import check_ranges, ranged

RUN_FORMAT = "vadpipe-run"
RUN_FORMAT_VERSION = 2  # 2: `features` is the whole FeatureSpec (with resample_fps, dtype); 1 still loads
CONFIG_NAME = "config.json"
MODEL_NAME = "model.safetensors"


@dataclass
class RunConfig:
    """Everything in ``config.json``."""

    scorer: ScorerConfig
    loss: LossConfig
    train: TrainConfig
    features: FeatureSpec | None  # how the training features were made; None when no store recorded it
    preset: str | None = None
    metric: str = "auc"
    # decision threshold for intervals, chosen on validation data; scores are in [0, 1], so a threshold
    # outside it would never alarm, or always
    threshold: float | None = ranged(None, min=0, max=1)
    threshold_source: str | None = None
    best_epoch: int | None = ranged(None, kind=int, min=0)
    best_metric: float | None = ranged(None)
    epochs_done: int = ranged(0, kind=int, min=0)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ranges(self)
        for name, kinds in (("preset", str), ("metric", str), ("threshold_source", str), ("extra", dict)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kinds):
                raise ConfigError(f"{name} {value!r} must be a{' string' if kinds is str else 'n object'}",
                                  param=name)

    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT,
            "format_version": RUN_FORMAT_VERSION,
            "vadpipe_version": vadpipe.__version__,
            **dataclasses.asdict(self),
        }

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """The config a ``config.json`` (or a checkpoint) holds.

        Raises:
            KeyError: a section is missing. ConfigError: a value is not of its field's type or range; its
                ``param`` is the field's place in the file (``scorer.mlp_dims``, ``features.crops``,
                ``threshold``).
        """
        sections = {}
        for name, cls_ in (("scorer", ScorerConfig), ("loss", LossConfig), ("train", TrainConfig)):
            section = data[name]
            if name == "scorer" and isinstance(section, dict) and section.get("window") and "band_prior" not in section:
                section = {**section, "band_prior": "band"}  # trained with a band before the prior was centred
            with _in_section(name):
                sections[name] = from_dict(cls_, section)
        with _in_section("features"):
            features = _feature_spec(data.get("features"))
        with _in_section(None):
            return cls(**sections, features=features,
                       **{k: data[k] for k in ("preset", "metric", "threshold", "threshold_source", "best_epoch",
                                               "best_metric", "epochs_done", "extra") if k in data})


@contextlib.contextmanager
def _in_section(section: str | None):
    """A ConfigError raised inside names its field by its place in the file (``scorer.heads``)."""
    try:
        yield
    except ConfigError as exc:
        where = ".".join(p for p in (section, exc.param) if p)
        message = str(exc)
        if exc.param and message.startswith(exc.param):
            message = message[len(exc.param):].lstrip(" :")
        raise ConfigError(f"{where or section}: {message}", param=where or section) from exc


def _feature_spec(record) -> FeatureSpec | None:
    """The run's feature spec, each value of its type (None: the run records none). Its choices (crops, tail,
    sizes) are checked where features are extracted with it (:func:`vadpipe.infer.scoring.scoring_spec`): a run
    trained on features made elsewhere may record values vadpipe's own extraction does not make."""
    if record is None:
        return None
    if not isinstance(record, dict):
        raise ConfigError(f"must be an object of settings, not {type(record).__name__}")
    problem = FeatureSpec.type_problem(record)
    if problem:
        raise ConfigError(problem, param=problem.split()[0])
    return FeatureSpec.from_record(record)


def save_run(run_dir: str | Path, model: AnomalyScorer, config: RunConfig) -> None:
    """Write ``model.safetensors`` then ``config.json``, each atomically."""
    run_dir = Path(run_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(run_dir / MODEL_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": RUN_FORMAT, "vadpipe_version": vadpipe.__version__})
    write_json(run_dir / CONFIG_NAME, config.to_dict())


def read_run_config(run_dir: str | Path) -> RunConfig:
    """Parse and check ``config.json`` of a run folder: every value of its type and range.

    Raises:
        VadpipeError: naming the file, and the field at fault (``scorer.mlp_dims``, ``threshold``, ...).
    """
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise VadpipeError(f"{path}: no config.json; is {run_dir} a run folder made by `vadpipe train --out`?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VadpipeError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from exc
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested past any sense
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise VadpipeError(f"{path}: not valid JSON ({why}); retrain or restore the file") from exc
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT or version is None:
        raise VadpipeError(f"{path}: not a vadpipe run config; retrain with `vadpipe train`")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise VadpipeError(f"{path}: format_version {version!r} is not a format this vadpipe knows (1 to "
                           f"{RUN_FORMAT_VERSION}); restore the file or retrain")
    if version > RUN_FORMAT_VERSION:
        raise VadpipeError(
            f"{path}: run format {version} is newer than this vadpipe understands ({RUN_FORMAT_VERSION}); "
            "upgrade vadpipe"
        )
    try:
        return RunConfig.from_dict(data)
    except ConfigError as exc:  # a hand-edited or corrupted value: the file and the field, never a flag
        raise VadpipeError(f"{path}: {exc}; fix that field or retrain the run") from exc
    except KeyError as exc:
        raise VadpipeError(f"{path}: no {exc} section; retrain with this vadpipe version") from exc


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
