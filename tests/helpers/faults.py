"""Shared pieces of the fault-injection suite of issue 20's "one line, never a traceback" and "wrong or
unbounded results" (tests/test_faults_{text,names,disk,files,memory,results}.py): tiny runs saved without
training, a tiny clip, one backbone built once per process, and a disk that fails on demand.

This round: 71 cases tried, 71 handled, 0 left (each a test; 70 failed on d817697, the 71st, `[/x]` in
watch's source and --out, was already printed escaped there and stays as a regression test).
  text 7: a video named .txt, Latin-1 lists of videos and of feature files, a Latin-1 labels CSV, a binary
    labels CSV / feature list / ground truth, a 200,000-character CSV field;
  names 7: non-UTF-8, `$\\foo$` and `[bold red]` names in score's PNG and table, in evaluate --plots, `[/x]`
    in score's and train's output folders and in watch;
  disk 10: a 250-byte name (and a 240-byte one whose temp file did not fit), extract's features, index and
    lock, train on a full and a read-only disk, score's record, report, score --report, evaluate --plots;
  files 30: config.json x 8 (mlp_dims [-1] and [1e9, 1e9], threshold "abc", format_version "3", 200k-deep,
    use_prior "no", a section not an object, features.crops "x") and threshold 5, -1, NaN; index.jsonl x 6
    (frames -5, "abc", 1e12, fps "abc", files 5, label "abnormal"); <stem>.json x 9 in report; a Caffe2 .pkl
    of strings; ground truth x 3 (a `²` frame, an object array, end < start);
  memory 9: a sparse 32 GiB .npy, --batch-size 65536 in extract and score, mixed widths in train, weights
    checked from their header before a 65536-d model is built, decoded batches, resizing and forward batches
    bounded in bytes, watch's pre-roll ring bounded in bytes;
  results 8: features that overflow the scorer (with strict --json), NaN weights, train's advice on such
    features, strict JSON, a run's crops 7 / unknown backbone / other width blamed on its config.json, a
    folder scored into itself.
Not tried here: a real full file system (the disk cases make writes fail with ENOSPC / EROFS; mounting a
tmpfs needs root), and a 4000x3000 clip end to end (its bounds are tested piecewise; measured by hand, a
2.56 s 4000x3000 clip now peaks at 2.1 GB resident with the default batch, where the issue saw 11.9 GB).
"""

from __future__ import annotations

import errno
import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.features import write_store, write_ucf_annotations
from tests.helpers.videos import random_frames, write_video
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.model.checkpoint import RunConfig, save_run
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig
from vadpipe.model.scorer import AnomalyScorer

SIZE = dict(resize_short=36, crop_size=32)  # a random-init inception_i3d on 32-px crops: cheap
VIDEO_SPEC = dict(backbone="inception_i3d", crops=1, tail="pad", random_init=True, **SIZE)


def save_untrained_run(run_dir: Path, *, dim: int, features: dict | None, **scorer) -> Path:
    """A run folder whose scorer was never trained (scores are still numbers in [0, 1])."""
    torch.manual_seed(0)
    cfg = ScorerConfig(feature_dim=dim, heads=2, hidden_dim=16, mlp_dims=(16, 8), conv_kernel=2, dropout=0.0,
                       **scorer)
    spec = FeatureSpec.from_record(features) if features else None
    save_run(run_dir, AnomalyScorer(cfg).eval(), RunConfig(scorer=cfg, loss=LossConfig(), train=TrainConfig(),
                                                             features=spec))
    return run_dir


def feature_world(root: Path) -> dict[str, Path]:
    """A training store, a test store with its annotations, and an untrained run of their 32-d features."""
    write_store(root / "train", n_abnormal=3, n_normal=3, seed=3, t_range=(20, 30))
    events = write_store(root / "test", n_abnormal=2, n_normal=2, seed=4, t_range=(20, 30))
    write_ucf_annotations(root / "gt.txt", events)
    run = save_untrained_run(root / "run", dim=32, features={"backbone": "synthetic", "crops": 2})
    return {"train": root / "train", "test": root / "test", "gt": root / "gt.txt", "run": run}


def video_world(root: Path) -> dict[str, Path]:
    """A 20-frame clip and an untrained run of random-init inception_i3d features of it (1024-d)."""
    clip = write_video(root / "clips" / "clip.mp4", random_frames(20, 40, 48))
    run = save_untrained_run(root / "video-run", dim=1024, features=VIDEO_SPEC)
    return {"clip": clip, "video_run": run}


def edit_json(path: Path, change) -> Path:
    """Apply ``change(data)`` to a JSON file in place."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def one_backbone(monkeypatch) -> None:
    """Every backbone a test builds is built once per process (a random-init inception_i3d takes seconds)."""
    import vadpipe.backbones.registry as registry

    monkeypatch.setattr(registry, "build_backbone", _cached_build(registry.build_backbone))


@functools.cache
def _cached_build(build):
    @functools.cache
    def cached(name, *, weights=None, allow_random=False, random_init=False, seed=0, **kwargs):
        return build(name, weights=weights, allow_random=allow_random, random_init=random_init, seed=seed, **kwargs)

    return cached


def failing_disk(monkeypatch, under: Path, code: str = "ENOSPC") -> None:
    """Files under ``under`` cannot be written, as on a full (``ENOSPC``) or read-only (``EROFS``) disk: every
    atomic write (its final rename) and every append or lock of a feature store's index fails there."""
    import builtins

    import vadpipe.features.store as store

    under, number = str(under), getattr(errno, code)
    real_replace, real_open = os.replace, builtins.open

    def refused(path) -> bool:
        return str(path).startswith(under)

    def replace(src, dst, *args, **kwargs):
        if refused(dst):
            raise OSError(number, os.strerror(number), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and refused(file):
            raise OSError(number, os.strerror(number), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(store, "open", open_, raising=False)


def errors_of(err: str) -> list[str]:
    """The ``error:`` lines of a command's stderr, after checking it holds no traceback."""
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if "vadpipe: error:" in line]


def sparse_npy(path: Path, shape: tuple[int, ...]) -> Path:
    """A float32 .npy of ``shape`` that takes no disk (a sparse file: its data reads as zeros)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        f.truncate(f.tell() + int(np.prod(shape)) * 4)
    return path


# --- what every fault module shares: import CPU, train_quickly and the two fixtures into the module -------------

CPU = ["--device", "cpu"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny untrained run with its feature stores (:func:`feature_world`) and a tiny clip (:func:`video_world`)."""
    root = tmp_path_factory.mktemp("faults")
    return {**feature_world(root), **video_world(root)}


@pytest.fixture(autouse=True)
def _one_backbone(monkeypatch):
    """Every test of a module that imports this builds each backbone once per process (:func:`one_backbone`)."""
    one_backbone(monkeypatch)


def train_quickly(features, out, *extra):
    """`vadpipe train` for one epoch of a tiny model, quietly, on the CPU; returns its exit code."""
    from vadpipe.cli.app import main

    return main(["train", str(features), "--out", str(out), "--epochs", "1", "--batch-size", "4", "--seq-len", "8",
                 "--hidden-dim", "16", "--quiet", *CPU, *map(str, extra)])
