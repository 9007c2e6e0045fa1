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
    # rtf and streams with another engine or precision (int8: OpenVINO, quantized on the synthetic stream)
    python bench/watch.py --part rtf --engine openvino
    python bench/watch.py --part streams --engine openvino --precision int8
    python bench/watch.py --part rtf --sizes 112 --seconds 4 --engine openvino --precision int8   # short

``--engine`` / ``--precision`` go into the ForwardOptions of `watch` and of the offline baseline
alike (as `vadpipe watch --engine E --precision P`). int8 is calibrated on the synthetic
video itself (``calibrate``, the same for every stream count, so it is quantized once and
then found cached in $VADPIPE_HOME/engines; the offline baseline's first run pays for it,
untimed). Each line says the engine and precision that ran, and int8's check min cosine
(the run's spec says fp32 features; watch accepts int8 for it with a note, as score does).

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
from vadpipe.core.forward import PRECISION_NAMES, ForwardOptions  # noqa: E402
from vadpipe.engines import ENGINES  # noqa: E402
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


def forward_options(args, video: Path, batch_size: int | None = None) -> ForwardOptions:
    """The backbone settings of every watch and offline run: device, engine, precision; int8 calibrates on
    ``video`` (one calibration set whatever the stream count, so one quantized model)."""
    return ForwardOptions(device=str(args.device), engine=args.engine, precision=args.precision,
                          batch_size=batch_size, calibrate=(str(video),))


def watch(video: Path, run: Path, forward: ForwardOptions, copies: int = 1, **options) -> dict:
    sources = parse_sources([str(video)] * copies)
    with contextlib.redirect_stdout(io.StringIO()):
        return run_watch(sources, run, forward=forward, **options)


def offline_snippets_per_s(video: Path, run: Path, forward: ForwardOptions) -> tuple[float, str]:
    """(snippets/s of extract_video + score_video, what ran: engine, precision, int8's check)."""
    scorer, config = load_run(run, forward.device)
    session = open_session(config.features, forward)  # int8: quantized here (or found cached), before the clock
    start = time.perf_counter()
    feats, _ = extract_video(video, session)
    scorer.score_video(torch.from_numpy(feats))
    return len(feats) / (time.perf_counter() - start), _ran(session.engine, session.precision, session.int8_check)


def _ran(engine: str, precision: str, int8_check: dict | None) -> str:
    check = f", int8 check min cosine {int8_check['min_cosine']:.6f}" if int8_check else ""
    return f"engine {engine}, precision {precision}{check}"


def _ran_in(summary: dict) -> str:
    model = summary["model"]
    return _ran(model["engine"], model["precision"], model["int8_check"])


def part_rtf(args, tmp: Path, video: Path) -> None:
    for crop in args.sizes:
        run = make_run(tmp / f"run{crop}", crop)
        base, ran = offline_snippets_per_s(video, run, forward_options(args, video))
        print(f"[{crop}] offline ran with {ran}")
        summary = watch(video, run, forward_options(args, video, args.batch_size))
        fast = summary["streams"][0]
        print(f"[{crop}] offline extract+score: {base:.2f} snippets/s; watch (as fast as it goes, {_ran_in(summary)}): "
              f"{fast['snippets_per_s']} snippets/s = {fast['snippets_per_s'] / base:.2f}x offline; "
              f"real-time factor {fast['real_time_factor']} (25 fps = 1.5625 snippets/s)")
        live = watch(video, run, forward_options(args, video, 1), realtime=True)["streams"][0]
        print(f"[{crop}] watch --realtime: latency p50 {live['latency_ms_p50']} ms, p99 {live['latency_ms_p99']} ms "
              f"(after the snippet's last frame), dropped {live['dropped_snippets']} of "
              f"{live['dropped_snippets'] + live['snippets_scored']} snippets")


def part_streams(args, tmp: Path, video: Path) -> None:
    for crop in args.sizes:
        run = make_run(tmp / f"run{crop}", crop)
        best, n = 0, 1
        while n <= args.max_streams:
            summary = watch(video, run, forward_options(args, video, max(1, n)), copies=n, realtime=True)
            dropped = sum(s["dropped_snippets"] for s in summary["streams"])
            p99 = max(s["latency_ms_p99"] or 0 for s in summary["streams"])
            print(f"[{crop}] {n} stream(s) at 25 fps: dropped {dropped} snippets, worst latency p99 {p99:.0f} ms "
                  f"({_ran_in(summary)})")
            if dropped:
                break
            best, n = n, 2 * n
        limit = f" (not {n})" if n <= args.max_streams else ""
        print(f"[{crop}] one process sustains {best} stream(s){limit} of 25 fps 320x240 on {args.device}, engine "
              f"{args.engine}, precision {args.precision}")


def part_auc(args, tmp: Path) -> None:
    import live_auc

    live_auc.run(["synthetic"], epochs=args.epochs, device=args.device, ablations=False)


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["rtf", "streams", "auc", "all"], default="all")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", default="torch", choices=ENGINES,
                        help="backbone engine of the rtf and streams parts (as `vadpipe watch --engine`)")
    parser.add_argument("--precision", default="auto", choices=PRECISION_NAMES,
                        help="backbone precision of the rtf and streams parts; int8 calibrates on the synthetic video")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic stream")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 112], choices=sorted(SIZES))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-streams", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, engine {args.engine}, "
          f"precision {args.precision}")
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
