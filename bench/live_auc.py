"""What live scoring costs in frame AUC: W x L tables on two synthetic weak-label benchmarks, against offline.

Benchmarks (64-d features, smooth random background, an event adds 3 along one direction; 80 training and
40 held-out test videos of 100-400 snippets; fixed seeds):

    synthetic  one event of 6-30 snippets per abnormal video (the set `bench/watch.py --part auc` used)
    abrupt     1-3 events of 2-8 snippets per abnormal video: short, with step onsets

Runs, each trained on the benchmark's training set with `train_run` (`vadpipe train`'s library entry; ucf preset,
--hidden-dim 32, --batch-size 16, --epochs E):

    offline    no band (the paper's model)
    live       --window 64: the prior centred under the band, the causal conv started at its newest tap, L = 0
    --ablations adds: live with the prior cut to the band (band_prior=band), live with the authors' Xavier conv
               (conv_init=xavier), both (what --window 64 trained before), live with --seq-len 400 (no bag
               subsampling), and live trained at L = 1, 2, 4, 8

Printed per benchmark: the W x L table (W in 16, 32, 64, 128; L in 0, 1, 2, 4, 8) of the offline run and of
the live run, each cell the frame AUC and its difference to the offline run scored offline; then one row per
trained run at its own band. Latency of a lookahead: L x 16 frames (L = 4: 2.56 s at 25 fps).

    python bench/live_auc.py                               # both benchmarks, ~10 min on 2 shared CPU cores
    python bench/live_auc.py --bench abrupt --ablations    # ~25 min
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vadpipe.eval.evaluate import evaluate  # noqa: E402
from vadpipe.eval.groundtruth import load_ground_truth  # noqa: E402
from vadpipe.features.feature_set import read_feature_set  # noqa: E402
from vadpipe.model.checkpoint import load_run  # noqa: E402
from vadpipe.train.run import TrainRequest, train_run  # noqa: E402

WINDOWS = (16, 32, 64, 128)
LOOKAHEADS = (0, 1, 2, 4, 8)
BENCHMARKS = {  # events per abnormal video (range, end excluded), snippets per event (range, end excluded)
    "synthetic": dict(events=(1, 2), length=(6, 30)),
    "abrupt": dict(events=(1, 4), length=(2, 9)),
}
COMMON = dict(hidden_dim=32, batch_size=16)
LIVE = dict(window=64)
ABLATIONS = {
    "live, prior cut to the band": dict(window=64, band_prior="band"),
    "live, Xavier conv": dict(window=64, conv_init="xavier"),
    "live, both (--window 64 before)": dict(window=64, band_prior="band", conv_init="xavier"),
    "live, --seq-len 400": dict(window=64, seq_len=400),
    **{f"live trained at L = {la}": dict(window=64, lookahead=la) for la in (1, 2, 4, 8)},
}


def write_features(root: Path, n_abnormal: int, n_normal: int, seed: int, *, events: tuple[int, int],
                   length: tuple[int, int], dim: int = 64) -> None:
    """A store of (T, 1, dim) features under ``root`` and ``root/gt.txt`` (XD style: abnormal videos' frame
    intervals, half-open). Smooth random background; +3 along one fixed direction inside each event."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(7).normal(size=dim)
    direction *= 2 / np.linalg.norm(direction) * np.sqrt(dim) / 8
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "index.jsonl", "w") as index, open(root / "gt.txt", "w") as gt:
        for i in range(n_abnormal + n_normal):
            t = int(rng.integers(100, 400))
            x = np.zeros((t, dim), np.float32)
            state = rng.normal(size=dim)
            for j in range(t):
                state = 0.8 * state + 0.6 * rng.normal(size=dim)
                x[j] = state
            spans = []
            # one event: no draw for the count, so that `synthetic` is the set bench/watch.py drew
            count = (1 if events == (1, 2) else int(rng.integers(*events))) if i < n_abnormal else 0
            for _ in range(count):
                n = int(rng.integers(*length))
                start = int(rng.integers(0, t - n))
                spans.append((start, start + n))
                x[start : start + n] += 3.0 * direction
            vid = f"v{i:03d}"
            np.save(root / f"{vid}.npy", x[:, None, :])
            index.write(json.dumps({"video": f"{vid}.mp4", "id": vid, "features": f"{vid}.npy", "frames": 16 * t,
                                    "fps": 25.0, "snippets": t, "crops": 1, "dim": dim, "backbone": "synthetic",
                                    "tail": "pad", "status": "ok", "label": int(bool(spans))}) + "\n")
            if spans:
                gt.write(f"{vid}.mp4 " + " ".join(f"{16 * a} {16 * b}" for a, b in spans) + "\n")


class Bench:
    """One benchmark's data, its runs and their frame AUC at any band."""

    def __init__(self, root: Path, name: str, epochs: int, device: str):
        self.root, self.epochs, self.device = root / name, epochs, device
        write_features(self.root / "train", 40, 40, seed=1, **BENCHMARKS[name])
        write_features(self.root / "test", 20, 20, seed=2, **BENCHMARKS[name])
        test = read_feature_set(self.root / "test")
        self.videos = test.videos
        self.gt = load_ground_truth(self.root / "test" / "gt.txt",
                                    video_order=[(v.id, v.frame_count()) for v in self.videos])

    def train(self, name: str, settings: dict) -> Path:
        out = self.root / "runs" / name.replace(" ", "_").replace(",", "").replace("=", "")
        started = time.perf_counter()
        train_run(TrainRequest(features=self.root / "train", out=out, preset="ucf", device=self.device,
                               settings={**COMMON, "epochs": self.epochs, **settings}))
        print(f"  trained {name!r} in {time.perf_counter() - started:.0f} s", flush=True)
        return out

    def auc(self, run: Path, band: tuple[int, int] | None = None) -> float:
        """Frame AUC of ``run`` on the test set, with its own band or ``band`` (W, L)."""
        scorer, _ = load_run(run, self.device)
        if band is not None:
            scorer.set_band(*band)
        return evaluate(scorer, self.videos, self.gt).metrics["auc"]


def print_table(title: str, bench: Bench, run: Path, offline: float) -> dict:
    cells = {(w, la): bench.auc(run, (w, la)) for w in WINDOWS for la in LOOKAHEADS}
    print(f"\n{title}: frame AUC (difference to offline {offline:.4f})")
    print("| W \\ L | " + " | ".join(f"L = {la}" for la in LOOKAHEADS) + " |")
    print("|---|" + "---:|" * len(LOOKAHEADS))
    for w in WINDOWS:
        print(f"| {w} | " + " | ".join(f"{cells[w, la]:.4f} ({cells[w, la] - offline:+.4f})" for la in LOOKAHEADS)
              + " |")
    return cells


def run(benchmarks, *, epochs: int, device: str, ablations: bool) -> None:
    """Train and measure each benchmark; prints everything."""
    with tempfile.TemporaryDirectory() as folder:
        for name in benchmarks:
            print(f"\n## {name} ({epochs} epochs)", flush=True)
            bench = Bench(Path(folder), name, epochs, device)
            offline_run = bench.train("offline", {})
            live_run = bench.train("live", LIVE)
            offline = bench.auc(offline_run)
            print_table(f"[{name}] offline run at W x L", bench, offline_run, offline)
            print_table(f"[{name}] live run (--window 64) at W x L", bench, live_run, offline)
            rows = {"offline": offline_run, "live": live_run}
            if ablations:
                rows.update({label: bench.train(label, settings) for label, settings in ABLATIONS.items()})
            print(f"\n[{name}] each run at its own band, and at W = 64, L = 0")
            print("| run | own band | frame AUC, own band | vs offline | at W = 64, L = 0 | vs offline |")
            print("|---|---|---:|---:|---:|---:|")
            for label, path in rows.items():
                scorer, _ = load_run(path)
                own = bench.auc(path)
                zero = bench.auc(path, (64, 0))
                band = f"W = {scorer.cfg.window}, L = {scorer.cfg.lookahead}" if scorer.cfg.window else "none"
                print(f"| {label} | {band} | {own:.4f} | {own - offline:+.4f} | {zero:.4f} | {zero - offline:+.4f} |",
                      flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", choices=[*BENCHMARKS, "both"], default="both")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ablations", action="store_true", help="also train the ablation runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    run(list(BENCHMARKS) if args.bench == "both" else [args.bench], epochs=args.epochs, device=args.device,
        ablations=args.ablations)


if __name__ == "__main__":
    main()
