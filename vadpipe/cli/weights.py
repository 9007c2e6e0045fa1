"""`vadpipe weights list | download | import`: the backbone checkpoints vadpipe knows and caches."""

from __future__ import annotations

from pathlib import Path

import typer

from vadpipe.cli.console import out_console, print_json
from vadpipe.cli.ranges import path
from vadpipe.observers import Observer

weights_app = typer.Typer(
    help="Backbone checkpoints: list the known ones, download or import them into the cache "
    "($VADPIPE_HOME/weights, else the user cache dir).",
    no_args_is_help=True,
)


@weights_app.command("list")
def list_command(
    json_out: bool = typer.Option(False, "--json", help="Print the registry as one JSON document on stdout."),
) -> None:
    """Known checkpoints, which backbone each fits, and whether it is cached."""
    from rich.table import Table

    from vadpipe.weights.registry import cache_dir, cached_path, entries

    rows = [
        {
            "name": e.name, "backbone": e.backbone, "feature_dim": e.feature_dim, "cached": cached_path(e).is_file(),
            "path": str(cached_path(e)), "file_name": e.file_name, "sha256_known": e.sha256 is not None,
            "sha256": e.sha256, "url": e.url, "urls": list(e.urls), "license": e.license, "notes": e.notes,
        }
        for e in entries().values()
    ]
    if json_out:
        print_json({"cache_dir": str(cache_dir()), "weights": rows})
        return
    table = Table(title=f"backbone weights (cache: {cache_dir()})")
    for column in ("name", "backbone", "dim", "cached", "sha256 known", "url"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"], r["backbone"], str(r["feature_dim"]), "yes" if r["cached"] else "no",
            "yes" if r["sha256_known"] else "no", r["url"] or "none: use `vadpipe weights import`",
        )
    out_console.print(table)


@weights_app.command("download")
def download_command(
    name: str = typer.Argument(..., help="Registry name (see `vadpipe weights list`)."),
    url: str | None = typer.Option(None, "--url", help="Download from this mirror instead of the registry's URL."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download a checkpoint (resuming a partial one), verify it and cache it as .safetensors."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from vadpipe.backbones.install import download
    from vadpipe.cli.console import err_console

    bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=err_console, disable=quiet or not err_console.is_terminal)
    with bars:
        path = download(name, url=url, observer=_DownloadBar(bars))
    _report(name, path)


class _DownloadBar(Observer):
    """One bar per request of a download, in bytes."""

    def __init__(self, bars):
        self.bars, self.task = bars, None

    def started(self, item, size=None) -> None:
        self.task = self.bars.add_task(str(item), total=size)

    def advanced(self, units: int) -> None:
        self.bars.advance(self.task, units)

    def finished(self, item, result=None) -> None:
        self.bars.remove_task(self.task)


@weights_app.command("import")
def import_command(
    name: str = typer.Argument(..., help="Registry name (see `vadpipe weights list`)."),
    file: Path = typer.Argument(..., **path("FILE"), help="The checkpoint file (.pth / .pyth / .pt / "
                               ".safetensors, or a Caffe2 .pkl for resnet3d)."),
) -> None:
    """Verify a checkpoint you already have (sha256 where known, strict load) and cache it as .safetensors."""
    from vadpipe.backbones.install import import_weights

    _report(name, import_weights(name, file))


def _report(name: str, path: Path) -> None:
    from vadpipe.weights.checkpoint import read_metadata

    meta = read_metadata(path)
    source = f"{meta.get('source_file', '?')} (sha256 {meta.get('source_sha256', '?')})"
    out_console.print(f"{name}: {source} checked and cached as {path}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")
