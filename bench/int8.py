"""int8 on the CPU: OpenVINO int8 against OpenVINO fp32 and torch fp32, forward pass and feature cosine.

Per backbone, crop size and crop count, in one run: the backbone is quantized with NNCF
(vadpipe.engines.quantize, calibrated on snippets of one set of videos, every fourth
held out for its check; the quantized model is cached, so a second run skips that), then
torch fp32, OpenVINO fp32 and OpenVINO int8 take turns on the same preprocessed snippets of
*other* videos (the order alternating every repeat). It prints snippets/s of each, the
speed ratios of each repeat (median), and the cosine of int8 against torch fp32 features on
every timed clip (min, mean, 1st percentile) beside the check's own minimum.

The videos are synthetic scenes (bench/extract.py) unless ``--video`` names real footage,
which is then cut in two: the first half calibrates, the second half is timed and compared.
Backbone weights are random-initialised (no public checkpoint here): real weights may
quantize worse, which is what the check is for.

    python bench/int8.py --crop-size 64 --snippets 8 --repeats 2     # short: a few minutes on 2 busy cores
    # the issue's measurement (idle machine): three backbones at 224, 1 and 10 crops, 2 threads
    python bench/int8.py --backbone resnet3d,inception_i3d,i3d_r50 --crop-size 224 --crops 1,10 --threads 2
    python bench/int8.py --video bikes.mp4 --backbone resnet3d --crops 1   # calibrated and timed on real footage
    python bench/int8.py --backbone resnet3d --crop-size 64 --onnxruntime  # also ONNX Runtime fp32 and int8

``--onnxruntime`` also times ONNX Runtime on the export and on NNCF's int8 ONNX model
(quantized here on the same calibration clips, not cached): why vadpipe runs int8 on
OpenVINO only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.extract import _scene  # noqa: E402
from tests.helpers.videos import write_video  # noqa: E402
from vadpipe.backbones.preprocess import preprocess_snippets  # noqa: E402
from vadpipe.backbones.registry import build_backbone  # noqa: E402
from vadpipe.engines import runtimes  # noqa: E402
from vadpipe.engines.backbone import EngineBackbone  # noqa: E402
from vadpipe.engines.quantize import INT8_MIN_COSINE, cached_int8, cosines, int8_backbone, quantize_key  # noqa: E402
from vadpipe.video.decode import VideoReader  # noqa: E402
from vadpipe.video.snippets import iter_snippet_batches  # noqa: E402

ENGINES = ("torch fp32", "openvino fp32", "openvino int8")
ORT_ENGINES = ("onnxruntime fp32", "onnxruntime int8")


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet3d,inception_i3d,i3d_r50", help="one backbone or a comma list")
    parser.add_argument("--crop-size", type=_ints, default=[224], help="crop side, or several: 224,112")
    parser.add_argument("--crops", type=_ints, default=[1], help="1, 5 or 10, or several: 1,10")
    parser.add_argument("--batch", type=int, default=4, help="clips per forward pass (snippets x crops), as timed")
    parser.add_argument("--calibrate", type=int, default=16, help="calibration snippets (every fourth checks)")
    parser.add_argument("--snippets", type=int, default=24, help="snippets timed and compared per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="turns of the three engines")
    parser.add_argument("--threads", type=int, default=None, help="threads of torch and the engines (default torch's)")
    parser.add_argument("--video", type=Path, default=None, help="real footage (default: synthetic scenes)")
    parser.add_argument("--onnxruntime", action="store_true", help="also ONNX Runtime fp32 and NNCF int8 (ONNX)")
    args = parser.parse_args(argv)

    runtimes.require_int8()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        calibration_videos, timed_videos = _videos(args, Path(tmp))
        for name in args.backbone.split(","):
            model = build_backbone(name, random_init=True).eval()
            for crop in args.crop_size:
                for crops in args.crops:
                    rows.append(measure(args, model, calibration_videos, timed_videos, crop, crops))
    _print_table(rows, args)


def _videos(args, tmp: Path) -> tuple[list[Path], list[Path]]:
    """(calibration videos, timed videos): never the same frames."""
    if args.video is not None:
        return [args.video], [args.video]  # halves of one file: see _snippets(..., half=)
    frames = 16 * max(args.calibrate, args.snippets) // 2 + 16
    paths = [write_video(tmp / f"v{i}.mp4", _scene(frames, 240, 320, seed=i), options={"preset": "veryfast",
                                                                                      "crf": "23"})
             for i in range(4)]
    return paths[:2], paths[2:]


def _snippets(paths: list[Path], prep, crops: int, crop: int, count: int, half: int | None) -> torch.Tensor:
    """Up to ``count`` preprocessed snippets ``(S, C, 3, 16, h, w)`` from ``paths``, in turn (``half``: 0 or 1 of
    a single real file, split at its middle snippet)."""
    per_video = []
    for path in paths:
        with VideoReader(path) as reader:
            x = torch.cat([preprocess_snippets(torch.from_numpy(s), prep, crops, resize_short=round(crop * 8 / 7),
                                               crop_size=crop) for s in iter_snippet_batches(reader, batch_size=8)])
        if half is not None:
            x = x[: len(x) // 2] if half == 0 else x[len(x) // 2:]
        per_video.append(x)  # (S_v, C, 3, 16, h, w)
    interleaved = [v[i] for i in range(max(len(v) for v in per_video)) for v in per_video if i < len(v)]
    if len(interleaved) < count:
        print(f"note: {len(interleaved)} snippets available, {count} asked", file=sys.stderr)
    return torch.stack(interleaved[:count])  # (S, C, 3, 16, h, w)


def measure(args, model, calibration_videos, timed_videos, crop: int, crops: int) -> dict:
    """One configuration: quantize (or find it cached), then the three engines in turns on the same clips."""
    prep, real = model.spec.preprocessing, args.video is not None
    calibration = _snippets(calibration_videos, prep, crops, crop, args.calibrate, 0 if real else None)
    timed = _snippets(timed_videos, prep, crops, crop, args.snippets, 1 if real else None)
    threads = args.threads or torch.get_num_threads()

    was_cached = cached_int8(quantize_key(model, calibration)) is not None
    start = time.perf_counter()
    outcome = int8_backbone(model, calibration, threads=threads)
    quantize_s = time.perf_counter() - start
    if outcome.precision != "int8":
        print(f"[{model.spec.name} {crop}px {crops} crop(s)] {outcome.note}")
        return {"name": model.spec.name, "crop": crop, "crops": crops, "refused": outcome.note}
    runs = {"torch fp32": model, "openvino fp32": EngineBackbone(model, "openvino", threads),
            "openvino int8": outcome.backbone}
    if args.onnxruntime:
        runs.update(_onnxruntime_runs(model, calibration, threads))
    labels = tuple(runs)
    clips = timed.flatten(0, 1)  # (S * C, 3, 16, h, w)
    batches = list(clips.split(args.batch))

    features = {}
    with torch.inference_mode():  # warm-up (and the OpenVINO fp32 export, untimed), and the features compared
        for label, run in runs.items():
            features[label] = torch.cat([run(b) for b in batches]).numpy()  # (S * C, D)
    speeds = {label: [] for label in labels}
    for r in range(args.repeats):  # alternating, so every engine sees the same machine
        for label in (labels if r % 2 == 0 else labels[::-1]):
            start = time.perf_counter()
            with torch.inference_mode():
                for b in batches:
                    runs[label](b)
            speeds[label].append(len(timed) / (time.perf_counter() - start))  # snippets/s

    cos = cosines(features["openvino int8"], features["torch fp32"])  # (S * C,)
    if args.onnxruntime:
        ort = cosines(features["onnxruntime int8"], features["torch fp32"])
        print(f"[{model.spec.name} {crop}px {crops} crop(s)] ONNX Runtime int8 / fp32 speed "
              f"{_ratio({'speeds': speeds}, 'onnxruntime int8', 'onnxruntime fp32'):.2f}x (median), "
              f"int8 / OpenVINO int8 {_ratio({'speeds': speeds}, 'onnxruntime int8', 'openvino int8'):.2f}x; "
              f"its cosine against torch fp32: min {ort.min():.6f}")
    row = {"name": model.spec.name, "crop": crop, "crops": crops, "speeds": speeds,
           "cos": (float(cos.min()), float(cos.mean()), float(np.percentile(cos, 1))), "check": outcome.check,
           "quantize_s": None if was_cached else quantize_s, "clips": len(cos)}
    print(f"[{row['name']} {crop}px {crops} crop(s)] snippets/s best of {args.repeats}: "
          + ", ".join(f"{label} {max(v):.2f}" for label, v in speeds.items())
          + f"; int8 vs torch fp32 cosine on {len(cos)} timed clips: min {row['cos'][0]:.6f}, mean "
            f"{row['cos'][1]:.6f}, p1 {row['cos'][2]:.6f}; check: {outcome.check.describe()}; quantized "
          + ("earlier (cached)" if was_cached else f"(export when new, quantization, check) in {quantize_s:.0f} s"))
    return row


def _onnxruntime_runs(model, calibration: torch.Tensor, threads: int) -> dict:
    """ONNX Runtime on the fp32 export and on NNCF's int8 ONNX model of it (the same calibration clips)."""
    import onnx

    from vadpipe.engines.export import exported_onnx
    from vadpipe.engines.quantize import import_nncf, quiet, split_snippets

    path = exported_onnx(model, tuple(calibration.shape[2:]))
    nncf = import_nncf()
    calibrate, _ = split_snippets(calibration.shape[0])
    items = [{"clips": c[None].numpy()} for c in calibration[calibrate].flatten(0, 1)]  # (1, 3, 16, h, w) each
    with quiet():
        quantized = nncf.quantize(onnx.load(str(path)), nncf.Dataset(items), subset_size=len(items))
    with tempfile.TemporaryDirectory() as tmp:  # ONNX Runtime reads the file into its session at load
        onnx.save(quantized, str(Path(tmp) / "int8.onnx"))
        fp32, int8 = (runtimes.load_engine("onnxruntime", p, threads) for p in (path, Path(tmp) / "int8.onnx"))
    return {label: (lambda clips, run=run: torch.from_numpy(run(np.ascontiguousarray(clips.numpy()))))
            for label, run in zip(ORT_ENGINES, (fp32, int8), strict=True)}


def _ratio(row: dict, num: str, den: str) -> float:
    """Median over repeats of num speed / den speed in the same repeat."""
    return statistics.median(a / b for a, b in zip(row["speeds"][num], row["speeds"][den], strict=True))


def _print_table(rows: list[dict], args) -> None:
    print(f"\nthreads {args.threads or torch.get_num_threads()}, batch {args.batch} clips, {args.calibrate} "
          f"calibration snippets ({'halves of ' + str(args.video) if args.video else 'synthetic scenes'}), "
          f"{args.snippets} timed snippets, threshold {INT8_MIN_COSINE}, random-init weights")
    print("| backbone | crop | crops | torch fp32 snippets/s | OV fp32 | OV int8 | int8 / OV fp32 | int8 / torch "
          "| OV fp32 / torch | cosine min | mean | p1 | check min |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "refused" in r:
            print(f"| {r['name']} | {r['crop']} | {r['crops']} | refused: {r['refused']} |")
            continue
        best = {label: max(v) for label, v in r["speeds"].items()}
        print(f"| {r['name']} | {r['crop']} | {r['crops']} | {best['torch fp32']:.2f} | {best['openvino fp32']:.2f} "
              f"| {best['openvino int8']:.2f} | {_ratio(r, 'openvino int8', 'openvino fp32'):.2f}x "
              f"| {_ratio(r, 'openvino int8', 'torch fp32'):.2f}x | {_ratio(r, 'openvino fp32', 'torch fp32'):.2f}x "
              f"| {r['cos'][0]:.5f} | {r['cos'][1]:.5f} | {r['cos'][2]:.5f} | {r['check'].min_cosine:.5f} |")
    print(f"(ratios: median over {args.repeats} repeats of one engine's speed / another's in the same repeat; "
          "cosine: int8 against torch fp32 on every timed clip)")


if __name__ == "__main__":
    main()
