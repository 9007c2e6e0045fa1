"""The offline demo: synthetic videos -> features -> LA-Net + DDL on weak labels -> scores on held-out videos.

Nothing is downloaded. The backbone is the registry's, at a reduced input size, with its
real checkpoint when one is cached and a seeded random initialisation otherwise (said
plainly in the output: such features are only good for showing the pipeline work).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vadpipe.atomic import atomic_path
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.demo.scenes import SceneSpec, make_specs, render_scene, write_mp4
from vadpipe.eval.metrics import frame_metrics
from vadpipe.features.formats import load_feature_set
from vadpipe.infer.scoring import ScoreOptions, ScoringRun, score_inputs
from vadpipe.infer.truth import ScoreTruth
from vadpipe.observers import Observer
from vadpipe.train.loop import CKPT_NAME
from vadpipe.train.run import TrainRequest, train_run
from vadpipe.video.snippets import frame_scores

STAGES = 4  # render, extract, train, score


@dataclass
class DemoSettings:
    """Sizes of the demo; the defaults take one and a half to two minutes on 2 CPU cores (README)."""

    train_normal: int = 20
    train_abnormal: int = 20
    test_normal: int = 5
    test_abnormal: int = 5
    frames: int = 160  # 6.4 s at 25 fps = 10 snippets
    height: int = 72
    width: int = 96
    backbone: str = "inception_i3d"
    resize_short: int = 72
    crop_size: int = 64
    epochs: int = 100
    batch_size: int = 16
    # Scaled to 10-snippet clips (the paper's sigma and K are for minutes-long videos), and the
    # features standardised: random-init features share one large component that hides the event.
    sigma: float = 1.0
    conv_kernel: int = 3
    standardize: bool = True
    seed: int = 0


@dataclass
class DemoResult:
    frame_auc: float | None
    frame_ap: float | None
    random_init: bool
    backbone: str
    example: dict  # the score JSON of one abnormal held-out video
    run: str  # the run folder it trained (<out>/run): `vadpipe score VIDEO --model` takes it
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _render(specs: list[SceneSpec], folder: Path, settings: DemoSettings, seed_offset: int) -> None:
    for i, spec in enumerate(specs):
        sub = "abnormal" if spec.label else "normal"
        path = folder / sub / f"{spec.name}.mp4"
        if not path.exists():  # a rerun reuses what was rendered
            frames = render_scene(spec, height=settings.height, width=settings.width,
                                  seed=settings.seed * 1000 + seed_offset + i, camera_seed=settings.seed)
            write_mp4(path, frames)


def demo_forward(forward: ForwardOptions | None, device: str, train_videos: Path) -> ForwardOptions:
    """How the demo's backbone runs, for extract and score alike: ``forward`` (None: the defaults), its ``auto``
    device replaced by ``device``. Precision int8 without ``calibrate`` calibrates on ``train_videos``, so that
    extract and score use one quantized model and the run's spec and score's agree on ``int8``."""
    forward = forward or ForwardOptions()
    if forward.device == "auto":
        forward = dataclasses.replace(forward, device=device)
    if forward.precision == "int8" and not forward.calibrate:
        forward = dataclasses.replace(forward, calibrate=(str(train_videos),))
    return forward


def run_demo(out: Path, settings: DemoSettings | None = None, *, device: str = "cpu",
             observer: Observer | None = None, forward: ForwardOptions | None = None) -> DemoResult:
    """Run the whole demo into ``out`` and return what it measured.

    ``observer`` is told each stage as it begins (event ``stage``), the note that the backbone
    is random-initialised, and what the training job tells (:func:`vadpipe.train.run.train_run`).
    ``out/run`` is a whole run folder, as `vadpipe train` writes it.

    ``forward`` sets how the backbone runs when extracting the training videos and when scoring the
    held-out ones (engine, precision, ...; :func:`demo_forward`); ``device`` is the training's, and the
    backbone's unless ``forward`` names one.
    """
    from vadpipe.features.extract_job import run_extract

    observer = observer or Observer()
    forward = demo_forward(forward, device, out / "videos" / "train")

    def stage(number: int, message: str) -> None:
        observer.event("stage", {"stage": number, "stages": STAGES, "message": message})

    s = settings or DemoSettings()
    rng = np.random.default_rng(s.seed)
    train_specs = make_specs(s.train_normal, s.train_abnormal, s.frames, rng, "train")
    test_specs = make_specs(s.test_normal, s.test_abnormal, s.frames, rng, "test")
    clock: dict[str, float] = {}

    started = time.perf_counter()
    stage(1, f"rendering {len(train_specs)} training and {len(test_specs)} held-out videos "
        f"({s.width}x{s.height}, {s.frames} frames at 25 fps) into {out / 'videos'}")
    _render(train_specs, out / "videos" / "train", s, 0)
    _render(test_specs, out / "videos" / "test", s, 500)
    clock["render"] = time.perf_counter() - started

    started = time.perf_counter()
    stage(2, f"extracting {s.backbone} features at {s.crop_size}x{s.crop_size} (centre crop)")
    spec = FeatureSpec.resolve(s.backbone, crops=1, resize_short=s.resize_short, crop_size=s.crop_size)
    run_extract([out / "videos" / "train"], out / "features" / "train", spec,
                          options=forward, allow_random=True)
    clock["extract"] = time.perf_counter() - started
    train_videos, _ = load_feature_set(out / "features" / "train")
    spec = train_videos[0].record.spec  # as extracted (random_init recorded)
    random_init = spec.random_init
    if random_init:
        observer.note("no checkpoint of this backbone is cached, so it is RANDOM-INITIALISED (seed 0); the "
                      "scores show the pipeline working, not what real I3D weights achieve")

    started = time.perf_counter()
    stage(3, f"training LA-Net + DDL on {len(train_videos)} videos with video-level labels only "
          f"({s.epochs} epochs{', features standardised' if s.standardize else ''})")
    run_dir = out / "run"
    if (run_dir / CKPT_NAME).exists():
        shutil.rmtree(run_dir)  # the demo always trains afresh
    # seq_len is left to train_run: the clips are shorter than the preset's 200 snippets, so bags are as long as
    # the longest clip, unpadded
    request = TrainRequest(features=out / "features" / "train", out=run_dir, preset="xd", device=device, settings=dict(
        epochs=s.epochs, batch_size=s.batch_size, seed=s.seed, sigma=s.sigma, conv_kernel=s.conv_kernel,
        standardize=s.standardize, feature_dim=spec.dim,
    ))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of 16 x 10 snippets: one thread beats two (8 s vs 20 s for 100 epochs)
    try:
        train_run(request, observer)
    finally:
        torch.set_num_threads(threads)
    clock["train"] = time.perf_counter() - started

    started = time.perf_counter()
    stage(4, "scoring the held-out videos (extracted with the run's feature spec, as `vadpipe score` does)")
    run = ScoringRun.load(run_dir, device)
    truth_by_id = {spec.name: spec.event for spec in test_specs}
    annotations = _write_annotations(out / "videos" / "test_annotations.txt", test_specs)
    observer = _Curves()
    options = ScoreOptions(out=out / "scores", forward=forward,
                           ground_truth=ScoreTruth.load(annotations))  # drawn on each PNG, as `score --gt` does
    results = list(score_inputs([out / "videos" / "test"], run, options, observer=observer))
    curves, labels, example = [], [], None
    for result in results:
        video_id = Path(result.video).stem
        truth = np.zeros(result.frames, dtype=np.uint8)
        event = truth_by_id[video_id]
        if event is not None:
            truth[event[0] : event[1]] = 1
        curves.append(frame_scores(observer.scores[result.video], result.frames))
        labels.append(truth)
        if example is None and event is not None:
            example = result
    metrics = frame_metrics(np.concatenate(curves), np.concatenate(labels))
    clock["score"] = time.perf_counter() - started
    return DemoResult(metrics["auc"], metrics["ap"], random_init, s.backbone,
                      dataclasses.asdict(example) if example else {}, run=str(run_dir),
                      outputs=example.outputs if example else {}, seconds=clock)


def _write_annotations(path: Path, specs: list[SceneSpec]) -> Path:
    """The held-out videos' events as a UCF-Crime style annotation file (inclusive frame ends)."""
    lines = []
    for spec in specs:
        start, end = spec.event if spec.event is not None else (-1, 0)
        kind = "Normal" if spec.event is None else "Event"
        lines.append(f"{spec.name}.mp4  {kind}  {start}  {end - 1}  -1  -1\n")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(lines), encoding="utf-8")
    return path


class _Curves(Observer):
    """Keeps each scored video's snippet scores (the demo measures them against its own ground truth)."""

    def __init__(self):
        self.scores: dict[str, np.ndarray] = {}

    def event(self, kind: str, data: dict) -> None:
        if kind == "scored":
            self.scores[data["video"]] = data["scores"]
