"""`vadpipe watch`: score cameras and streams as they play, with events, clips and alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from vadpipe.atomic import strict_json
from vadpipe.cli.common import DEVICE_HELP, ForwardOpts
from vadpipe.cli.console import err_console, error, out_console, warn
from vadpipe.cli.ranges import PATH, number_of
from vadpipe.core.band import DEFAULT_LIVE_LOOKAHEAD, DEFAULT_LIVE_WINDOW
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.engines import ENGINE_HELP
from vadpipe.errors import UsageError
from vadpipe.live.options import WatchOptions
from vadpipe.model.config import ScorerConfig
from vadpipe.observers import Observer


class _WatchPrinter(Observer):
    """What `watch` prints: JSON lines on stdout with --json, else event and status lines (and a live line on a
    terminal) on stderr; notes unless --quiet."""

    def __init__(self, *, json_lines: bool, every_snippet: bool, quiet: bool):
        self.json_lines, self.every_snippet, self.quiet = json_lines, every_snippet, quiet or json_lines

    def _line(self, obj: dict) -> None:
        sys.stdout.write(strict_json(obj) + "\n")
        sys.stdout.flush()

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"note: {escape(message)}", highlight=False, soft_wrap=True)

    def warning(self, message: str) -> None:
        warn(message)

    def failed(self, message: str) -> None:
        if not self.json_lines:  # with --json, the stream's status line says it
            error(message)

    def event(self, kind: str, data: dict) -> None:
        if self.json_lines:
            if kind != "live" and (kind != "snippet" or self.every_snippet):
                self._line({"type": kind, **data})
            return
        if self.quiet or kind == "snippet":
            return
        if kind in ("event_start", "event_end"):
            record, what = data["event"], kind.removeprefix("event_")
            when = f"{record['start_s']:.1f}s" if what == "start" else f"{record['start_s']:.1f}-{record['end_s']:.1f}s"
            err_console.print(f"[bold red]event {what}[/] {escape(record['id'])} at {when} "
                              f"(peak {record['peak_score']:.2f})", highlight=False, soft_wrap=True)
        elif kind == "status" and data["status"] != "gave_up":
            err_console.print(escape(data["message"]), highlight=False, soft_wrap=True)
        elif kind == "live" and err_console.is_terminal:
            parts = []
            for s in data["streams"]:
                score = "-" if s["score"] is None else f"{s['score']:.2f}"
                parts.append(f"{s['stream']}: {s['status']} score {score}{' EVENT' if s['in_event'] else ''} "
                             f"events {s['events']} snips {s['snippets_scored']} drop {s['dropped_snippets']} "
                             f"rtf {s['real_time_factor'] or '-'}")
            err_console.print(escape(" | ".join(parts)), highlight=False, end="\r", soft_wrap=True)


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"watch summary ({summary['stopped']}, {summary['seconds']:.1f} s)")
    for col in ("stream", "status", "snippets", "snippets/s", "real-time factor", "latency p50/p99 ms",
                "lookahead s", "events", "dropped", "reconnects"):
        table.add_column(col, justify="left" if col in ("stream", "status") else "right", overflow="fold")
    for s in summary["streams"]:
        lat = "-" if s["latency_ms_p50"] is None else f"{s['latency_ms_p50']:.0f} / {s['latency_ms_p99']:.0f}"
        table.add_row(escape(s["stream"]), s["status"], str(s["snippets_scored"]), str(s["snippets_per_s"] or "-"),
                      str(s["real_time_factor"] or "-"), lat, f"{s['lookahead_s']:.2f}", str(s["events"]),
                      str(s["dropped_snippets"]),
                      str(s["reconnects"]))
    err_console.print()
    out_console.print(table)


def _setting(field: str, default, *flags: str, help: str):
    """The option of one :class:`WatchOptions` field, in the range the field declares."""
    return typer.Option(default, *flags, **number_of(WatchOptions, field), help=help)


def watch_command(
    sources: list[str] = typer.Argument(..., help="Streams to watch: rtsp://, rtmp://, http(s):// (HLS too), "
                                        "udp://, tcp://, srt://, /dev/videoN (webcam), - (stdin), or a file."),
    model: Path = typer.Option(..., "--model", "-m", **PATH, help="Run folder written by `vadpipe train`."),
    threshold: float | None = _setting("threshold", None, help="An event opens when the score reaches this "
                                       "(default: the run's threshold, else 0.5)."),
    release: float | None = _setting("release", None, help="...and closes once it stays below this for --hold "
                                     "seconds (default: 0.8 x threshold); at most --threshold."),
    hold: float = _setting("hold_s", 2.0, "--hold", help="Seconds the score must stay below --release to close an "
                           "event."),
    smooth: int = _setting("smooth", 1, help="Causal moving average over this many snippets before the thresholds."),
    window: int | None = typer.Option(None, **number_of(ScorerConfig, "window"), help="Attention band W in snippets "
                                      f"(default: the run's; {DEFAULT_LIVE_WINDOW} for a run trained without one)."),
    lookahead: int | None = typer.Option(None, **number_of(ScorerConfig, "lookahead"), help="Snippets of lookahead L "
                                         f"(default: the run's; {DEFAULT_LIVE_LOOKAHEAD} for a run trained without a "
                                         "band); each score then comes L x 16 frames late (L = 4: 2.56 s at 25 fps)."),
    json_out: bool = typer.Option(False, "--json", help="JSON lines on stdout: status, event_start, event_end, "
                                  "and a summary at the end."),
    every_snippet: bool = typer.Option(False, "--every-snippet", help="With --json: also one line per snippet."),
    out: Path | None = typer.Option(None, "--out", "-o", **PATH, help="Folder for per-stream score CSVs and, per "
                                    "event, an MP4 clip, its JSON and its PNG curve."),
    pre: float = _setting("pre_s", 5.0, "--pre", help="Seconds of video before an event in its clip."),
    post: float = _setting("post_s", 5.0, "--post", help="Seconds of video after an event in its clip."),
    webhook: str | None = typer.Option(None, help="POST each event's JSON (start and end) to this URL; retried "
                                       "with backoff on a thread of its own."),
    behind: str = typer.Option("drop", help="When scoring falls behind: drop (the oldest waiting snippets) or "
                               "queue (the reader waits; at most --queue snippets wait)."),
    queue: int = _setting("queue", 8, help="Snippets that may wait per stream."),
    realtime: bool = typer.Option(False, "--realtime", help="Play files at their frame rate, as if live."),
    retries: int = _setting("retries", 10, help="Failed reconnects in a row before a stream is given up."),
    backoff: float = _setting("backoff", 1.0, help="First wait before reconnecting, seconds (doubles, at most 30)."),
    timeout: float = _setting("timeout", 10.0, help="Seconds an open or a read may stall before the stream counts "
                              "as lost."),
    duration: float | None = _setting("duration_s", None, "--duration", help="Stop after this many seconds "
                                      "(default: when all sources end or on Ctrl-C)."),
    crops: int | None = typer.Option(None, **number_of(FeatureSpec, "crops"),
                                     help="Override the run's crops (1, 5 or 10); 1 is fastest."),
    backbone: str | None = typer.Option(None, help="Override the backbone recorded in the run."),
    weights: str | None = typer.Option(None, help="Backbone checkpoint file or registry name (default: cached)."),
    batch_size: int = _setting("batch_size", 4, "--batch-size", help="Snippets (of all streams) per backbone pass."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    precision: str = ForwardOpts.precision,
    calibrate: list[Path] = ForwardOpts.calibrate,
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP + " Recorded in each "
                               "event's JSON and in the summary."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live line or event lines (the summary stays)."),
) -> None:
    """Score live streams (or files played as live) with a trained run: events as they happen."""
    from vadpipe.live.sources import BEHIND_POLICIES, parse_sources

    if behind not in BEHIND_POLICIES:
        raise UsageError(f"--behind {behind}: use one of {', '.join(BEHIND_POLICIES)}")
    if every_snippet and not json_out:
        raise UsageError("--every-snippet goes with --json")
    loop = dict(hold_s=hold, smooth=smooth, out=out, pre_s=pre, post_s=post, webhook=webhook, behind=behind,
                queue=queue, realtime=realtime, retries=retries, backoff=backoff, timeout=timeout,
                duration_s=duration)
    # The options are checked before the sources are opened and the run is read (ranges, release <= threshold,
    # --every-snippet with --json); the run's threshold, when --threshold is not given, once the run is read.
    WatchOptions(sources=[], threshold=threshold, release=release, batch_size=batch_size, **loop)
    specs = parse_sources(sources)
    if sum(s.kind == "stdin" for s in specs) > 1:
        raise UsageError("stdin (-) can be given only once")
    if out is not None:
        from vadpipe.infer.scoring import check_writable

        check_writable(out)

    from vadpipe.core.forward import ForwardOptions
    from vadpipe.live.session import run_watch

    printer = _WatchPrinter(json_lines=json_out, every_snippet=every_snippet, quiet=quiet)
    forward = ForwardOptions(device=device, engine=engine, batch_size=batch_size, precision=precision,
                             calibrate=tuple(str(p) for p in calibrate or ()))
    summary = run_watch(specs, model, forward=forward,
                        window=window, lookahead=lookahead, crops=crops, backbone=backbone, weights=weights,
                        threshold=threshold, release=release, observer=printer, **loop)
    if json_out:
        sys.stdout.write(strict_json(summary) + "\n")
        sys.stdout.flush()
    elif not quiet:
        _print_summary(summary)
    if summary["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)
