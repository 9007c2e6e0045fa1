"""`vadpipe evaluate`: frame-level AUC / AP of a trained run on test features."""

from __future__ import annotations

from pathlib import Path

import typer

from vadpipe.cli.common import DEVICE_HELP, AbnormalFirstOpt, FeaturesRootOpt, LabelsOpt, Lines
from vadpipe.cli.console import line, out_console, print_json
from vadpipe.cli.ranges import PATH, number_of, path
from vadpipe.model.config import ScorerConfig


def evaluate_command(
    features: Path = typer.Argument(
        ..., **path("FEATURES"), help="Test features: a vadpipe store folder, a list file or a folder of .npy."
    ),
    model: Path = typer.Option(..., "--model", "-m", **PATH, help="Run folder written by `vadpipe train`."),
    gt: Path = typer.Option(..., "--gt", **PATH, help="Ground truth: UCF-Crime Temporal_Anomaly_Annotation .txt, "
                            "XD-Violence annotations.txt, or a concatenated frame-level .npy in list order."),
    labels: Path | None = LabelsOpt,
    abnormal_first: int | None = AbnormalFirstOpt,
    features_root: Path | None = FeaturesRootOpt,
    per_video: Path | None = typer.Option(None, "--per-video", **PATH,
                                          help="Write per-video scores and AUC to this CSV."),
    plots: Path | None = typer.Option(None, "--plots", **PATH,
                                      help="Write ROC and PR curves, the per-video curves over the "
                                      "ground truth (worst first) and evaluate.html into this folder."),
    window: int | None = typer.Option(None, **number_of(ScorerConfig, "window"),
                                      help="Measure the run in live mode: banded attention over the last "
                                      "W snippets (default: the run's own band; 0 = whole video)."),
    lookahead: int | None = typer.Option(None, **number_of(ScorerConfig, "lookahead"),
                                         help="With --window: L snippets of lookahead (default: the run's)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON document on stdout."),
) -> None:
    """Frame-level ROC AUC and AP, the way the papers compute them (scores repeated 16x per frame)."""
    from rich.table import Table

    from vadpipe.eval.groundtruth import load_ground_truth
    from vadpipe.model.run_config import read_run_config

    # What needs no model is checked before torch is imported: the run folder, an annotation file.
    read_run_config(model)
    truth = None if gt.suffix.lower() == ".npy" else load_ground_truth(gt)  # a .npy is split by the test list

    from vadpipe.devices import resolve_device
    from vadpipe.eval.evaluate import evaluate, write_per_video
    from vadpipe.features.feature_set import read_feature_set
    from vadpipe.model.checkpoint import load_run

    scorer, config = load_run(model, resolve_device(device))
    if window is not None or lookahead is not None:
        scorer.set_band(window, lookahead)
    lines = Lines()
    feature_set = read_feature_set(
        features, labels=labels, abnormal_first=abnormal_first, features_root=features_root,
        expected_dim=config.scorer.feature_dim, observer=lines,
    )
    videos = feature_set.videos
    order = [(v.id, v.frame_count()) for v in videos]
    result = evaluate(scorer, videos, truth if truth is not None else load_ground_truth(gt, video_order=order),
                      per_video_auc=per_video is not None or plots is not None, left_out=feature_set.left_out)
    for problem in result.problems:
        lines.failed(problem)
    result.problems[:0] = feature_set.problems  # every file left out counts as failed, by name
    for note in result.notes:
        lines.note(note)
    if per_video is not None:
        write_per_video(per_video, result.videos)
    summary = {"model": str(model), "ground_truth": str(gt), "window": config.scorer.window,
               "lookahead": config.scorer.lookahead, **result.summary()}
    if plots is not None:
        from vadpipe.report.evaluation import write_evaluation_report

        page = write_evaluation_report(plots, result, model=str(model), ground_truth=str(gt),
                                       threshold=config.threshold)
        summary["plots"] = str(page)
        if not json_out:
            line(f"plots: {page}")
    if json_out:
        print_json(summary)
    else:
        table = Table(title=f"frame-level metrics ({len(result.videos)} videos, {result.frames:,} frames)")
        for name in ("auc", "ap", "pr_auc"):
            table.add_column({"auc": "ROC AUC", "ap": "AP", "pr_auc": "PR-curve area"}[name], justify="right",
                             overflow="fold")
        table.add_row(*(f"{result.metrics[k] * 100:.2f}%" if result.metrics[k] is not None else "n/a"
                        for k in ("auc", "ap", "pr_auc")))
        out_console.print(table)
    if result.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
