"""`vadpipe score`: raw videos (or precomputed features) -> per-frame curve, intervals, CSV / JSON / PNG."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from vadpipe.cli.common import DEVICE_HELP
from vadpipe.cli.console import err_console, out_console, print_json, progress, warn
from vadpipe.devices import resolve_device
from vadpipe.engines import ENGINE_HELP, resolve_engine
from vadpipe.errors import InputError, UsageError, VadpipeError
from vadpipe.features.store import INDEX_NAME, open_features
from vadpipe.infer.curve import frame_scores
from vadpipe.infer.score import IntervalOptions, VideoScore, snippet_scores, write_video_outputs
from vadpipe.model.checkpoint import RunConfig, load_run

# Backbones of the public features a run may have been trained on without a vadpipe store.
DEFAULT_BACKBONE_FOR_DIM = {2048: "resnet3d", 1024: "inception_i3d"}


def score_command(
    inputs: list[Path] = typer.Argument(None, help="Videos, folders of videos, or .txt/.list files naming videos."),
    model: Path = typer.Option(..., "--model", "-m", help="Run folder written by `vadpipe train`."),
    out: Path = typer.Option(Path("vadpipe-scores"), "--out", "-o", help="Folder for the per-video outputs."),
    features: list[Path] = typer.Option(None, "--features", help="Score a precomputed (T, C, D) .npy instead of "
                                        "a video (repeatable); frames and fps come from its store's index.jsonl."),
    fps: float = typer.Option(30.0, help="With --features and no index.jsonl: the video's frame rate."),
    backbone: str | None = typer.Option(None, help="Override the backbone recorded in the run."),
    weights: str | None = typer.Option(None, help="Backbone checkpoint file or registry name (default: cached)."),
    crops: int | None = typer.Option(None, help="Override the crops recorded in the run (1, 5 or 10); "
                                     "fewer crops are faster, scores are averaged over crops."),
    tail: str | None = typer.Option(None, help="Override the tail policy recorded in the run (pad or drop)."),
    threshold: float | None = typer.Option(None, help="Decision threshold (default: the run's, else 0.5)."),
    smooth: int = typer.Option(0, help="Moving average over this many snippets before thresholding (0: off)."),
    min_duration: float = typer.Option(0.0, "--min-duration", help="Drop intervals shorter than this (seconds)."),
    merge_gap: float = typer.Option(0.0, "--merge-gap", help="Merge intervals closer than this (seconds)."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write <stem>.overlay.mp4 with the live score."),
    report: bool = typer.Option(False, "--report", help="Also write OUT/report.html: every video in a sortable "
                                "table, and a page per video to watch it with its curve (see `vadpipe report`)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Snippets per backbone pass."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document with everything on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
) -> None:
    """Score raw videos with a trained run: a per-frame anomaly curve, detected intervals, and a picture."""
    if not inputs and not features:
        raise UsageError("give videos to score, or --features FILE.npy")
    torch_device = resolve_device(device)
    engine = resolve_engine(engine, torch_device) if inputs else None  # the forward pass only runs on videos
    scorer, config = load_run(model, torch_device)
    options = IntervalOptions(threshold, smooth, min_duration, merge_gap)
    if threshold is not None and not 0 <= threshold <= 1:
        raise UsageError("--threshold must be within [0, 1]")
    results: list[VideoScore] = []
    failed: list[str] = []
    _check_writable(out)
    for npy in features or []:
        try:
            results.append(_score_features_file(npy, scorer, config, options, out, fps, str(model)))
        except InputError as exc:
            warn(str(exc))
            failed.append(str(exc))
    if inputs:
        _score_videos(inputs, scorer, config, options, out, str(model), torch_device, results, failed,
                      backbone=backbone, weights=weights, crops=crops, tail=tail, batch_size=batch_size,
                      overlay=overlay, quiet=quiet or json_out, engine=engine)
    report_doc = None
    if report:
        from vadpipe.cli.report import write_report

        written = write_report(out, failed=failed, quiet=quiet or json_out)
        report_doc = {"report": str(written.index), "bytes": written.bytes}
    if json_out:
        print_json({"model": str(model), "engine": engine, "videos": [asdict(r) for r in results], "failed": failed,
                    **({"report": report_doc} if report_doc else {})})
    elif not quiet:
        _print_table(results)
    if failed:
        raise typer.Exit(1)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".vadpipe-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VadpipeError(f"{out}: output folder is not writable ({exc.strerror}); choose another --out") from None


def _score_features_file(npy: Path, scorer, config: RunConfig, options, out: Path, fps: float,
                         model_dir: str) -> VideoScore:
    feats = open_features(npy)
    record = _store_record(npy)
    scores = snippet_scores(scorer, feats, config.scorer.feature_dim, str(npy))
    n_frames = int(record.get("frames") or 16 * len(scores))
    video_fps = float(record.get("fps") or fps)
    return write_video_outputs(out, npy.stem, scores, n_frames=n_frames, fps=video_fps, config=config,
                               options=options, source=str(record.get("video", npy)), model_dir=model_dir)


def _store_record(npy: Path) -> dict:
    """The index.jsonl record of a feature file inside a vadpipe store, if it is in one."""
    for folder in [npy.parent, *npy.parents]:
        index = folder / INDEX_NAME
        if index.is_file():
            rel = npy.resolve().relative_to(folder.resolve()).as_posix()
            for line in index.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if rec.get("features") == rel:
                    return rec
            return {}
    return {}


def resolve_backbone(config: RunConfig, backbone: str | None, weights: str | None, device):
    """The backbone the run's features came from (or the override), refusing one that cannot fit."""
    from vadpipe.backbones.registry import BACKBONES, build_backbone, get_spec

    recorded = config.features.backbone if config.features.backbone in BACKBONES else None
    name = backbone or recorded or DEFAULT_BACKBONE_FOR_DIM.get(config.scorer.feature_dim)
    if name is None:
        raise UsageError(f"the run does not record its backbone and no backbone makes "
                         f"{config.scorer.feature_dim}-d features; pass --backbone")
    spec = get_spec(name)
    if spec.feature_dim != config.scorer.feature_dim:
        raise UsageError(f"backbone {name} makes {spec.feature_dim}-d features but the model in the run expects "
                         f"{config.scorer.feature_dim}-d; use the backbone it was trained on ({recorded or '?'})")
    if recorded and name != recorded:
        raise UsageError(f"the run was trained on {recorded} features, not {name}; drop --backbone {name}")
    return build_backbone(name, weights=weights, random_init=config.features.random_init,
                          seed=config.features.backbone_seed or 0, device=device)


def preprocessing_of_run(config: RunConfig, crops: int) -> dict:
    """The preprocessing arguments that make the features the run was trained on, for ``crops`` crops
    (what `score` passes to extract_videos and `watch` to preprocess_snippets)."""
    spec = config.features
    return {"resize_short": spec.resize_short, "crop_size": spec.crop_size,
            "crop_order": spec.crop_order if crops == spec.crops else None, "resize_mode": spec.resize_mode}


def _score_videos(inputs, scorer, config: RunConfig, options, out: Path, model_dir: str, device,
                  results: list, failed: list, *, backbone, weights, crops, tail, batch_size, overlay, quiet,
                  engine) -> None:
    from vadpipe.features.extract import extract_videos
    from vadpipe.infer.overlay import write_overlay
    from vadpipe.video.inputs import collect_videos

    jobs = collect_videos([str(p) for p in inputs])
    net = resolve_backbone(config, backbone, weights, device)
    if net.random_init and not quiet:
        err_console.print("note: this run was trained on features of a random-init backbone (the offline demo); "
                          "scoring uses the same seeded random backbone")
    crops = crops or config.features.crops or 1
    tail = tail or config.features.tail or "pad"
    if tail not in ("pad", "drop") or crops not in (1, 5, 10):
        raise UsageError("--crops must be 1, 5 or 10 and --tail pad or drop")
    if engine != "torch" and not quiet:
        from vadpipe.engines.backbone import export_pending

        note = export_pending(net, engine, config.features.crop_size or net.spec.preprocessing.crop_size)
        if note:
            err_console.print(f"note: {note}", highlight=False)
    good = [j for j in jobs if j.problem is None]
    for job in jobs:
        if job.problem:
            warn(job.problem)
            failed.append(job.problem)
    by_path = {j.video: j for j in good}
    with progress(quiet=quiet) as bar:
        task = bar.add_task("scoring", total=len(good), info="")
        started = time.perf_counter()
        stream = extract_videos(
            [j.video for j in good], net, crops=crops, tail=tail, batch_size=batch_size, device=device,
            **preprocessing_of_run(config, crops), engine=engine,
        )
        for item in stream:
            extracted = time.perf_counter()
            job = by_path[item.path]
            bar.update(task, advance=1, info=job.video.name)
            if item.error is not None:
                warn(str(item.error))
                failed.append(str(item.error))
                started = time.perf_counter()
                continue
            try:
                scores = snippet_scores(scorer, item.features, config.scorer.feature_dim, str(job.video))
                scored = time.perf_counter()
                stem_dir = out / Path(job.rel).parent
                result = write_video_outputs(
                    stem_dir, Path(job.rel).name, scores, n_frames=item.info.frames, fps=item.info.fps,
                    config=config, options=options, source=str(job.video), model_dir=model_dir,
                    metadata=item.info.to_record(),
                )
                if overlay:
                    path = stem_dir / f"{Path(job.rel).name}.overlay.mp4"
                    curve = frame_scores(scores, item.info.frames)
                    alarm = np.zeros(item.info.frames, dtype=bool)
                    for iv in result.intervals:
                        alarm[iv["start_frame"] : iv["end_frame"]] = True
                    write_overlay(job.video, path, curve, alarm, result.threshold, item.info.fps)
                    result.outputs["overlay"] = str(path)
            except (InputError, OSError) as exc:
                message = str(exc) if isinstance(exc, InputError) else f"{job.video}: cannot write outputs ({exc})"
                warn(message)
                failed.append(message)
                started = time.perf_counter()
                continue
            result.engine = engine
            result.timings_s.update({"decode_and_backbone": extracted - started, "scorer": scored - extracted})
            results.append(result)
            started = time.perf_counter()


def _print_table(results: list[VideoScore]) -> None:
    if not results:
        return
    table = Table(title="anomaly scores")
    for col in ("video", "duration", "max score", "threshold", "intervals"):
        table.add_column(col, justify="left" if col in ("video", "intervals") else "right")
    for r in results:
        spans = ", ".join(f"{iv['start_s']:.1f}-{iv['end_s']:.1f}s (peak {iv['peak_score']:.2f})"
                          for iv in r.intervals) or "none"
        table.add_row(Path(r.video).name, f"{r.duration_s:.1f}s", f"{r.max_score:.3f}", f"{r.threshold:.2f}", spans)
    out_console.print(table)
    out_console.print(f"outputs in {Path(results[0].outputs['csv']).parent}")


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
