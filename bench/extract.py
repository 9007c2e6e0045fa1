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
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.videos import write_video  # noqa: E402
from vadpipe.backbones.preprocess import preprocess_snippets  # noqa: E402
from vadpipe.backbones.registry import build_backbone  # noqa: E402
from vadpipe.devices import resolve_device  # noqa: E402
from vadpipe.features.extract import default_batch_size, default_workers, extract_videos  # noqa: E402
from vadpipe.features.precision import BF16_MIN_COSINE, PRECISIONS, compare_to_fp32  # noqa: E402
from vadpipe.features.runner import BackboneRunner  # noqa: E402
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet3d")
    parser.add_argument("--crops", type=int, default=1)
    parser.add_argument("--resize-short", type=int, default=256)
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=96, help="frames per video (25 fps)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=None, help="snippets per forward (default as extract)")
    parser.add_argument("--workers", type=int, default=None, help="decode threads (default as extract)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="forward precision, as `vadpipe extract --precision` (auto: bf16 on CUDA, fp32 on a CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's); 1 is steadier on a busy machine")
    parser.add_argument("--repeats", type=int, default=2, help="measure both this many times")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch = args.batch_size or default_batch_size(args.crops, device)
    workers = args.workers or default_workers(device)
    model = build_backbone(args.backbone, allow_random=True, device=device)
    prep = model.spec.preprocessing
    sizes = dict(resize_short=args.resize_short, crop_size=args.crop_size)
    runner = BackboneRunner(model, device, precision=args.precision)  # the forward pass extract makes

    with tempfile.TemporaryDirectory() as tmp:
        paths = [write_video(Path(tmp) / f"v{i}.mp4", _scene(args.frames, args.height, args.width, i),
                             options={"preset": "veryfast", "crf": "23"}) for i in range(args.videos)]
        per_video = []  # decoded and preprocessed beforehand: what the backbone alone is timed on
        for path in paths:
            with VideoReader(path) as reader:
                per_video.append([preprocess_snippets(torch.from_numpy(snippets), prep, args.crops, **sizes)
                                  for snippets in iter_snippet_batches(reader, batch_size=batch)])
        n_snippets = sum(b.shape[0] for batches in per_video for b in batches)

        def backbone_only(batches) -> float:
            start = time.perf_counter()
            with torch.inference_mode():
                for x in batches:
                    runner(x.to(device, non_blocking=True)).cpu()  # (S, C, D)
            return time.perf_counter() - start

        def end_to_end(video_paths) -> float:
            start = time.perf_counter()
            for result in extract_videos(video_paths, model, crops=args.crops, batch_size=batch, device=device,
                                         workers=workers, precision=args.precision, **sizes):
                assert result.error is None, result.error
            return time.perf_counter() - start

        backbone_only(per_video[0])  # warm-up (allocator, oneDNN / cuDNN kernel choice)
        # Full batches across videos, as extract packs them: the backbone's own best.
        all_batches = list(torch.cat([x for batches in per_video for x in batches]).split(batch))  # (<=B, C, ...)
        # Alternating which goes first, so that both see the same machine (other processes, clocks).
        forward, pipeline = [], []
        for r in range(args.repeats):
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                if which == 0:
                    forward.append(n_snippets / backbone_only(all_batches))
                else:
                    pipeline.append(n_snippets / end_to_end(paths))
        check = None
        if runner.precision == "bf16":  # the same snippets at fp32 and at bf16 autocast
            check = compare_to_fp32(model, torch.cat(per_video[0]), "bf16")

    f, p = max(forward), max(pipeline)
    pairs = sorted(b / a for a, b in zip(forward, pipeline, strict=True))
    print(f"settings: backbone {args.backbone} (random init), crops {args.crops}, resize {args.resize_short} "
          f"-> crop {args.crop_size}, batch {batch} snippets, {workers} decode thread(s), device {device}, "
          f"torch threads {torch.get_num_threads()}, precision {runner.precision}")
    print(f"input: {args.videos} H.264 videos of {args.frames} frames at {args.width}x{args.height} "
          f"= {n_snippets} snippets; best of {args.repeats}")
    print(f"backbone forward only (preprocessed snippets): {f:8.2f} snippets/s   (runs: "
          f"{', '.join(f'{v:.2f}' for v in forward)})")
    print(f"end-to-end extract (decode+preprocess+forward): {p:8.2f} snippets/s   (runs: "
          f"{', '.join(f'{v:.2f}' for v in pipeline)})")
    print(f"ratio end-to-end / forward-only: {pairs[len(pairs) // 2]:.3f} (median over repeats; best vs best "
          f"{p / f:.3f})")
    if check is not None:
        print(f"bf16 vs fp32 cosine per clip ({check.cosines.numel()} clips of the first video): min {check.min:.6f}, "
              f"mean {check.mean:.6f} (threshold {BF16_MIN_COSINE}: {'ok' if check.ok else 'BELOW'})")


if __name__ == "__main__":
    main()
