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

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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
