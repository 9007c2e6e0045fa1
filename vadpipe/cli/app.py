"""The Typer app, the `--version` flag, and the one place where errors become one-line messages.

Importing this module (and so `vadpipe --help`, `vadpipe CMD --help` and a usage error) imports
no torch, torchvision, matplotlib or sklearn: each command imports what it needs when it runs.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import shutil
import sys
import traceback

import typer
import typer.core
from rich.markup import escape

from vadpipe.cli.console import err_console
from vadpipe.errors import VadpipeError, disk_error_line, is_disk_error


def _plain_command(command):
    """``command`` (as the app hands it out), made to show its ``--help`` as the code wrote it.

    Typer renders help texts as Rich markup, which ate ``[onnx]`` in ``pip install 'vadpipe[onnx]'``:
    the texts are escaped once, before the first rendering (only where the markup mode is Rich). Its
    type column shows ``<bool>``, ``<str>``, ``<list[Path]>`` (Typer >= 0.2x): options show their
    metavar (ranges such as ``0<FLOAT<=1`` and ``PATH`` are set by :mod:`vadpipe.cli.ranges`), arguments
    and the rest click's (``TEXT``, ``INTEGER``, ``PATH...``), and flags nothing.
    """
    if command is not None and not getattr(command, "_plain_help", False):
        command.__class__ = _with_plain_help(type(command))  # a subclass: the same object layout
    return command


@functools.cache
def _with_plain_help(cls: type) -> type:
    def format_help(self, ctx, formatter):
        _plain_help(self, ctx)
        return cls.format_help(self, ctx, formatter)

    def get_command(self, ctx, cmd_name):  # a group's commands (`weights list`) too
        return _plain_command(cls.get_command(self, ctx, cmd_name))

    methods = {"format_help": format_help, "_plain_help": True}
    if hasattr(cls, "get_command"):
        methods["get_command"] = get_command
    return type(cls.__name__, (cls,), methods)


_CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN", "Path": "PATH",
                "path": "PATH", "file": "FILE", "directory": "DIRECTORY"}


def _plain_type(shown: str | None) -> str | None:
    """Typer's ``<list[Path]>`` / ``<str>`` / ``<int>`` as click writes them: ``PATH...`` / ``TEXT`` / ``INTEGER``."""
    match = re.fullmatch(r"<(.*)>(\.\.\.)?", shown or "")
    if match is None:
        return shown  # a metavar, or an older Typer's own plain name
    name, many = match.group(1), match.group(2) or ""
    if name.startswith("list[") and name.endswith("]"):
        name, many = name[len("list["):-1], "..."
    return "|".join(_CLICK_NAMES.get(part, part.upper() if part.isidentifier() else part)
                    for part in name.split("|")) + many


@functools.cache
def _with_type_column(cls: type) -> type:
    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None  # a flag takes no value
        return _plain_type(cls.display_type_rich(self, ctx))

    return type(cls.__name__, (cls,), {"display_type_rich": display_type_rich, "_type_column": True})


RICH_HELP_MIN_COLUMNS = 100  # narrower, Rich's option table squeezes the help into a column of a few words


def _rich_help_fits() -> bool:
    """Rich's boxed help only where it has at least 100 columns (a wide terminal, or ``COLUMNS``); in 80
    columns, a pipe or a file, click's plain layout, which puts a long option's help on the next line,
    keeps the help column wide and cuts no option name."""
    return shutil.get_terminal_size().columns >= RICH_HELP_MIN_COLUMNS


def _click_layout(command) -> None:
    command.rich_markup_mode = None  # Typer's switch to click's own help formatter
    for sub in getattr(command, "commands", {}).values():
        if not sub.short_help and sub.help:  # click would cut the line listing it at 45 characters
            sub.short_help = sub.help.strip().split("\n\n")[0].replace("\n", " ")


def _plain_help(command, ctx) -> None:
    if not _rich_help_fits():
        _click_layout(command)
    rich = getattr(command, "rich_markup_mode", None) == "rich"
    texts = [command, *getattr(command, "commands", {}).values()]  # a group's panel shows its commands' help
    for param in command.get_params(ctx):  # --help included
        if hasattr(type(param), "display_type_rich") and not getattr(param, "_type_column", False):
            param.__class__ = _with_type_column(type(param))
        texts.append(param)
    for thing in texts if rich else ():
        if not getattr(thing, "_help_escaped", False):
            for name in ("help", "short_help", "epilog"):
                if isinstance(getattr(thing, name, None), str):
                    setattr(thing, name, escape(getattr(thing, name)))
            thing._help_escaped = True


class _OneLineErrors(typer.core.TyperGroup):
    """Every expected error as one line on stderr and its exit code, however the app is invoked
    (:func:`main`, ``typer.testing.CliRunner``): usage errors (a bad option value, an unknown option,
    a missing argument; exit 2) in place of Typer's usage box, and :class:`VadpipeError` (exit 1 or 2)."""

    def format_help(self, ctx, formatter):
        _plain_help(self, ctx)
        return super().format_help(ctx, formatter)

    def get_command(self, ctx, cmd_name):
        return _plain_command(super().get_command(ctx, cmd_name))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        json_out = _asks_json(sys.argv[1:] if args is None else list(args))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's UsageError / BadParameter / NoSuchOption ...
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} -h`)" if ctx is not None else ""
            _fail(" ".join(_usage_message(exc).split()) + hint, exc.exit_code, json_out)
        except typer.Abort:
            err_console.print("aborted", highlight=False)
            _fail(None, 1, json_out)
        except OSError as exc:
            if not is_disk_error(exc):
                raise
            debug = os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            message = disk_error_line(exc)
            _fail(message + ("" if debug else f" ({DEBUG_VARIABLE}=1 shows the traceback)"), 1, json_out, message)
        except VadpipeError as exc:
            debug = os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            hint = "" if debug or exc.exit_code == 2 else f" ({DEBUG_VARIABLE}=1 shows the traceback)"
            _fail(error_line(exc) + hint, exc.exit_code, json_out, error_line(exc))
        sys.exit(code if isinstance(code, int) else 0)


def _asks_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--json`` (before a ``--`` that ends the options)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _fail(line: str | None, code: int, json_out: bool, error: str | None = None) -> None:
    """End the command with ``code``: the error's one line on stderr and, for ``--json``, a JSON document
    with the error on stdout, so that a pipeline reading stdout always gets one. It is one line, so it
    is also a line of `watch --json`'s JSON lines (``type`` as theirs)."""
    if line is not None:
        _print_error(line)
    if json_out:
        sys.stdout.write(json.dumps({"type": "error", "error": error or line or "aborted", "exit_code": code}) + "\n")
        sys.stdout.flush()
    sys.exit(code)


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
    for stream in (sys.stdout, sys.stderr):  # a file name's non-UTF-8 bytes print as \xe9, not a crash
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass  # not a text stream of the io module (a test's capture): left as it is
    try:
        app(args=argv, prog_name="vadpipe", standalone_mode=True)
    except SystemExit as exc:  # every way out: errors (1, 2, printed by _OneLineErrors), --help (0), typer.Exit(n)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
