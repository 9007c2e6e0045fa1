"""The Typer app, the `--version` flag, and the one place where errors become one-line messages.

Importing this module (and so `vadpipe --help`, `vadpipe CMD --help` and a usage error) imports
no torch, torchvision, matplotlib or sklearn: each command imports what it needs when it runs.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback

import typer
import typer.core
from rich.markup import escape

from vadpipe.cli.console import err_console
from vadpipe.errors import VadpipeError


class _OneLineErrors(typer.core.TyperGroup):
    """Every expected error as one line on stderr and its exit code, however the app is invoked
    (:func:`main`, ``typer.testing.CliRunner``): usage errors (a bad option value, an unknown option,
    a missing argument; exit 2) in place of Typer's usage box, and :class:`VadpipeError` (exit 1 or 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's UsageError / BadParameter / NoSuchOption ...
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} -h`)" if ctx is not None else ""
            _print_error(" ".join(_usage_message(exc).split()) + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("aborted", highlight=False)
            sys.exit(1)
        except VadpipeError as exc:
            debug = os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            hint = "" if debug or exc.exit_code == 2 else f" ({DEBUG_VARIABLE}=1 shows the traceback)"
            _print_error(error_line(exc) + hint)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _print_error(line: str) -> None:
    err_console.print(f"[red]vadpipe: error:[/red] {escape(line)}", highlight=False, soft_wrap=True)


def _usage_message(exc: typer.TyperException) -> str:
    """``--lr -1 must be FLOAT>0`` for a value a range refused; click's own wording for the rest."""
    from vadpipe.cli.ranges import OptionValueError

    param = getattr(exc, "param", None)
    if isinstance(exc, OptionValueError) and param is not None:
        name = param.opts[0] if param.param_type_name == "option" else (param.metavar or param.name.upper())
        return f"{name} {exc.message}"
    return exc.format_message()


app = typer.Typer(
    cls=_OneLineErrors,
    name="vadpipe",
    help="Weakly supervised video anomaly detection: extract I3D features, train LA-Net + DDL, "
    "evaluate frame-level AUC/AP, and score raw videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module registers its command(s) on `app` through a `register(app)` function.
COMMAND_MODULES = ["extract", "train", "evaluate", "score", "watch", "report", "weights", "demo"]


def _versions() -> str:
    import av
    import torch

    import vadpipe
    from vadpipe.engines.runtimes import ENGINE_PACKAGES, installed_versions

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    gpu = f", device: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU visible"
    ffmpeg = ".".join(str(x) for x in av.library_versions.get("libavcodec", ())) or "?"
    return (
        f"vadpipe {vadpipe.__version__}\n"
        f"torch {torch.__version__} ({cuda}{gpu})\n"
        f"PyAV {av.__version__} (libavcodec {ffmpeg}, FFmpeg {getattr(av, 'ffmpeg_version_info', '?')})\n"
        f"CPU engines: {_engines(ENGINE_PACKAGES, installed_versions())}\n"
        f"python {sys.version.split()[0]}"
    )


def _engines(packages: dict, versions: dict) -> str:
    """``onnxruntime 1.32.0, openvino not installed (pip install 'vadpipe[openvino]')``."""
    return ", ".join(f"{engine} {versions[module]}" if module in versions else
                     f"{engine} not installed (pip install 'vadpipe[{extra}]')"
                     for engine, (module, _, extra) in packages.items())


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


# Library parameters whose command-line flag is spelled otherwise (the rest: `_` -> `-`).
FLAGS = {"resample_fps": "--fps", "allow_random": "--random-init", "hold_s": "--hold", "pre_s": "--pre",
         "post_s": "--post", "duration_s": "--duration", "min_duration_s": "--min-duration",
         "merge_gap_s": "--merge-gap", "features_fps": "--fps", "json_lines": "--json"}
DEBUG_VARIABLE = "VADPIPE_DEBUG"


def flag_of(param: str) -> str:
    """The command-line flag of a library parameter (``resample_fps`` -> ``--fps``)."""
    return FLAGS.get(param, "--" + param.replace("_", "-"))


def error_line(exc: VadpipeError) -> str:
    """The one line printed for an error: a library parameter at its head becomes the flag."""
    message = str(exc)
    if exc.param and message.startswith(exc.param):
        message = flag_of(exc.param) + message[len(exc.param):]
    for name in exc.params:  # a constraint between settings names each of them as its flag
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag_of(name), message)
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 all good, 1 some input failed, 2 usage error.

    Every expected error is one line on stderr, never a traceback; with ``VADPIPE_DEBUG=1`` the
    chained traceback behind it is printed first.
    """
    try:
        app(args=argv, prog_name="vadpipe", standalone_mode=True)
    except SystemExit as exc:  # every way out: errors (1, 2, printed by _OneLineErrors), --help (0), typer.Exit(n)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
