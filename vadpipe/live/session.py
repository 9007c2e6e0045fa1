"""Setting up a watch: the run's scorer (banded), its backbone and preprocessing, then the loop."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from vadpipe.cli.console import err_console, out_console
from vadpipe.live.sources import SourceSpec


def run_watch(specs: list[SourceSpec], run_dir: Path, *, device: str = "cpu", window: int | None = None,
              lookahead: int | None = None, crops: int | None = None, backbone: str | None = None,
              weights: str | None = None, engine: str = "torch", threshold: float | None = None,
              release: float | None = None,
              **loop_options) -> dict:
    """Load the run, build what scores a snippet exactly as `score` does, and watch until done.

    Returns:
        the summary (also printed: one JSON line with ``json_lines``, a table otherwise).
    """
    from vadpipe.backbones.preprocess import preprocess_snippets
    from vadpipe.backbones.registry import build_backbone
    from vadpipe.core.band import DEFAULT_LIVE_WINDOW
    from vadpipe.devices import resolve_device
    from vadpipe.features.runner import BackboneRunner
    from vadpipe.infer.score import IntervalOptions
    from vadpipe.infer.scoring import scoring_spec
    from vadpipe.live.watch import Watcher, WatchOptions
    from vadpipe.model.checkpoint import load_run
    from vadpipe.model.online import OnlineScorer

    torch_device = resolve_device(device)
    scorer, config = load_run(run_dir, torch_device)
    quiet = loop_options.get("quiet") or loop_options.get("json_lines")
    if window is None and not scorer.cfg.window:
        window = DEFAULT_LIVE_WINDOW
        if not quiet:
            err_console.print(f"note: the run was trained without a band; watching with --window {window}",
                              highlight=False)
    scorer.set_band(window, lookahead)
    threshold, _ = IntervalOptions(threshold=threshold).resolve_threshold(config)
    release = round(0.8 * threshold, 6) if release is None else release
    options = WatchOptions(sources=specs, threshold=threshold, release=release, **loop_options)  # checks release
    note = (lambda _: None) if quiet else (lambda line: err_console.print(f"note: {line}", highlight=False))
    spec = scoring_spec(config, backbone=backbone, crops=crops, note=note)  # exactly as `score` extracts
    crops = spec.crops
    net = build_backbone(spec.backbone, weights=weights, random_init=spec.random_init, device=torch_device)
    runner = BackboneRunner(net, torch_device, engine=engine)  # the same forward-pass engines as score
    if runner.engine != "torch" and not quiet:
        from vadpipe.engines.backbone import export_pending

        pending = export_pending(net, runner.engine, spec.crop_size)
        if pending:
            note(pending)
    prepare = functools.partial(preprocess_snippets, prep=net.spec.preprocessing, crops=spec.crops,
                                resize_short=spec.resize_short, crop_size=spec.crop_size, crop_order=spec.crop_order,
                                resize_mode=spec.resize_mode)
    model_info = {"run": str(run_dir), "window": scorer.cfg.window, "lookahead": scorer.cfg.lookahead,
                  "threshold": threshold, "release": release, "backbone": net.spec.name, "crops": crops,
                  "engine": runner.engine}
    watcher = Watcher(options, scorer, runner, prepare, new_scorer=lambda: OnlineScorer(scorer),
                      model_info=model_info)
    summary = watcher.run()
    if options.json_lines:
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()
    elif not options.quiet:
        _print_summary(summary)
    return summary


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"watch summary ({summary['stopped']}, {summary['seconds']:.1f} s)")
    for col in ("stream", "status", "snippets", "snippets/s", "real-time factor", "latency p50/p99 ms", "events",
                "dropped", "reconnects"):
        table.add_column(col, justify="left" if col in ("stream", "status") else "right")
    for s in summary["streams"]:
        lat = "-" if s["latency_ms_p50"] is None else f"{s['latency_ms_p50']:.0f} / {s['latency_ms_p99']:.0f}"
        table.add_row(s["stream"], s["status"], str(s["snippets_scored"]), str(s["snippets_per_s"] or "-"),
                      str(s["real_time_factor"] or "-"), lat, str(s["events"]), str(s["dropped_snippets"]),
                      str(s["reconnects"]))
    err_console.print()
    out_console.print(table)
