"""`vadpipe report SCORES_DIR`: the HTML report of a scores folder, rebuilt from the per-video outputs."""

from __future__ import annotations

from pathlib import Path

import typer

from vadpipe.cli.console import line, print_json, progress, warn
from vadpipe.cli.ranges import path
from vadpipe.errors import UsageError

VIDEO_HELP = ("What each video page plays: auto (the original, hard-linked into the folder, when browsers play "
              "it; else a VP9/WebM transcode), webm (always the transcode, at most 480 lines high) "
              "or none (curves only).")


def report_command(
    scores_dir: Path = typer.Argument(..., **path("SCORES_DIR"), help="The --out folder of `vadpipe score`."),
    video: str = typer.Option("auto", "--video", help=VIDEO_HELP),
    videos: list[Path] = typer.Option(None, "--videos", **path("DIR"),
                                      help="A folder (or file) the pages may play videos from, besides SCORES_DIR "
                                      "(repeatable): paths inside a scores folder are never trusted on their own."),
    model: list[Path] = typer.Option(None, "--model", "-m", **path("RUN"),
                                     help="A run folder whose settings the pages may show, besides runs inside "
                                     "SCORES_DIR (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as one JSON document on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary line."),
) -> None:
    """Write SCORES_DIR/report.html (all videos, sortable) and one page per video with its player and curve."""
    from vadpipe.report.media import VIDEO_MODES

    if video not in VIDEO_MODES:
        raise UsageError(f"--video must be one of {', '.join(VIDEO_MODES)}, not {video!r}")
    report = write_report(scores_dir, video=video, videos=videos or [], runs=model or [], quiet=quiet or json_out)
    if json_out:
        print_json({"report": str(report.index), "pages": report.pages, "media": report.media,
                    "failed": report.failed, "bytes": report.bytes})
    if report.unreadable:
        raise typer.Exit(1)


def write_report(scores_dir: Path, *, failed: list[str] | None = None, video: str = "auto", videos=(), runs=(),
                 quiet: bool = False):
    """Build the report with a progress bar and a closing line on stderr (also what `score --report` calls).

    ``videos`` and ``runs``: what the user named, the only places outside SCORES_DIR the report reads from.
    """
    from vadpipe.report.build import build_report, find_scored
    from vadpipe.report.template import count

    with progress(quiet=quiet) as bar:
        task = bar.add_task("report", total=len(find_scored(scores_dir)) if scores_dir.is_dir() else None, info="")
        report = build_report(scores_dir, failed=failed, video=video, videos=videos, runs=runs, warn=warn,
                              on_video=lambda key: bar.update(task, advance=1, info=key))
    if not quiet:
        line(f"report: {report.index} ({count(len(report.pages), 'video page')}, "
             f"{report.bytes / 2**20:.1f} MiB written)")
    return report


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
