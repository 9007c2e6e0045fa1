"""Live scoring on this machine: real-time factor, frame-to-score latency, streams per process, and what
the attention band costs in frame AUC.

Parts (``--part``, default all):

    rtf      one 25 fps 320x240 stream, 1 centre crop, random-init resnet3d at 224 and at 112 (run folder
             with the ucf scorer, W = 64): `watch` on the file as fast as it goes (snippets/s, real-time factor)
             against the offline baseline measured in the same process (extract_video + score_video on the
             same file: the ratio live / offline), then `watch --realtime` for latency p50 / p99.
    streams  N copies of the stream played --realtime at once (--behind drop) for N = 1, 2, 4, ...: the largest
             N with no dropped snippet is what one process sustains (to a factor of 2).
    auc      a synthetic weak-label feature set (64-d, videos of 100-400 snippets, short events): frame AUC
             of (a) a model trained offline, (b) the same model evaluated with --window 64, (c) a model
             trained with --window 64 — through `vadpipe train` / `vadpipe evaluate`.

    python bench/watch.py                       # all parts (~10 min on 2 shared CPU cores)
    python bench/watch.py --part rtf --seconds 10
    python bench/watch.py --part streams --sizes 112 --device cuda --max-streams 64

Random-init weights: throughput does not depend on the weights' values. Timings on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from score import make_video  # noqa: E402

from vadpipe.cli.app import main  # noqa: E402
from vadpipe.core.feature_spec import FeatureSpec  # noqa: E402
from vadpipe.core.forward import ForwardOptions  # noqa: E402
from vadpipe.features.extract import extract_video  # noqa: E402
from vadpipe.live.session import run_watch  # noqa: E402
from vadpipe.live.sources import parse_sources  # noqa: E402
from vadpipe.model.checkpoint import RunConfig, load_run, save_run  # noqa: E402
from vadpipe.model.config import get_preset  # noqa: E402
from vadpipe.model.scorer import AnomalyScorer  # noqa: E402
from vadpipe.session.backbone import open_session  # noqa: E402

SIZES = {224: (256, 224), 112: (128, 112)}  # crop -> (resize_short, crop)


def make_run(folder: Path, crop: int) -> Path:
    preset = get_preset("ucf")
    preset.scorer.window = 64
    torch.manual_seed(0)
    scorer = AnomalyScorer(preset.scorer).eval()
    short, size = SIZES[crop]
    spec = FeatureSpec.resolve("resnet3d", crops=1, tail="pad", resize_short=short, crop_size=size, random_init=True)
    save_run(folder, scorer, RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, features=spec,
                                       preset="ucf", threshold=0.5))
    return folder


def watch(video: Path, run: Path, device: str, copies: int = 1, **options) -> dict:
    sources = parse_sources([str(video)] * copies)
    with contextlib.redirect_stdout(io.StringIO()):
        forward = ForwardOptions(device=str(device), batch_size=options.pop("batch_size", None))
        return run_watch(sources, run, forward=forward, **options)


def offline_snippets_per_s(video: Path, run: Path, device: str) -> float:
    scorer, config = load_run(run, device)
    session = open_session(config.features, ForwardOptions(device=str(device)))
    start = time.perf_counter()
    feats, _ = extract_video(video, session)
    scorer.score_video(torch.from_numpy(feats))
    return len(feats) / (time.perf_counter() - start)


def part_rtf(args, tmp: Path, video: Path) -> None:
    for crop in args.sizes:
        run = make_run(tmp / f"run{crop}", crop)
        base = offline_snippets_per_s(video, run, args.device)
        fast = watch(video, run, args.device, batch_size=args.batch_size)["streams"][0]
        print(f"[{crop}] offline extract+score: {base:.2f} snippets/s; watch (as fast as it goes): "
              f"{fast['snippets_per_s']} snippets/s = {fast['snippets_per_s'] / base:.2f}x offline; "
              f"real-time factor {fast['real_time_factor']} (25 fps = 1.5625 snippets/s)")
        live = watch(video, run, args.device, realtime=True, batch_size=1)["streams"][0]
        print(f"[{crop}] watch --realtime: latency p50 {live['latency_ms_p50']} ms, p99 {live['latency_ms_p99']} ms "
              f"(after the snippet's last frame), dropped {live['dropped_snippets']} of "
              f"{live['dropped_snippets'] + live['snippets_scored']} snippets")


def part_streams(args, tmp: Path, video: Path) -> None:
    for crop in args.sizes:
        run = make_run(tmp / f"run{crop}", crop)
        best, n = 0, 1
        while n <= args.max_streams:
            summary = watch(video, run, args.device, copies=n, realtime=True, batch_size=max(1, n))
            dropped = sum(s["dropped_snippets"] for s in summary["streams"])
            p99 = max(s["latency_ms_p99"] or 0 for s in summary["streams"])
            print(f"[{crop}] {n} stream(s) at 25 fps: dropped {dropped} snippets, worst latency p99 {p99:.0f} ms")
            if dropped:
                break
            best, n = n, 2 * n
        limit = f" (not {n})" if n <= args.max_streams else ""
        print(f"[{crop}] one process sustains {best} stream(s){limit} of 25 fps 320x240 on {args.device}")


def _features(root: Path, n_abnormal: int, n_normal: int, seed: int, dim: int = 64) -> dict:
    """A store of (T, 1, dim) features: smooth random background, +3 along one direction inside the event."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(7).normal(size=dim)
    direction *= 2 / np.linalg.norm(direction) * np.sqrt(dim) / 8
    root.mkdir(parents=True, exist_ok=True)
    events = {}
    with open(root / "index.jsonl", "w") as index:
        for i in range(n_abnormal + n_normal):
            t = int(rng.integers(100, 400))
            x = np.zeros((t, dim), np.float32)
            state = rng.normal(size=dim)
            for j in range(t):
                state = 0.8 * state + 0.6 * rng.normal(size=dim)
                x[j] = state
            event = None
            if i < n_abnormal:
                length = int(rng.integers(6, 30))
                start = int(rng.integers(0, t - length))
                event = (start, start + length)
                x[start : start + length] += 3.0 * direction
            vid = f"v{i:03d}"
            np.save(root / f"{vid}.npy", x[:, None, :])
            events[vid] = event
            index.write(json.dumps({"video": f"{vid}.mp4", "id": vid, "features": f"{vid}.npy", "frames": 16 * t,
                                    "fps": 25.0, "snippets": t, "crops": 1, "dim": dim, "backbone": "synthetic",
                                    "tail": "pad", "status": "ok", "label": int(event is not None)}) + "\n")
    return events


def part_auc(args, tmp: Path) -> None:
    _features(tmp / "train", 40, 40, seed=1)
    events = _features(tmp / "test", 20, 20, seed=2)
    with open(tmp / "gt.txt", "w") as gt:
        for vid, ev in events.items():
            gt.write(f"{vid}.mp4 {'Abnormal' if ev else 'Normal'} {16 * ev[0] if ev else -1} "
                     f"{16 * ev[1] if ev else -1} -1 -1\n")
    common = ["--epochs", str(args.epochs), "--batch-size", "16", "--hidden-dim", "32", "--device", args.device,
              "--quiet"]

    def auc(run: Path, *extra: str) -> float:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["evaluate", str(tmp / "test"), "--model", str(run), "--gt", str(tmp / "gt.txt"), "--json",
                         "--device", args.device, *extra]) == 0
        return json.loads(out.getvalue())["auc"]

    assert main(["train", str(tmp / "train"), "--out", str(tmp / "offline"), *common]) == 0
    assert main(["train", str(tmp / "train"), "--out", str(tmp / "banded"), "--window", "64", *common]) == 0
    a, b = auc(tmp / "offline"), auc(tmp / "offline", "--window", "64", "--lookahead", "0")
    c = auc(tmp / "banded")
    print(f"frame AUC: (a) offline model {a * 100:.2f} %, (b) offline model with W=64/L=0 {b * 100:.2f} % "
          f"({(b - a) * 100:+.2f}), (c) trained with --window 64 {c * 100:.2f} % ({(c - a) * 100:+.2f})")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["rtf", "streams", "auc", "all"], default="all")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic stream")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 112], choices=sorted(SIZES))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-streams", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        video = make_video(tmp / "stream.mp4", int(25 * args.seconds), 320, 240, 25)
        if args.part in ("rtf", "all"):
            part_rtf(args, tmp, video)
        if args.part in ("streams", "all"):
            part_streams(args, tmp, video)
        if args.part in ("auc", "all"):
            part_auc(args, tmp)


if __name__ == "__main__":
    main_bench()
