"""Shared rich consoles: tables and summaries on stdout, progress and errors on stderr."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from vadpipe.atomic import strict_json
from vadpipe.devices import torchrun_processes

# Where output is not a terminal (a pipe, a log file) nothing is cut or wrapped: each line is printed
# whole, and a table is as wide as its widest row. On a terminal, lines are printed with soft_wrap (the
# terminal wraps them, never mid-phrase with a newline) and tables fold their cells to the width.
UNCUT_WIDTH = 100_000


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, width=UNCUT_WIDTH, soft_wrap=True)


out_console = _console()
err_console = _console(stderr=True)


def line(text: str) -> None:
    """One line of plain text on stderr (a note, a stage, a closing line), wrapped by the terminal only."""
    err_console.print(text, highlight=False, soft_wrap=True, markup=False)


def warn(message: str) -> None:
    """One line on stderr for a bad input that the batch skips."""
    # escaped: a message's own brackets (a path like `cam [2].mp4`, `vadpipe[onnx]`) are not markup
    err_console.print(f"[yellow]vadpipe: warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """One line on stderr for an input of this command that could not be used (the exit code will be 1)."""
    err_console.print(f"[red]vadpipe: error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def print_json(obj) -> None:
    """Machine output: exactly one JSON document on stdout.

    Under torchrun with several processes (``WORLD_SIZE`` > 1) every rank prints its own
    document into the same stdout, so each is written as one compact line in one write: the
    output reads as JSON lines, one per rank, never interleaved mid-document."""
    several_ranks = torchrun_processes() > 1
    sys.stdout.write((strict_json(obj) if several_ranks else strict_json(obj, indent=2)) + "\n")
    sys.stdout.flush()


def progress(*, quiet: bool = False) -> Progress | contextlib.nullcontext:
    """A progress bar on stderr, silent when stderr is not a terminal or `quiet` is set."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet or not err_console.is_terminal,
        transient=False,
    )
