"""End-to-end `vadpipe extract` throughput against the backbone's own forward throughput.

Both are measured in one run on the same snippets: first the backbone alone on snippets
that were decoded and preprocessed beforehand (its ceiling), then the whole pipeline
(decode -> snippets -> preprocess -> backbone) on the video files. The ratio says how
much of the backbone's speed the pipeline keeps; decoding and preprocessing overlap with
the forward passes, so it should be close to 1.

    python bench/extract.py                      # small defaults, ~1 minute on 2 idle CPU cores
    python bench/extract.py --resize-short 128 --crop-size 112  # reduced size: decoding weighs more
    python bench/extract.py --crops 10 --device cuda --videos 20 --frames 480
    python bench/extract.py --precision bf16     # also prints how far bf16 features are from fp32 ones
    # CPU engines against torch, alternating on the same snippets; lists give one table row per combination
    python bench/extract.py --engines torch,onnxruntime,openvino --backbone resnet3d,inception_i3d,i3d_r50 \
        --crop-size 224,112 --crops 1,10 --threads 2
    # int8 (OpenVINO + NNCF) beside fp32: ENGINE:PRECISION, a plain engine takes --precision
    python bench/extract.py --engines torch,openvino,openvino:int8 --crops 1,10 --threads 2
    python bench/extract.py --engines torch,openvino,openvino:int8 --crop-size 64 --videos 2 --frames 64  # short

An ``openvino:int8`` session is quantized as `vadpipe extract --precision int8` does it
(vadpipe.session.int8.use_int8), calibrated on the bench's own videos, before anything is
timed (cached in $VADPIPE_HOME/engines, so a second run skips it). It prints the check's
min cosine (int8 against OpenVINO fp32 on the held-out calibration snippets) and the
cosine of its features against the baseline's on the first batch. The bench's videos are
both calibrated on and timed, so that batch is among the calibration snippets: the check's
figure is the one on snippets the quantizer did not see. When the check refuses int8, the
session runs fp32 and the line says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.videos import write_video  # noqa: E402
from vadpipe.backbones.registry import build_backbone  # noqa: E402
from vadpipe.core.feature_spec import FeatureSpec  # noqa: E402
from vadpipe.core.forward import ForwardOptions  # noqa: E402
from vadpipe.devices import resolve_device  # noqa: E402
from vadpipe.engines import ENGINES  # noqa: E402
from vadpipe.engines.quantize import cosines  # noqa: E402
from vadpipe.features.extract import default_batch_size, default_workers, extract_videos  # noqa: E402
from vadpipe.observers import Collector  # noqa: E402
from vadpipe.session.backbone import BackboneSession  # noqa: E402
from vadpipe.session.precision import BF16_MIN_COSINE, PRECISIONS, compare_to_fp32  # noqa: E402
from vadpipe.video.decode import VideoReader  # noqa: E402
from vadpipe.video.snippets import iter_snippet_batches  # noqa: E402


def _scene(n: int, height: int, width: int, seed: int) -> np.ndarray:
    """A textured background with a moving bright square and noise (compresses like real footage)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    background = np.repeat(np.repeat(coarse, 16, 0), 16, 1)[:height, :width]
    frames = np.repeat(background[None], n, axis=0)
    for f in range(n):
        x = (4 * f) % (width - 40)
        frames[f, height // 3 : height // 3 + 40, x : x + 40] = 240
    noise = rng.integers(0, 8, size=frames.shape, dtype=np.uint8)
    return frames + noise


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


@dataclasses.dataclass(frozen=True)
class EngineRun:
    """One entry of an ``--engines`` list: ``openvino:int8`` is engine openvino at precision int8."""

    label: str  # as written in the list
    engine: str
    precision: str


def parse_engines(text: str, default_precision: str = "fp32") -> list[EngineRun]:
    """``torch,openvino,openvino:int8`` -> one :class:`EngineRun` each (no ``:precision``: ``default_precision``).

    Raises:
        SystemExit: an unknown engine or precision, or an entry given twice.
    """
    runs = []
    for label in text.split(","):
        engine, _, precision = label.partition(":")
        precision = precision or default_precision
        if engine not in ENGINES or precision not in PRECISIONS:
            sys.exit(f"--engines {label}: write ENGINE[:PRECISION], ENGINE one of {', '.join(ENGINES)} and "
                     f"PRECISION one of {', '.join(PRECISIONS)}")
        runs.append(EngineRun(label, engine, precision))
    if len({r.label for r in runs}) != len(runs):
        sys.exit(f"--engines {text}: an entry is given twice")
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet3d", help="a backbone, or several: resnet3d,inception_i3d")
    parser.add_argument("--crops", type=_ints, default=[1], help="1, 5 or 10, or several: 1,10")
    parser.add_argument("--resize-short", type=int, default=None, help="default: crop size x 8/7 (256 for 224)")
    parser.add_argument("--crop-size", type=_ints, default=[224], help="crop side, or several: 224,112")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=96, help="frames per video (25 fps)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=None, help="snippets per forward (default as extract)")
    parser.add_argument("--workers", type=int, default=None, help="decode threads (default as extract)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="forward precision, as `vadpipe extract --precision` (auto: bf16 on CUDA, fp32 on a CPU)")
    parser.add_argument("--engines", default="torch",
                        help=f"engines to compare, the first is the baseline: a comma list of "
                        f"{', '.join(ENGINES[1:])}, each with an optional :PRECISION (openvino:int8; "
                        "default: --precision)")
    parser.add_argument("--forward-only", action="store_true", help="skip the end-to-end extract runs")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's); 1 is steadier on a busy machine")
    parser.add_argument("--repeats", type=int, default=2, help="measure both this many times")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    engines = parse_engines(args.engines, args.precision)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [write_video(Path(tmp) / f"v{i}.mp4", _scene(args.frames, args.height, args.width, i),
                             options={"preset": "veryfast", "crf": "23"}) for i in range(args.videos)]
        for backbone in args.backbone.split(","):
            for crop in args.crop_size:
                for crops in args.crops:
                    rows += measure(args, paths, backbone, crop, crops, engines)
    if len(rows) > 1 or [e.label for e in engines] != ["torch"]:
        _print_table(rows, engines[0].label, args)


def measure(args, paths: list[Path], backbone: str, crop: int, crops: int, runs: list[EngineRun]) -> list[dict]:
    """Forward-only and end-to-end snippets/s of each engine on the same snippets, alternating; one row each."""
    device = resolve_device(args.device)
    batch = args.batch_size or default_batch_size(crops, device)
    workers = args.workers or default_workers(device)
    model = build_backbone(backbone, allow_random=True, device=device)
    sizes = dict(resize_short=args.resize_short or round(crop * 8 / 7), crop_size=crop)
    spec = FeatureSpec.resolve(model.spec.name, crops=crops, **sizes)
    # The sessions extract opens, once per engine (a CPU engine exports the backbone here, int8 quantizes: untimed).
    runners = {r.label: _session(model, spec, r, ForwardOptions(batch_size=batch, device=str(device), workers=workers),
                                 paths) for r in runs}
    engines = list(runners)

    per_video = []  # decoded and preprocessed beforehand: what the backbone alone is timed on
    for path in paths:
        with VideoReader(path) as reader:
            per_video.append([runners[engines[0]].preprocess(torch.from_numpy(snippets))
                              for snippets in iter_snippet_batches(reader, batch_size=batch)])
    n_snippets = sum(b.shape[0] for batches in per_video for b in batches)
    # Full batches across videos, as extract packs them (the last one zero-padded to B, as extract pads it).
    all_batches = list(torch.cat([x for batches in per_video for x in batches]).split(batch))  # (<=B, C, ...)
    short = all_batches[-1]
    all_batches[-1] = torch.cat([short, short.new_zeros((batch - short.shape[0], *short.shape[1:]))])  # (B, C, ...)

    def backbone_only(runner, batches) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for x in batches:
                runner(x.to(device, non_blocking=True)).cpu()  # (S, C, D)
        return time.perf_counter() - start

    def end_to_end(engine: str) -> float:
        start = time.perf_counter()
        for result in extract_videos(paths, runners[engine]):
            assert result.error is None, result.error
        return time.perf_counter() - start

    with torch.inference_mode():  # warm-up (allocator, kernel choice, the engines' export) and agreement
        first = torch.cat(per_video[0])[:batch]  # (B, C, 3, 16, h, w)
        outputs = {e: runner(first).double() for e, runner in runners.items()}  # (B, C, D)
    forward = {e: [] for e in engines}
    pipeline = {e: [] for e in engines}
    # Alternating the order every repeat, so that every engine sees the same machine (other processes, clocks).
    for r in range(args.repeats):
        for e in (engines if r % 2 == 0 else engines[::-1]):
            forward[e].append(n_snippets / backbone_only(runners[e], all_batches))
            if not args.forward_only:
                pipeline[e].append(n_snippets / end_to_end(e))
    check = None
    if runners[engines[0]].precision == "bf16":  # the same snippets at fp32 and at bf16 autocast
        check = compare_to_fp32(model, torch.cat(per_video[0]), "bf16")

    base = engines[0]
    print(f"settings: backbone {backbone} (random init), crops {crops}, resize {sizes['resize_short']} -> crop "
          f"{crop}, batch {batch} snippets, {workers} decode thread(s), device {device}, torch threads "
          f"{torch.get_num_threads()}, precision {runners[base].precision}")
    print(f"input: {len(paths)} H.264 videos of {args.frames} frames at {args.width}x{args.height} "
          f"= {n_snippets} snippets; best of {args.repeats}")
    rows = []
    for e in engines:
        f = max(forward[e])
        line = f"[{e}] backbone forward only: {f:8.2f} snippets/s (runs: {', '.join(f'{v:.2f}' for v in forward[e])})"
        row = {"backbone": backbone, "crop": crop, "crops": crops, "engine": e, "forward": forward[e],
               "pipeline": pipeline[e]}
        if pipeline[e]:
            p = max(pipeline[e])
            pairs = [b / a for a, b in zip(forward[e], pipeline[e], strict=True)]
            runs = ", ".join(f"{v:.2f}" for v in pipeline[e])
            line += (f"\n[{e}] end-to-end extract: {p:8.2f} snippets/s (runs: {runs}); end-to-end / forward-only "
                     f"{_median(pairs):.3f} (median)")
        if e != base:
            ref = outputs[base]
            row["rel_diff"] = float(((outputs[e] - ref).abs().amax(-1) / ref.abs().amax(-1)).max())
            line += f"\n[{e}] features vs {base}: max relative difference per snippet and crop {row['rel_diff']:.2e}"
        if runners[e].int8_check is not None or runners[e].forward.precision == "int8":
            line += "\n" + _int8_line(e, runners[e], outputs[e], outputs[base] if e != base else None, base)
        print(line)
        rows.append(row)
    if check is not None:
        print(f"bf16 vs fp32 cosine per clip ({check.cosines.numel()} clips of the first video): min {check.min:.6f}, "
              f"mean {check.mean:.6f} (threshold {BF16_MIN_COSINE}: {'ok' if check.ok else 'BELOW'})")
    return rows


def _session(model, spec: FeatureSpec, run: EngineRun, options: ForwardOptions, videos: list[Path]
             ) -> BackboneSession:
    """The session `vadpipe extract --engine E --precision P` opens; int8 is quantized on ``videos`` here."""
    options = dataclasses.replace(options, engine=run.engine, precision=run.precision)
    session = BackboneSession.from_module(model, spec, options)
    if session.forward.precision == "int8":  # as open_session does it, on the module built above
        from vadpipe.session.int8 import use_int8

        notes = Collector()
        start = time.perf_counter()
        use_int8(session, videos, notes)
        for note in notes.notes:
            print(f"[{run.label}] note: {note}", file=sys.stderr)
        print(f"[{run.label}] int8 model ready in {time.perf_counter() - start:.0f} s (quantized, or found cached; "
              "not timed)", file=sys.stderr)
    return session


def _int8_line(label: str, session: BackboneSession, features: torch.Tensor, baseline: torch.Tensor | None,
               base: str) -> str:
    """What int8's check measured and how its features compare with the baseline's (cosine per clip)."""
    check = session.int8_check
    line = f"[{label}] precision {session.precision} (spec int8 {session.spec.int8})"
    if check is not None:
        line += (f"; int8 check: min cosine {check['min_cosine']:.6f} against OpenVINO fp32 on "
                 f"{check['snippets']} held-out snippets x {check['crops']} crop(s)")
    if baseline is not None:
        cos = cosines(features.flatten(0, 1).numpy(), baseline.flatten(0, 1).numpy())  # (B * C,)
        line += f"; cosine vs {base} on the first batch ({cos.size} clips): min {cos.min():.6f}, mean {cos.mean():.6f}"
    return line


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _print_table(rows: list[dict], base: str, args) -> None:
    """One markdown row per configuration and engine: speed ratios against the baseline of the same run."""
    print(f"\n| backbone | crop | crops | engine | forward snippets/s | speed-up vs {base} | end to end "
          f"snippets/s | speed-up vs {base} | max rel. diff |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    baselines = {(r["backbone"], r["crop"], r["crops"]): r for r in rows if r["engine"] == base}
    for r in rows:
        b = baselines[(r["backbone"], r["crop"], r["crops"])]
        # Ratios per repeat (the runs of one repeat were side by side), then their median.
        fwd = _median([e / t for e, t in zip(r["forward"], b["forward"], strict=True)])
        e2e = _median([e / t for e, t in zip(r["pipeline"], b["pipeline"], strict=True)]) if r["pipeline"] else None
        print(f"| {r['backbone']} | {r['crop']} | {r['crops']} | {r['engine']} | {max(r['forward']):.2f} | "
              f"{fwd:.2f}x | {max(r['pipeline']):.2f} | {e2e:.2f}x | " if e2e is not None else
              f"| {r['backbone']} | {r['crop']} | {r['crops']} | {r['engine']} | {max(r['forward']):.2f} | "
              f"{fwd:.2f}x | - | - | ", end="")
        print(f"{r['rel_diff']:.1e} |" if "rel_diff" in r else "- |")
    print(f"(ratios: median over {args.repeats} repeats of engine speed / {base} speed in the same repeat)")


if __name__ == "__main__":
    main()
