"""`vadpipe score`: raw videos (or precomputed features) -> per-frame curve, intervals, CSV / JSON / PNG.

Parse, call :func:`vadpipe.infer.scoring.score_inputs`, print.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from vadpipe.cli.common import ForwardOpts, check_engine, removed_if_left_empty
from vadpipe.cli.console import err_console, error, out_console, print_json, progress
from vadpipe.cli.ranges import PATH, number, number_of, path
from vadpipe.core.feature_spec import CROP_COUNTS, MAX_FPS, TAIL_POLICIES, FeatureSpec
from vadpipe.engines import ENGINE_HELP
from vadpipe.errors import UsageError
from vadpipe.infer.options import IntervalOptions
from vadpipe.observers import Observer


class _Observer(Observer):
    """A bar over the videos on stderr; bad inputs are one warning line each, and counted."""

    def __init__(self, bars, quiet: bool):
        self.bars, self.quiet, self.task = bars, quiet, None
        self.failed_lines: list[str] = []

    def planned(self, videos: int | None, **counts: int) -> None:
        self.task = self.bars.add_task("scoring", total=videos, info="")

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"note: {escape(message)}", highlight=False, soft_wrap=True)  # one line each

    def event(self, kind: str, data: dict) -> None:
        if kind == "extracted" and self.task is not None:
            self.bars.update(self.task, advance=1, info=Path(data["video"]).name)

    def failed(self, message: str) -> None:
        error(message)
        self.failed_lines.append(message)


def score_command(
    inputs: list[Path] = typer.Argument(None, **path("INPUTS"),
                                        help="Videos, folders of videos, or .txt/.list files naming videos."),
    model: Path = typer.Option(..., "--model", "-m", **PATH, help="Run folder written by `vadpipe train`."),
    out: Path = typer.Option(Path("vadpipe-scores"), "--out", "-o", **PATH, help="Folder for the per-video outputs."),
    features: list[Path] = typer.Option(None, "--features", **PATH,
                                        help="Score a precomputed (T, C, D) .npy instead of "
                                        "a video (repeatable); frames and fps come from its store's index.jsonl."),
    fps: float | None = typer.Option(None, **number(min=0, min_open=True, max=MAX_FPS),
                                     help="With --features and no index.jsonl: the video's frame rate "
                                     "(default: 30 fps assumed, with 16 frames per snippet, and said)."),
    backbone: str | None = typer.Option(None, help="Only for a run that does not record its features' backbone "
                                        "(trained on public features); otherwise it must be the run's."),
    weights: str | None = typer.Option(None, help="Backbone checkpoint file or registry name (default: cached)."),
    crops: int | None = typer.Option(None, **number_of(FeatureSpec, "crops"),
                                     help=f"Fewer crops than the run's ({', '.join(map(str, CROP_COUNTS))}): "
                                     "faster; scores are averaged over crops. Default: the run's."),
    tail: str | None = typer.Option(None, help=f"Tail policy ({' or '.join(TAIL_POLICIES)}) for a run that does "
                                    "not record it; otherwise it must be the run's."),
    threshold: float | None = typer.Option(None, **number_of(IntervalOptions, "threshold"),
                                           help="Decision threshold (default: the run's, else 0.5)."),
    smooth: int = typer.Option(0, **number_of(IntervalOptions, "smooth"),
                               help="Moving average over this many snippets before thresholding (0: off)."),
    min_duration: float = typer.Option(0.0, "--min-duration", **number_of(IntervalOptions, "min_duration_s"),
                                       help="Drop intervals shorter than this (seconds)."),
    merge_gap: float = typer.Option(0.0, "--merge-gap", **number_of(IntervalOptions, "merge_gap_s"),
                                    help="Merge intervals closer than this (seconds)."),
    gt: Path | None = typer.Option(None, "--gt", **PATH, help="Ground truth (UCF-Crime or XD-Violence annotation "
                                   ".txt, as `evaluate` reads): drawn on the PNG and report of every video it names."),
    overlay: bool = typer.Option(False, "--overlay", help="Also write <stem>.overlay.mp4 with the live score "
                                 "and the video's sound."),
    report: bool = typer.Option(False, "--report", help="Also write OUT/report.html: every video in a sortable "
                                "table, and a page per video to watch it with its curve (see `vadpipe report`)."),
    batch_size: int | None = ForwardOpts.batch_size,
    device: str = ForwardOpts.device,
    precision: str = ForwardOpts.precision,
    calibrate: list[Path] = ForwardOpts.calibrate,
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP + " Recorded in each "
                               "<stem>.json and in --json."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document with everything on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or table."),
) -> None:
    """Score raw videos with a trained run: a per-frame anomaly curve, detected intervals, and a picture.

    Raw videos are extracted with exactly the feature spec the run was trained on.
    """
    from vadpipe.infer.truth import ScoreTruth
    from vadpipe.model.run_config import read_run_config
    from vadpipe.video.inputs import collect_videos

    # Everything that needs no model is checked before torch is imported, so a mistake is said at once.
    read_run_config(model)  # a path that is no run folder, a broken config.json
    if not inputs and not features:
        raise UsageError("give videos to score, or feature files (.npy)")
    check_engine(engine, device)
    truth = ScoreTruth.load(gt) if gt is not None else None
    jobs = collect_videos(inputs) if inputs else []  # no video in a folder given: a usage error, here
    if jobs and all(job.missing for job in jobs) and not features:  # nothing there to score: no model to load
        for job in jobs:
            error(job.problem)
        if json_out:
            print_json({"model": str(model), "engine": None, "videos": [], "failed": [j.problem for j in jobs]})
        raise typer.Exit(1)

    from dataclasses import asdict

    from vadpipe.core.forward import ForwardOptions
    from vadpipe.infer.scoring import ScoreOptions, ScoringRun, score_inputs

    options = ScoreOptions(
        out=out, intervals=IntervalOptions(threshold, smooth, min_duration, merge_gap), overlay=overlay,
        forward=ForwardOptions(batch_size=batch_size, device=device, engine=engine, precision=precision,
                               calibrate=tuple(str(p) for p in calibrate or ())), weights=weights, backbone=backbone,
        crops=crops, tail=tail, features_fps=fps, ground_truth=truth,
    )
    run = ScoringRun.load(model, device)
    report_doc = None
    with removed_if_left_empty(out):  # every input bad, or the backbone could not be built: no empty folder left
        with progress(quiet=quiet or json_out) as bars:
            observer = _Observer(bars, quiet or json_out)
            results = list(score_inputs(inputs or [], run, options, features=features or [], observer=observer))
        if report:
            from vadpipe.cli.report import write_report

            asked = [*(p for p in inputs or [] if p.is_dir()), *(Path(r.video) for r in results)]  # named by the user
            written = write_report(out, failed=observer.failed_lines, videos=asked, runs=[model],
                                   quiet=quiet or json_out)
            report_doc = {"report": str(written.index), "bytes": written.bytes}
    if json_out:
        made = next((r for r in results if r.engine), None)  # None when only feature files were scored
        print_json({"model": str(model), "engine": made and made.engine, "precision": made and made.precision,
                    "int8_check": made and made.int8_check, "videos": [asdict(r) for r in results],
                    "failed": observer.failed_lines,
                    **({"report": report_doc} if report_doc else {})})
    elif not quiet:
        _print_table(results)
    if observer.failed_lines:
        raise typer.Exit(1)


def _print_table(results) -> None:
    from rich.table import Table

    from vadpipe.infer.outputs import RECORD_OUTPUT

    if not results:
        return
    table = Table(title="anomaly scores")
    for col in ("video", "duration", "max score", "threshold", "intervals"):
        table.add_column(col, justify="left" if col in ("video", "intervals") else "right", overflow="fold")
    for r in results:
        spans = ", ".join(f"{iv.start_s:.1f}-{iv.end_s:.1f}s (peak {iv.peak_score:.2f})" for iv in r.intervals) \
            or "none"
        table.add_row(escape(Path(r.video).name), f"{r.duration_s:.1f}s", f"{r.max_score:.3f}", f"{r.threshold:.2f}",
                      spans)
    out_console.print(table)
    out_console.print(f"outputs in {escape(str(Path(results[0].outputs[RECORD_OUTPUT]).parent))}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
