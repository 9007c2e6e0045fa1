"""Live scoring on this machine: real-time factor, frame-to-score latency, streams per process, and what
the attention band costs in frame AUC.

Parts (``--part``, default all):

    rtf      one 25 fps 320x240 stream, 1 centre crop, random-init resnet3d at 224 and at 112 (run folder
             with the ucf scorer, W = 64): `watch` on the file as fast as it goes (snippets/s, real-time factor)
             against the offline baseline measured in the same process (extract_video + score_video on the
             same file: the ratio live / offline), then `watch --realtime` for latency p50 / p99.
    streams  N copies of the stream played --realtime at once (--behind drop) for N = 1, 2, 4, ...: the largest
             N with no dropped snippet is what one process sustains (to a factor of 2).
    auc      what the band costs in frame AUC: `bench/live_auc.py --bench synthetic` (W x L tables of a run
             trained offline and of one trained with --window 64, on a synthetic weak-label feature set).

    python bench/watch.py                       # all parts (~10 min on 2 shared CPU cores)
    python bench/watch.py --part rtf --seconds 10
    python bench/watch.py --part streams --sizes 112 --device cuda --max-streams 64

Random-init weights: throughput does not depend on the weights' values. Timings on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from score import make_video  # noqa: E402

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


def part_auc(args, tmp: Path) -> None:
    import live_auc

    live_auc.run(["synthetic"], epochs=args.epochs, device=args.device, ablations=False)


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
