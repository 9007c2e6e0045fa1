"""The one tiny extract -> train chain that the end-to-end tests share (the session fixture ``tiny_run``).

Four rendered 70-frame clips (two with an event, two without; T = 5 snippets, the last one loop-padded),
their features from the random-init Inception I3D at 32 px with one crop (1024-d), a run trained on them
for two epochs with the ``xd`` preset, and a UCF-style annotation file of the clips' events. It is built
once per session through the CLI, as a user would; tests read it and copy what they change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadpipe.cli.app import main
from vadpipe.demo.scenes import SceneSpec, make_specs, render_scene, write_mp4

FRAMES, SNIPPETS, FPS = 70, 5, 25.0  # 70 frames: T = ceil(70 / 16) = 5, the last snippet padded
HEIGHT, WIDTH = 40, 48
FEATURE_DIM = 1024  # inception_i3d
EXTRACT_ARGS = ["--backbone", "inception_i3d", "--random-init", "--crops", "1", "--resize-short", "36",
                "--crop-size", "32", "--device", "cpu", "--quiet"]
TRAIN_ARGS = ["--preset", "xd", "--epochs", "2", "--batch-size", "4", "--seq-len", "8", "--device", "cpu", "--quiet"]


@dataclass(frozen=True)
class TinyRun:
    """Where the shared chain lies. Read only: a test that changes a file works on a copy."""

    root: Path
    specs: list[SceneSpec]  # abnormal ones first: [abnormal, abnormal, normal, normal]

    @property
    def videos(self) -> Path:
        return self.root / "videos"  # <label>/<name>.mp4

    @property
    def features(self) -> Path:
        return self.root / "feats"  # the store `extract` wrote: <label>/<name>.npy + index.jsonl

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def gt(self) -> Path:
        return self.root / "gt.txt"  # UCF-Crime style, inclusive frame ends

    def video(self, i: int) -> Path:
        return self.videos / _label(self.specs[i]) / f"{self.specs[i].name}.mp4"

    def feature_file(self, i: int) -> Path:
        return self.features / _label(self.specs[i]) / f"{self.specs[i].name}.npy"


def _label(spec: SceneSpec) -> str:
    return "abnormal" if spec.label else "normal"


def build_tiny_run(root: Path) -> TinyRun:
    """Render, extract and train the shared chain under ``root``."""
    specs = make_specs(2, 2, FRAMES, np.random.default_rng(0), "clip")
    tiny = TinyRun(root, specs)
    for i, spec in enumerate(specs):
        tiny.video(i).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(tiny.video(i), render_scene(spec, height=HEIGHT, width=WIDTH, seed=i))
    lines = [f"{s.name}.mp4  Event  {s.event[0]}  {s.event[1] - 1}  -1  -1" if s.event else
             f"{s.name}.mp4  Normal  -1  -1  -1  -1" for s in specs]
    tiny.gt.write_text("\n".join(lines) + "\n")
    assert main(["extract", str(tiny.videos), "--out", str(tiny.features), *EXTRACT_ARGS]) == 0
    assert main(["train", str(tiny.features), "--out", str(tiny.run), *TRAIN_ARGS]) == 0
    return tiny
