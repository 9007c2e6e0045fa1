"""The Typer app, the `--version` flag, and the one place where errors become one-line messages."""

from __future__ import annotations

import importlib
import sys

import click
import typer

from vadpipe.cli.console import err_console
from vadpipe.errors import VadpipeError

app = typer.Typer(
    name="vadpipe",
    help="Weakly supervised video anomaly detection: extract I3D features, train LA-Net + DDL, "
    "evaluate frame-level AUC/AP, and score raw videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module registers its command(s) on `app` through a `register(app)` function.
COMMAND_MODULES = ["train", "evaluate"]


def _versions() -> str:
    import av
    import torch

    import vadpipe

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    gpu = f", device: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU visible"
    ffmpeg = ".".join(str(x) for x in av.library_versions.get("libavcodec", ())) or "?"
    return (
        f"vadpipe {vadpipe.__version__}\n"
        f"torch {torch.__version__} ({cuda}{gpu})\n"
        f"PyAV {av.__version__} (libavcodec {ffmpeg}, FFmpeg {getattr(av, 'ffmpeg_version_info', '?')})\n"
        f"python {sys.version.split()[0]}"
    )


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(_versions())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True,
        help="Print the versions of vadpipe, torch (+CUDA), PyAV/FFmpeg and exit.",
    ),
) -> None:
    """vadpipe: where in a video is something abnormal?"""


for _name in COMMAND_MODULES:
    importlib.import_module(f"vadpipe.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every expected error is one line on stderr, never a traceback."""
    try:
        result = app(args=argv, prog_name="vadpipe", standalone_mode=False)
        return int(result or 0)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("vadpipe: aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except VadpipeError as exc:
        err_console.print(f"[red]vadpipe: error:[/red] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("vadpipe: interrupted; finished outputs are kept, rerun to resume")
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
