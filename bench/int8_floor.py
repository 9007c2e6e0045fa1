"""The int8 speed floor: `vadpipe extract` end to end on real footage, int8 against fp32, fresh processes.

What a user waits for: each run is a whole `vadpipe extract` command in its own process
(start-up, decoding, preprocessing, the forward passes, writing), on bikes.mp4 looped to
750 frames (bench/footage.py; 47 snippets) by default. The engines take turns, the order
reversed every repeat, after one untimed run of each that pays for what is cached (the
ONNX export, the int8 quantization). Printed: wall seconds per run, the extract's own
``seconds``, and per repeat the ratio of each engine's wall time to the others' (median).

    python bench/int8_floor.py                                  # resnet3d, 1 crop, 224 px: the issue's floor
    python bench/int8_floor.py --engines openvino,openvino:int8 --repeats 5
    python bench/int8_floor.py --backbone inception_i3d --crops 10 --video my.mp4

An engine is ``torch``, ``openvino`` or ``onnxruntime`` (fp32), or ``openvino:int8``. The
backbone is random-initialised (``--random-init``: no weights here), which does not change
its speed; int8 calibrates on the video itself, as `extract --precision int8` does.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.footage import DEFAULT_CACHE, bikes_looped  # noqa: E402


def extract_once(video_dir: Path, out: Path, engine: str, args, home: Path) -> dict:
    """One `vadpipe extract` in a fresh process: wall seconds and its JSON summary."""
    name, _, precision = engine.partition(":")
    cmd = [sys.executable, "-m", "vadpipe", "extract", str(video_dir), "--out", str(out), "--backbone", args.backbone,
           "--random-init", "--crops", str(args.crops), "--device", "cpu", "--engine", name,
           "--precision", precision or "fp32", "--overwrite", "--json"]
    if args.crop_size:
        cmd += ["--crop-size", str(args.crop_size), "--resize-short", str(round(args.crop_size * 8 / 7))]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "VADPIPE_HOME": str(home)})
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    summary = json.loads(done.stdout)
    if precision == "int8" and summary.get("precision") != "int8":
        sys.exit(f"int8 was refused: {done.stderr.strip()[-1000:]}")
    return {"wall": wall, "seconds": summary.get("seconds"), "summary": summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=None, help="default: bikes.mp4 looped to 750 frames")
    parser.add_argument("--backbone", default="resnet3d")
    parser.add_argument("--crops", type=int, default=1)
    parser.add_argument("--crop-size", type=int, default=None, help="default: the backbone's (224)")
    parser.add_argument("--engines", default="torch,openvino,openvino:int8", help="comma list (engine[:int8])")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--home", type=Path, default=DEFAULT_CACHE / "home",
                        help="VADPIPE_HOME of the runs (keeps the export and the int8 model between runs)")
    args = parser.parse_args(argv)

    video = args.video or bikes_looped(3)
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        videos.mkdir()
        (videos / video.name).symlink_to(video.resolve())
        for engine in engines:  # untimed: exports and quantizes once, so every timed run finds them cached
            first = extract_once(videos, Path(tmp) / "warm", engine, args, args.home)
            print(f"warm-up {engine}: {first['wall']:.1f} s", flush=True)
        runs = {e: [] for e in engines}
        for r in range(args.repeats):
            for engine in engines if r % 2 == 0 else engines[::-1]:
                runs[engine].append(extract_once(videos, Path(tmp) / f"out-{r}", engine, args, args.home))
                run = runs[engine][-1]
                print(f"repeat {r} {engine}: wall {run['wall']:.1f} s, extract's seconds {run['seconds']}", flush=True)
    summary = runs[engines[-1]][-1]["summary"]
    print(f"\n{video.name}: {summary.get('snippets', '?')} snippets, {args.backbone}, {args.crops} crop(s), "
          f"{args.repeats} repeats, {os.cpu_count()} CPUs; int8 check {summary.get('int8_check')}")
    print("| engine | wall s (median) | extract's seconds (median) | "
          + " | ".join(f"wall vs {e}" for e in engines) + " |")
    print("|---|---:|---:|" + "---:|" * len(engines))
    for e in engines:
        ratios = [statistics.median(b["wall"] / a["wall"] for a, b in zip(runs[e], runs[base], strict=True))
                  for base in engines]
        seconds = [r["seconds"] for r in runs[e] if r["seconds"] is not None]
        print(f"| {e} | {statistics.median(r['wall'] for r in runs[e]):.1f} | "
              f"{statistics.median(seconds) if seconds else float('nan'):.1f} | "
              + " | ".join(f"{x:.2f}x" for x in ratios) + " |")
    print("(wall vs X: X's wall time / this engine's, per repeat, median: above 1 is faster than X)")


if __name__ == "__main__":
    main()
