"""`vadpipe extract` under torchrun: 1 process against N processes (sharded by RANK / WORLD_SIZE) on one machine.

Both runs get the same synthetic videos and the same cores: torch / OpenMP threads are
set so that processes x threads = --cores (1 process: all of them; N: cores / N each).
Each run writes its own output folder; the bench then checks that both folders hold the
same videos (each once, none lost, none left in an unmerged index part) with features
equal within --atol (of their largest value), and prints videos/s and snippets/s of each
and the ratio N / 1. A control run (1 process with a rank's share of the threads) shows
whether a feature difference comes from sharding or only from the thread count.

Two clocks: the wall time of the whole torchrun command (what a user waits for: process
start, imports and backbone build included), and the extract time each rank reports in
its `--json` summary (slowest rank; the work itself).

    python bench/extract_ranks.py                             # 8 videos x 64 frames, 160x120, 1 vs 2 processes
    python bench/extract_ranks.py --videos 16 --frames 160 --repeats 3
    python bench/extract_ranks.py --nproc 4 --cores 4 --resize-short 256 --crop-size 224
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.videos import random_frames, write_video  # noqa: E402
from vadpipe.features.store import INDEX_NAME  # noqa: E402


def run_extract(videos: Path, out: Path, logs: Path, nproc: int, threads: int, args) -> dict:
    """One torchrun of `vadpipe extract`; returns wall seconds and the ranks' `--json` summaries."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "--log-dir", str(logs), "--redirects", "3",  # each rank's stdout in its own file: JSON not interleaved
           "-m", "vadpipe", "extract", str(videos), "--out", str(out), "--json", "--quiet", "--random-init",
           "--device", "cpu", "--backbone", args.backbone, "--resize-short", str(args.resize_short),
           "--crop-size", str(args.crop_size), "--crops", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        logs_text = "\n".join(p.read_text()[-1500:] for p in sorted(logs.rglob("std*.log")))
        sys.exit(f"torchrun with {nproc} process(es) failed ({done.returncode}):\n{done.stderr[-1500:]}\n{logs_text}")
    ranks = [json.loads(p.read_text()) for p in sorted(logs.rglob("stdout.log"))]
    if len(ranks) != nproc:
        sys.exit(f"expected {nproc} rank summaries under {logs}, found {len(ranks)}")
    return {"wall": wall, "ranks": ranks}


def check_same(out_a: Path, out_b: Path, n_videos: int, rtol: float) -> tuple[int, float, float]:
    """Both stores hold the same n_videos ids, each once and ok, with features within rtol of their scale.

    The tolerance is relative to the largest |feature| (random-init features run to the thousands,
    where float32's own step is ~2e-4, and a different thread count sums in another order).

    Returns:
        (snippets, max absolute difference, that difference / largest |feature|).
    """
    problems = []
    recs = {}
    for out in (out_a, out_b):
        left = sorted(p.name for p in out.glob("index.part-*"))
        if left:
            problems.append(f"{out}: unmerged index parts {left}")
        # Raw lines, not read_index (which keeps the last record per id and would hide a duplicate).
        records = [json.loads(line) for line in (out / INDEX_NAME).read_text(encoding="utf-8").splitlines() if line]
        ids = [r["id"] for r in records]
        if len(ids) != len(set(ids)):
            problems.append(f"{out}: duplicated ids {sorted({i for i in ids if ids.count(i) > 1})}")
        bad = [r["id"] for r in records if r.get("status") != "ok"]
        if bad:
            problems.append(f"{out}: not ok: {bad}")
        recs[out] = {r["id"]: r for r in records}
    a, b = recs[out_a], recs[out_b]
    if set(a) != set(b) or len(a) != n_videos:
        problems.append(f"ids differ or lost: {len(a)} vs {len(b)} of {n_videos}; "
                        f"only in one: {sorted(set(a) ^ set(b))}")
    diff = scale = 0.0
    for vid in sorted(set(a) & set(b)):
        fa, fb = np.load(out_a / a[vid]["features"]), np.load(out_b / b[vid]["features"])
        if fa.shape != fb.shape:
            problems.append(f"{vid}: shapes {fa.shape} vs {fb.shape}")
            continue
        diff, scale = max(diff, float(np.abs(fa - fb).max())), max(scale, float(np.abs(fa).max()))
    if diff > rtol * scale:
        problems.append(f"features differ by up to {diff:.3g} = {diff / scale:.3g} of their largest value > {rtol:g}")
    if problems:
        sys.exit(f"outputs of {out_a.name} and {out_b.name} do not match:\n  " + "\n  ".join(problems))
    return sum(r["snippets"] for r in a.values()), diff, diff / scale if scale else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64, help="frames per video (25 fps)")
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--nproc", type=int, default=2, help="processes of the run set against 1 process")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="total threads for each run")
    parser.add_argument("--backbone", default="resnet3d")
    parser.add_argument("--resize-short", type=int, default=128)
    parser.add_argument("--crop-size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, alternating which goes first")
    parser.add_argument("--atol", type=float, default=1e-4,
                        help="largest feature difference allowed, as a fraction of the largest |feature|")
    parser.add_argument("--no-control", action="store_true",
                        help="skip the control run (1 process on cores / nproc threads)")
    args = parser.parse_args(argv)
    if args.cores % args.nproc:
        parser.error(f"--cores {args.cores} is not divisible by --nproc {args.nproc}")

    # (processes, threads each): the two runs compared, and a control with one process on one
    # process's share of the cores (same thread count as a rank: features should then be identical).
    share = args.cores // args.nproc
    load_before = os.getloadavg()[0]
    configs = [(1, args.cores), (args.nproc, share)] + ([] if args.no_control else [(1, share)])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.videos):
            write_video(tmp / "videos" / f"v{i:02d}.mp4", random_frames(args.frames, args.height, args.width, seed=i),
                        options={"preset": "veryfast", "crf": "23"})
        runs: dict[tuple[int, int], list[dict]] = {c: [] for c in configs}
        for r in range(args.repeats):
            for nproc, threads in (configs if r % 2 == 0 else configs[::-1]):  # alternate which goes first
                name = f"{nproc}x{threads}-{r}"
                runs[nproc, threads].append(run_extract(tmp / "videos", tmp / f"out-{name}", tmp / f"logs-{name}",
                                                        nproc, threads, args))
        base = tmp / f"out-1x{args.cores}-0"
        snippets, diff, rel = check_same(base, tmp / f"out-{args.nproc}x{share}-0", args.videos, args.atol)
        control = None if args.no_control else check_same(tmp / f"out-1x{share}-0", tmp / f"out-{args.nproc}x{share}-0",
                                                          args.videos, args.atol)
        for r in range(1, args.repeats):  # repeats must agree too (same seeded random-init backbone)
            for nproc, threads in configs:
                check_same(base, tmp / f"out-{nproc}x{threads}-{r}", args.videos, args.atol)

    print(f"input: {args.videos} H.264 videos of {args.frames} frames at {args.width}x{args.height} "
          f"= {snippets} snippets; backbone {args.backbone} (random init), resize {args.resize_short} -> crop "
          f"{args.crop_size}, 1 crop, cpu; {args.cores} cores; median of {args.repeats} run(s) each")
    print(f"machine load (1-min average) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on "
          f"{os.cpu_count()} cores (other processes skew both runs)")
    print(f"{'processes':>9} {'threads':>8} | {'wall s':>7} {'videos/s':>9} {'snippets/s':>11} | "
          f"{'extract s':>9} {'snippets/s':>11} | videos per rank")
    summary = {}
    for (nproc, threads), results in runs.items():
        wall = statistics.median(x["wall"] for x in results)
        work = statistics.median(max(rk["seconds"] for rk in x["ranks"]) for x in results)  # the slowest rank
        per_rank = "/".join(str(rk["done"]) for rk in sorted(results[0]["ranks"], key=lambda rk: rk["shard"]))
        summary[nproc, threads] = (wall, work)
        print(f"{nproc:>9} {threads:>8} | {wall:>7.2f} {args.videos / wall:>9.2f} {snippets / wall:>11.2f} | "
              f"{work:>9.2f} {snippets / work:>11.2f} | {per_rank}"
              f"{'   (control)' if (nproc, threads) == (1, share) and not args.no_control else ''}")
    (w1, x1), (wn, xn) = summary[1, args.cores], summary[args.nproc, share]
    print(f"ratio {args.nproc}-proc / 1-proc throughput: {w1 / wn:.3f} (wall clock), {x1 / xn:.3f} (extract time)")
    print(f"outputs: the same {args.videos} videos in both, each once, all ok; features differ by up to {diff:.2e} "
          f"= {rel:.1e} of their largest value (<= {args.atol:g})")
    if control is not None:
        print(f"control: 1 process x {share} thread(s) vs {args.nproc} x {share}: features differ by up to "
              f"{control[1]:.2e} (0 = sharding changes nothing; any difference above comes from the thread count)")


if __name__ == "__main__":
    main()
