"""Seconds to score one long video on this machine, split into stages so the bottleneck shows.

The video (default: 10 minutes of 320x240 H.264 at 25 fps = 15,000 frames, a scrolling
texture with a moving square and noise) is written once with PyAV and cached in the temp
folder. Each stage is then timed on its own, through the code `vadpipe score` runs:

    decode      VideoReader -> iter_snippet_batches over the whole video (uint8 snippets)
    preprocess  the backbone session's preprocess (resize, normalise, crop) on those snippets
    backbone    the random-init backbone's forward passes (the run's backbone, --crops crops; torch fp32)
    scorer      LA-Net + DDL (ucf preset, random init) over all T snippets at once   } both through score_inputs,
    writing     per-frame curve, intervals, CSV + JSON + PNG                          } the call `vadpipe score` makes
    report      what `score --report` adds: build_report over those outputs, once with the original
                hard-linked (an H.264 MP4 plays in browsers) and once with --video webm (VP9 transcode)

and, unless --no-end-to-end, the whole `vadpipe score VIDEO --model RUN` command in a
subprocess (the run folder holds the same scorer and names the same backbone), so the
sum of the stages can be set against what a user waits for. The stages run one after
another; `vadpipe score` decodes and preprocesses on a worker thread while the backbone
runs, so its time can be below the sum.

    python bench/score.py                               # the full 10 minutes (~10+ min on 2 CPU cores)
    python bench/score.py --backbone-snippets 64        # backbone timed on 64 snippets, extrapolated to T
    python bench/score.py --minutes 1 --resize-short 128 --crop-size 112
    python bench/score.py --video my.mp4 --no-end-to-end
    # `vadpipe score --engine E` end to end, engines alternating, speed-up and score agreement vs the first
    python bench/score.py --backbone-snippets 64 --engines torch,openvino,onnxruntime --repeats 2 --threads 2
    # int8 end to end: ENGINE:PRECISION (a plain engine is fp32), here torch fp32 / OpenVINO fp32 / OpenVINO int8
    python bench/score.py --backbone-snippets 64 --engines torch,openvino,openvino:int8 --repeats 2 --threads 2
    python bench/score.py --crops 10 --backbone-snippets 16 --engines torch,openvino,openvino:int8
    python bench/score.py --minutes 0.2 --crop-size 64 --resize-short 72 --backbone-snippets 4 \
        --engines torch,openvino,openvino:int8                # short: checks every path in a few minutes

``--crops 10`` makes the run folder's feature spec say 10 crops (tencrop), so the stages and
`vadpipe score` extract 10 crops and the scores are averaged over them.

**int8 runs.** ``openvino:int8`` runs `vadpipe score --engine openvino --precision int8`.
The run folder is one and the same for every engine: its spec says fp32 features
(``int8`` false), as the run the user trained would. `vadpipe score` accepts int8 features
for such a run (vadpipe.infer.scoring.int8_note: the quantized model was checked against
fp32 on the very video scored) and says so in a note (kept off by --json, which the bench
reads); int8 is the only spec field score lets differ from the run's.
So all engines score with the same scorer, and the int8 curve is compared with the
baseline's (and with OpenVINO fp32's when that is in the list). Score quantizes on the
video it scores; the bench does the same once before the timed runs (open_session with
``calibration=[video]``, the very snippets score reads), so the timed runs find the model
cached in $VADPIPE_HOME/engines. Each int8 run prints the precision its score JSON records
(int8, or fp32 when the check refused it) and the check's min cosine.
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
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.extract import EngineRun, parse_engines  # noqa: E402
from vadpipe.core.backbone_facts import BACKBONES  # noqa: E402
from vadpipe.core.feature_spec import FeatureSpec  # noqa: E402
from vadpipe.core.forward import ForwardOptions  # noqa: E402
from vadpipe.features.extract import default_batch_size  # noqa: E402
from vadpipe.features.record import IndexRecord  # noqa: E402
from vadpipe.features.store import append_index  # noqa: E402
from vadpipe.infer.scoring import ScoreOptions, ScoringRun, score_inputs  # noqa: E402
from vadpipe.model.checkpoint import RunConfig, save_run  # noqa: E402
from vadpipe.model.config import get_preset  # noqa: E402
from vadpipe.model.scorer import AnomalyScorer  # noqa: E402
from vadpipe.observers import Observer  # noqa: E402
from vadpipe.report.build import build_report  # noqa: E402
from vadpipe.session.backbone import BackboneSession, open_session  # noqa: E402
from vadpipe.video.decode import VideoReader  # noqa: E402
from vadpipe.video.snippets import iter_snippet_batches  # noqa: E402


def _frames(n: int, height: int, width: int, seed: int = 0):
    """A scrolling coarse texture with a bright square crossing it and per-frame noise (compresses like footage)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(height // 16 + 1, 2 * width // 16 + 1, 3)).astype(np.uint8)
    texture = np.repeat(np.repeat(coarse, 16, 0), 16, 1)[:height]  # (H, 2W, 3): room to scroll
    noise = rng.integers(0, 8, size=(32, height, width, 3), dtype=np.uint8)  # a pool, cycled
    for f in range(n):
        x0 = f % width
        frame = texture[:, x0 : x0 + width] + noise[f % len(noise)]
        x = (4 * f) % (width - 40)
        frame[height // 3 : height // 3 + 40, x : x + 40] = 240
        yield frame


def make_video(path: Path, frames: int, width: int, height: int, fps: int) -> Path:
    """Encode the synthetic video frame by frame (never held whole in memory), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for image in _frames(frames, height, width):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path


def time_decode(video: Path, batch: int) -> tuple[float, int, int, float]:
    """(seconds, frames, snippets, fps) of decoding the whole video into uint8 snippet batches."""
    start = time.perf_counter()
    snippets = 0
    with VideoReader(video) as reader:
        for x in iter_snippet_batches(reader, batch_size=batch):
            snippets += x.shape[0]
    return time.perf_counter() - start, reader.info.frames, snippets, reader.info.fps


def time_backbone(video: Path, session: BackboneSession, batch: int, limit: int | None):
    """(preprocess s, backbone s, snippets timed, (n, C, D) features) over the first ``limit`` snippets (None: all).

    The first batch is run once untimed first (allocator, oneDNN kernel choice), as extract's warm-up.
    """
    pre_s = fwd_s = 0.0
    done = 0
    feats = []
    with VideoReader(video) as reader, torch.inference_mode():
        for i, frames in enumerate(iter_snippet_batches(reader, batch_size=batch)):
            if limit is not None and done >= limit:
                break
            start = time.perf_counter()
            x = session.preprocess(torch.from_numpy(frames))  # (S, C, 3, 16, crop, crop)
            pre_s += time.perf_counter() - start
            if i == 0:
                session(x)  # warm-up, untimed
            start = time.perf_counter()
            y = session(x).cpu()  # (S, C, D)
            fwd_s += time.perf_counter() - start
            done += x.shape[0]
            feats.append(y.numpy())
    return pre_s, fwd_s, done, np.concatenate(feats)


class _Strict(Observer):
    def failed(self, message: str) -> None:
        sys.exit(f"scoring failed: {message}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic video")
    parser.add_argument("--video", type=Path, default=None, help="time this video instead of the synthetic one")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--backbone", default="resnet3d", choices=list(BACKBONES))
    parser.add_argument("--resize-short", type=int, default=None, help="default: the backbone's (256)")
    parser.add_argument("--crop-size", type=int, default=None, help="default: the backbone's (224)")
    parser.add_argument("--crops", type=int, default=1, choices=[1, 10],
                        help="crops of the run's feature spec, so of the stages and of `vadpipe score`")
    parser.add_argument("--batch-size", type=int, default=None, help="snippets per forward (default as score)")
    parser.add_argument("--backbone-snippets", type=int, default=None,
                        help="time preprocess + backbone on the first N snippets only and extrapolate to T")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads, here and in the `vadpipe score` subprocess (default: torch's)")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the `vadpipe score` subprocess")
    parser.add_argument("--engines", default="torch",
                        help="`vadpipe score --engine E --precision P` of the end-to-end runs, a comma list of E or "
                        "E:P (openvino:int8; plain E: fp32); the first is the baseline")
    parser.add_argument("--repeats", type=int, default=1, help="end-to-end runs per engine, alternating engines")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vadpipe-bench",
                        help="where the synthetic video is kept between runs")
    args = parser.parse_args(argv)
    runs = parse_engines(args.engines)

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    spec = BACKBONES[args.backbone]
    resize = args.resize_short or spec.preprocessing.resize_short
    crop = args.crop_size or spec.preprocessing.crop_size
    sizes = dict(resize_short=resize, crop_size=crop)
    device = torch.device("cpu")
    batch = args.batch_size or default_batch_size(args.crops, device)

    video = args.video
    if video is None:
        frames = round(args.minutes * 60 * args.fps)
        video = args.cache / f"score-{frames}f-{args.width}x{args.height}-{args.fps}fps.mp4"
        if not video.is_file():
            start = time.perf_counter()
            make_video(video, frames, args.width, args.height, args.fps)
            print(f"wrote {video} ({video.stat().st_size / 2**20:.1f} MB) in {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)

    preset = get_preset("ucf")
    preset.scorer.feature_dim = spec.feature_dim  # the ucf preset on this backbone's features
    torch.manual_seed(0)
    scorer = AnomalyScorer(preset.scorer).eval()
    features = FeatureSpec.resolve(args.backbone, crops=args.crops, random_init=True, **sizes)  # fp32 (int8 false)
    config = RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, preset="ucf", features=features)
    session = open_session(features, ForwardOptions(device=str(device), engine="torch"))  # what score's opens

    decode_s, n_frames, t, fps = time_decode(video, batch)
    limit = args.backbone_snippets if args.backbone_snippets and args.backbone_snippets < t else None
    pre_s, fwd_s, timed, feats = time_backbone(video, session, batch, limit)
    scale = t / timed  # 1 unless extrapolated
    if timed < t:  # the scorer's cost depends on T only: the timed features, repeated to T
        feats = np.resize(feats, (t, *feats.shape[1:]))  # (T, C, D)

    with tempfile.TemporaryDirectory() as tmp:
        # The scorer and writing stages through the library call `vadpipe score` makes (score_inputs), on the
        # features as a store (one .npy + its index record: frames, fps and the video, as extract writes them),
        # with the run folder `vadpipe score` will load.
        run = Path(tmp) / "run"
        save_run(run, scorer, config)
        loaded = ScoringRun.load(run, "cpu")
        store = Path(tmp) / "features"
        store.mkdir()
        for stem, part in ((video.stem, feats), ("warm-up", feats[:16])):
            np.save(store / f"{stem}.npy", part)  # (T, C, D)
            append_index(store, IndexRecord(video=str(video), id=stem, features=f"{stem}.npy", spec=features,
                                            frames=n_frames if stem == video.stem else 16 * len(part), fps=fps,
                                            snippets=len(part), dim=part.shape[-1]).to_json())
        list(score_inputs([], loaded, ScoreOptions(out=Path(tmp) / "warm-up"), features=[store / "warm-up.npy"],
                          observer=_Strict()))
        (result,) = score_inputs([], loaded, ScoreOptions(out=Path(tmp) / "stages"),
                                 features=[store / f"{video.stem}.npy"], observer=_Strict())
        scorer_s, writing_s = result.timings_s["scorer"], result.timings_s["writing"]
        report_s = {}
        for mode in ("auto", "webm"):
            start = time.perf_counter()
            built = build_report(Path(tmp) / "stages", video=mode)
            report_s[mode] = (time.perf_counter() - start, built.bytes, built.media[video.stem])

        e2e = None
        if not args.no_end_to_end:
            # A CPU engine's first run would export the backbone, int8's would quantize it: done here, not timed.
            _export_once(session.net, runs, crop)
            _quantize_once(features, runs, video)
            e2e = {r.label: [] for r in runs}
            for i in range(args.repeats):
                for r in (runs if i % 2 == 0 else runs[::-1]):
                    out = Path(tmp) / f"e2e-{r.engine}-{r.precision}-{i}"
                    e2e[r.label].append(_score_subprocess(video, run, out, batch, r))

    stages = [("decode", decode_s, False), ("preprocess", pre_s * scale, limit is not None),
              ("backbone", fwd_s * scale, limit is not None), ("scorer", scorer_s, False),
              ("writing", writing_s, False)]
    total = sum(s for _, s, _ in stages)
    print(f"video: {video.name}, {n_frames} frames at {fps:g} fps ({n_frames / fps / 60:.1f} min), "
          f"{t} snippets; {args.width}x{args.height}" if args.video is None else
          f"video: {video}, {n_frames} frames at {fps:g} fps ({n_frames / fps / 60:.1f} min), {t} snippets")
    print(f"settings: backbone {args.backbone} (random init), crops {args.crops}, resize {resize} -> crop {crop}, "
          f"batch {batch} snippets, device cpu, torch threads {torch.get_num_threads()}; scorer ucf preset")
    if limit is not None:
        print(f"preprocess + backbone timed on the first {timed} of {t} snippets and EXTRAPOLATED x{scale:.2f} (*)")
    print(f"machine load (1-min average) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on "
          f"{os.cpu_count()} cores: other processes slow OpenMP a lot more than their share; see --threads")
    print(f"{'stage':<12} {'seconds':>9} {'share':>7} {'per snippet ms':>15}")
    for name, seconds, extrapolated in stages:
        print(f"{name:<12} {seconds:>9.2f} {seconds / total:>6.1%} {1000 * seconds / t:>15.2f}"
              f"{' (*)' if extrapolated else ''}")
    print(f"{'sum':<12} {total:>9.2f} {1:>6.1%} {1000 * total / t:>15.2f}  "
          f"= {total / (n_frames / fps):.2f} s per second of video")
    for mode, (seconds, size, how) in report_s.items():
        print(f"--report ({'--video ' + mode:<12}) {seconds:>8.2f} s = {seconds / total:.1%} of the stages' sum; "
              f"{size / 2**20:.2f} MiB written; video: {how}")
    if e2e is not None:
        _print_end_to_end(e2e, runs, total, result.max_score if limit is None else None)


def _export_once(model, runs: list[EngineRun], crop: int) -> None:
    """Export (or find cached) the backbone for each CPU engine, so no timed run pays for it."""
    from vadpipe.engines.backbone import EngineBackbone

    for engine in {r.engine for r in runs} - {"torch", "auto"}:
        with torch.inference_mode():
            EngineBackbone(model, engine)(torch.zeros(1, 3, 16, crop, crop))


def _quantize_once(features: FeatureSpec, runs: list[EngineRun], video: Path) -> None:
    """Quantize (or find cached) the int8 backbone `vadpipe score VIDEO --precision int8` will ask for.

    The session is opened as score opens it: the run's spec, calibrated on the video scored, so the
    calibration snippets, and with them the cache key, are the ones score reads.
    """
    for r in runs:
        if r.precision == "int8":
            start = time.perf_counter()
            session = open_session(features, ForwardOptions(device="cpu", engine=r.engine, precision="int8"),
                                   calibration=[video])
            check = session.int8_check
            print(f"[{r.label}] int8 model ready in {time.perf_counter() - start:.0f} s (quantized, or found cached; "
                  f"not timed): precision {session.precision}"
                  + (f", check min cosine {check['min_cosine']:.6f}" if check else ""), file=sys.stderr)


def _score_subprocess(video: Path, run: Path, out: Path, batch: int, engine: EngineRun) -> dict:
    """Wall seconds, `vadpipe score --json`'s own report and the per-frame scores of one run."""
    cmd = [sys.executable, "-m", "vadpipe", "score", str(video), "--model", str(run), "--out", str(out), "--json",
           "--batch-size", str(batch), "--engine", engine.engine, "--precision", engine.precision]
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}  # the same threads as the stages
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)  # cwd: -m vadpipe from here
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"vadpipe score --engine {engine.engine} --precision {engine.precision} failed ({done.returncode}): "
                 f"{done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout)["videos"][0]
    curve = np.loadtxt(report["outputs"]["csv"], delimiter=",", skiprows=1, usecols=2, ndmin=1)  # (N,) scores
    return {"wall": wall, "curve": curve, **report}


def _print_end_to_end(e2e: dict[str, list[dict]], runs: list[EngineRun], stages_total: float,
                      stages_max: float | None) -> None:
    base = runs[0].label
    fp32_of = {r.engine: r.label for r in runs if r.precision == "fp32"}  # an int8 curve is also set against these
    for run in runs:
        label, done = run.label, e2e[run.label]
        best = min(done, key=lambda r: r["wall"])
        inner = best["timings_s"]
        walls = ", ".join(f"{r['wall']:.2f}" for r in done)
        print(f"end-to-end `vadpipe score --engine {run.engine} --precision {run.precision}` (subprocess wall, best "
              f"of {len(done)}): {best['wall']:.2f} s  [runs: {walls}; its own timings: "
              f"decode+backbone {inner['decode_and_backbone']:.2f}, scorer {inner['scorer']:.2f}, writing "
              f"{inner['writing']:.2f}; the rest is start-up: imports, building the backbone"
              f"{', reading the calibration snippets and loading the cached int8 model' * (run.precision == 'int8')}]")
        if run.precision == "int8":
            print("  " + _int8_line(done))
        if label == base:
            inside = inner["decode_and_backbone"] + inner["scorer"] + inner["writing"]
            print(f"ratio sum of stages / end-to-end ({base}): {stages_total / best['wall']:.3f} (wall), "
                  f"{stages_total / inside:.3f} (its own timings, start-up left out)")
            if stages_max is not None:
                print(f"same scores: max {stages_max:.6f} (stages) vs {best['max_score']:.6f} (vadpipe score)")
            continue
        # Per repeat (the runs of one repeat were side by side), then the median.
        ratios = sorted(b["wall"] / e["wall"] for b, e in zip(e2e[base], done, strict=True))
        print(f"  speed-up vs {base}: {statistics.median(ratios):.2f}x (median of per-repeat wall ratios: "
              f"{', '.join(f'{v:.2f}' for v in ratios)}); per-frame scores vs {base}'s: {_agreement(done, e2e[base])}")
        other = fp32_of.get(run.engine)
        if run.precision != "fp32" and other not in (None, base):
            print(f"  per-frame scores vs {other}'s: {_agreement(done, e2e[other])}")


def _agreement(runs: list[dict], reference: list[dict]) -> str:
    """How far the per-frame curves of ``runs`` are from the reference's first: largest and mean difference."""
    diffs = [np.abs(r["curve"] - reference[0]["curve"]) for r in runs]  # (N,) each
    return f"differ by at most {max(float(d.max()) for d in diffs):.1e}, mean {max(float(d.mean()) for d in diffs):.1e}"


def _int8_line(runs: list[dict]) -> str:
    """What `vadpipe score --json` recorded of int8: the precision that ran and the check's figures."""
    precisions = sorted({r["precision"] for r in runs})
    check = runs[0]["int8_check"]
    figures = (f"check min cosine {check['min_cosine']:.6f} (mean {check['mean_cosine']:.6f}) against fp32 on "
               f"{check['snippets']} held-out snippet(s) x {check['crops']} crop(s)" if check else "no check figures")
    accepted = ("int8 accepted by its check; score took int8 features for the run trained on fp32 ones"
                if precisions == ["int8"] else "int8 REFUSED by its check, fp32 ran")
    return f"precision recorded: {', '.join(precisions)} ({accepted}); {figures}"


if __name__ == "__main__":
    main()
