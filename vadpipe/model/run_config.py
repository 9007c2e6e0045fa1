"""A run folder's ``config.json``: :class:`RunConfig`, reading and checking it, without torch.

`score`, `evaluate` and `watch` check ``--model`` (:func:`check_run_folder`, :func:`read_run_config`)
before they import torch, so a mistyped path or a broken config is one line at once;
:mod:`vadpipe.model.checkpoint` adds the model's weights (``model.safetensors``).

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

import vadpipe
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.errors import ConfigError, VadpipeError
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig, from_dict
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
    """Parse and check ``config.json`` of a run folder: every value of its type and range.

    Raises:
        VadpipeError: naming the file, and the field at fault (``scorer.mlp_dims``, ``threshold``, ...).
    """
    path = check_run_folder(run_dir) / CONFIG_NAME
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
