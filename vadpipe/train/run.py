"""One training job, as `vadpipe train` and the demo run it: a request in, a whole run folder out.

:func:`train_run` does what lies between the options and the loop: it resumes a run or builds
the config from a preset and the settings given, takes the feature width and the feature spec
from the data, reads the validation set, joins torchrun's process group, and trains into the
run folder (``config.json``, ``model.safetensors``, ``metrics.jsonl``, ``training.png``,
``last.ckpt``). What happens on the way is told to an :class:`~vadpipe.observers.Observer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vadpipe.devices import resolve_device
from vadpipe.errors import UsageError
from vadpipe.eval.groundtruth import load_ground_truth
from vadpipe.features.feature_set import read_feature_set
from vadpipe.model.checkpoint import CONFIG_NAME, RunConfig, read_run_config
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig, get_preset
from vadpipe.observers import Observer
from vadpipe.train.data import BagSet, require_both_classes
from vadpipe.train.distributed import init_distributed, shutdown_distributed
from vadpipe.train.loop import CKPT_NAME, Validation, train

_SECTIONS = {"scorer": ScorerConfig, "loss": LossConfig, "train": TrainConfig}


@dataclass(frozen=True)
class TrainRequest:
    """A training job.

    Args:
        features: training features (a store folder, a public list file or a folder of ``.npy``).
        out: the run folder to write.
        preset: the paper's hyperparameters to start from (``ucf`` or ``xd``).
        settings: fields of the scorer, loss and train configs, by name, over the preset's
            (``{"epochs": 20, "sigma": 4.0}``); None values are left to the preset, except
            ``seq_len``: when every training video is shorter than the preset's, it is the
            longest video's length (bags are kept whole either way; padding only adds work).
        labels, abnormal_first, features_root: how the feature sets are read (see
            :func:`vadpipe.features.feature_set.read_feature_set`).
        val, val_gt: validation features and their ground truth, together or not at all.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        workers: DataLoader processes reading the features.
        resume: continue the run in ``out`` (its own config; ``settings`` are not used).
    """

    features: Path
    out: Path
    preset: str = "ucf"
    settings: Mapping[str, Any] = field(default_factory=dict)
    labels: Path | None = None
    abnormal_first: int | None = None
    features_root: Path | None = None
    val: Path | None = None
    val_gt: Path | None = None
    device: str = "auto"
    workers: int = 0
    resume: bool = False

    def __post_init__(self) -> None:
        if (self.val is None) != (self.val_gt is None):
            raise UsageError("val and val_gt go together", params=("val", "val_gt"))
        known = {f.name for cls in _SECTIONS.values() for f in dataclasses.fields(cls)}
        unknown = sorted(set(self.settings) - known)
        if unknown:
            raise UsageError(f"{unknown[0]} is not a setting of the scorer, loss or train config", param=unknown[0])


@dataclass(frozen=True)
class TrainResult:
    """What a training job did: the run's final config, the data it trained on, the inputs it left out."""

    run: Path
    config: RunConfig
    videos: int
    bags: int
    problems: tuple[str, ...]  # one line per input left out (training and validation)
    main_process: bool  # False in the other processes under torchrun (rank 0 wrote the run)

    def summary(self) -> dict:
        """The job in one JSON-ready dict (what `vadpipe train --json` prints)."""
        c = self.config
        return {"run": str(self.run), "epochs": c.epochs_done, "best_epoch": c.best_epoch, "metric": c.metric,
                "best_metric": c.best_metric, "threshold": c.threshold, "videos": self.videos, "bags": self.bags,
                "skipped_inputs": len(self.problems)}


def has_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run that saved at least one epoch (so it can be resumed)."""
    return (folder / CONFIG_NAME).is_file() or (folder / CKPT_NAME).is_file()


def train_run(request: TrainRequest, observer: Observer | None = None) -> TrainResult:
    """Train a scorer as ``request`` asks and write its whole run folder.

    Told to ``observer``: notes and warnings (a resume with nothing saved, features of another
    width than the preset's), each input left out (``failed``), and, from the main process only,
    the event ``training`` (what is trained on, before the first epoch), ``started``/``advanced``
    per epoch and batch, and the event ``epoch`` with each epoch's metrics.

    Raises:
        UsageError: a setting out of range or settings that do not fit together (before any
            folder is made), a run in ``out`` and no resume, a resume with no run.
        InputError: no usable training features, or only one class of them.
    """
    observer = observer or Observer()
    out, resume = Path(request.out), request.resume
    if resume and not has_run(out):
        if not out.is_dir():
            raise UsageError(f"{out}: no run here to resume; start it without resume")
        observer.warning(f"{out}: the run was stopped before its first epoch ended, so nothing was saved; "
                         "starting it from epoch 1 with the options given")
        resume = False
    config = read_run_config(out) if resume else config_from_preset(request.preset, request.settings)
    read = dict(labels=request.labels, abnormal_first=request.abnormal_first, features_root=request.features_root,
                observer=observer)
    train_set = read_feature_set(request.features, expected_dim=config.scorer.feature_dim if resume else None,
                                 need_labels=True, **read)
    problems = list(train_set.problems)
    require_both_classes([v.label for v in train_set.videos])  # before anything about the training is told
    if not resume:
        _fit_features(config, train_set.videos, request.preset, observer)
    validation = None
    if request.val is not None:
        val_set = read_feature_set(request.val, expected_dim=config.scorer.feature_dim,
                                   **{**read, "labels": None, "abnormal_first": None})
        problems += val_set.problems
        order = [(v.id, v.frame_count()) for v in val_set.videos]
        validation = Validation(val_set.videos, load_ground_truth(request.val_gt, video_order=order))
    dataset = BagSet(train_set.videos, config.train.seq_len)
    longest = max(len(crops[0]) for crops in dataset.crops)  # snippets of the longest training video
    if not resume and request.settings.get("seq_len") is None and longest < config.train.seq_len:
        # Every bag is kept whole either way; padding them to the preset's length only multiplies the work.
        config.train.seq_len = dataset.seq_len = longest
    device = resolve_device(request.device)
    dist = init_distributed(device)  # a no-op unless started by torchrun
    try:
        if dist.is_main:
            n_abnormal = int(dataset.labels.sum())
            observer.event("training", {"run": out, "videos": len(train_set.videos), "abnormal": n_abnormal,
                                        "normal": len(dataset) - n_abnormal, "longest": longest,
                                        "device": str(device), "processes": dist.world_size, "config": config})
        with _removed_if_left_empty(out):
            final = train(out, config, dataset, validation=validation, resume=resume, device=device,
                          workers=request.workers, observer=observer, dist=dist)
    finally:
        shutdown_distributed()
    return TrainResult(out, final, len(train_set.videos), len(dataset), tuple(problems), dist.is_main)


def config_from_preset(preset_name: str, settings: Mapping[str, Any]) -> RunConfig:
    """The preset with every setting given (not None) on top of it, each in its config section.

    Each section checks itself (ranges, heads dividing hidden_dim, ...) and says what is wrong
    in a :class:`~vadpipe.errors.ConfigError` that names the settings.
    """
    preset = get_preset(preset_name)
    given = {k: v for k, v in settings.items() if v is not None}

    def section(name: str):
        names = {f.name for f in dataclasses.fields(_SECTIONS[name])}
        return dataclasses.replace(getattr(preset, name), **{k: v for k, v in given.items() if k in names})

    return RunConfig(scorer=section("scorer"), loss=section("loss"), train=section("train"), features=None,
                     preset=preset_name, metric=preset.metric)


def _fit_features(config: RunConfig, videos, preset: str, observer: Observer) -> None:
    """Take the feature dim from the data, and the feature spec the extraction recorded (whole)."""
    *_, dim = videos[0].validate()  # (T, C, D)
    if dim != config.scorer.feature_dim:
        observer.warning(f"features are {dim}-d; the {preset} preset was tuned for "
                         f"{config.scorer.feature_dim}-d features")
        config.scorer.feature_dim = dim
    specs = {v.record.spec for v in videos if v.record is not None}
    if len(specs) > 1:
        observer.warning(f"the training features were made with {len(specs)} different feature specs; the run "
                         "records the first, which `vadpipe score` will extract with")
    config.features = videos[0].record.spec if videos[0].record is not None else None


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path):
    """A run folder this job created is removed again when the run fails before writing anything in it
    (an error; a run killed or interrupted keeps its folder, which a resume starts again)."""
    existed = folder.exists()
    try:
        yield
    except Exception:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise
