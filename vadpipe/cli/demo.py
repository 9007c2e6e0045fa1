"""`vadpipe demo`: the whole pipeline, offline, on synthetic surveillance-like videos."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape

from vadpipe.cli.common import DEVICE_HELP, Lines
from vadpipe.cli.console import line, out_console, print_json
from vadpipe.cli.ranges import PATH, number, number_of
from vadpipe.devices import resolve_device
from vadpipe.model.config import TrainConfig


def demo_command(
    out: Path = typer.Option(Path("vadpipe-demo"), "--out", "-o", **PATH,
                             help="Folder for videos, features, run and scores."),
    epochs: int = typer.Option(100, **number_of(TrainConfig, "epochs"), help="Training epochs."),
    videos: int = typer.Option(20, **number(int, min=1, max=10_000),
                               help="Training videos per class (normal / abnormal)."),
    seed: int = typer.Option(0, **number_of(TrainConfig, "seed"),
                             help="Seed of the scenes, the camera and the training (the backbone's is fixed)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON document on stdout."),
) -> None:
    """Render synthetic videos, extract features, train on video-level labels, score held-out videos."""
    from vadpipe.demo.run import DemoSettings, run_demo

    settings = DemoSettings(train_normal=videos, train_abnormal=videos, epochs=epochs, seed=seed)
    result = run_demo(out, settings, device=str(resolve_device(device)), observer=_DemoLines(quiet=json_out))
    if json_out:
        print_json(dataclasses.asdict(result))
        return
    auc = f"{result.frame_auc * 100:.1f}%" if result.frame_auc is not None else "n/a"
    backbone = f"{result.backbone} ({'random-init' if result.random_init else 'pretrained'})"
    out_console.print(f"held-out frame AUC: {auc}  (backbone {backbone}; 50% is chance)", soft_wrap=True)
    intervals = result.example.get("intervals", [])
    spans = ", ".join(f"{iv['start_s']:.1f}-{iv['end_s']:.1f}s" for iv in intervals) or "none"
    out_console.print(f"example {escape(Path(result.example.get('video', '?')).name)}: detected intervals {spans}",
                      soft_wrap=True)
    for kind, path in result.outputs.items():
        out_console.print(f"  {kind}: {escape(str(path))}", soft_wrap=True)
    run = escape(str(result.run))
    out_console.print(f"run folder: {run} (score a video with it: vadpipe score VIDEO --model {run})",
                      soft_wrap=True)
    out_console.print("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in result.seconds.items()), soft_wrap=True)


class _DemoLines(Lines):
    """Each stage of the demo as one line on stderr (``1/4 rendering ...``), and its notes indented under it;
    with --json only warnings and errors."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def event(self, kind: str, data: dict) -> None:
        if kind == "stage" and not self.quiet:
            line(f"{data['stage']}/{data['stages']} {data['message']}")

    def note(self, message: str) -> None:
        if not self.quiet:
            line(f"    note: {message}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
