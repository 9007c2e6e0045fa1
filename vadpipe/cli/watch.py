"""`vadpipe watch`: score cameras and streams as they play, with events, clips and alerts."""

from __future__ import annotations

from pathlib import Path

import typer

from vadpipe.cli.common import DEVICE_HELP
from vadpipe.cli.ranges import PATH, number_of
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.engines import ENGINE_HELP
from vadpipe.errors import UsageError
from vadpipe.live.options import WatchOptions
from vadpipe.model.config import ScorerConfig


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
                                      "(default: the run's; 64 for a run trained without one)."),
    lookahead: int | None = typer.Option(None, **number_of(ScorerConfig, "lookahead"), help="Snippets of lookahead L "
                                         "(default: the run's); each score then comes L snippets late."),
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
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live line or event lines (the summary stays)."),
) -> None:
    """Score live streams (or files played as live) with a trained run: events as they happen."""
    from vadpipe.live.sources import BEHIND_POLICIES, parse_sources

    if behind not in BEHIND_POLICIES:
        raise UsageError(f"--behind {behind}: use one of {', '.join(BEHIND_POLICIES)}")
    loop = dict(hold_s=hold, smooth=smooth, json_lines=json_out, every_snippet=every_snippet, out=out, pre_s=pre,
                post_s=post, webhook=webhook, behind=behind, queue=queue, realtime=realtime, retries=retries,
                backoff=backoff, timeout=timeout, duration_s=duration, batch_size=batch_size, quiet=quiet)
    # The options are checked before the sources are opened and the run is read (ranges, release <= threshold,
    # --every-snippet with --json); the run's threshold, when --threshold is not given, once the run is read.
    WatchOptions(sources=[], threshold=threshold, release=release, **loop)
    specs = parse_sources(sources)
    if sum(s.kind == "stdin" for s in specs) > 1:
        raise UsageError("stdin (-) can be given only once")
    if out is not None:
        from vadpipe.infer.scoring import check_writable

        check_writable(out)

    from vadpipe.live.session import run_watch

    summary = run_watch(specs, model, device=device, window=window, lookahead=lookahead, crops=crops,
                        backbone=backbone, weights=weights, threshold=threshold, release=release, engine=engine,
                        **loop)
    if summary["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)
