"""`vadpipe extract`: videos -> one (T, C, D) feature file per video + index.jsonl (resumable, shardable)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from vadpipe.cli.common import ForwardOpts, check_engine, removed_if_left_empty
from vadpipe.cli.console import error, line, out_console, print_json, progress, warn
from vadpipe.cli.ranges import PATH, number_of, path
from vadpipe.core.backbone_facts import BACKBONES, DEFAULT_BACKBONE
from vadpipe.core.feature_spec import CROP_COUNTS, FEATURE_DTYPES, TAIL_POLICIES, FeatureSpec
from vadpipe.engines import ENGINE_HELP
from vadpipe.errors import UsageError
from vadpipe.observers import Observer
from vadpipe.video.names import VIDEO_EXTENSIONS

_SIZES = "/".join(sorted({f"{b.preprocessing.resize_short}" for b in BACKBONES.values()}))
_CROP_SIZES = "/".join(sorted({f"{b.preprocessing.crop_size}" for b in BACKBONES.values()}))


class _RichObserver(Observer):
    """Two bars on stderr: videos, and snippets (of the videos started so far, with snippets/s).

    Batches pack snippets of consecutive videos, and the next video is read while the last
    one is still in the backbone, so the snippet bar counts across videos: its total grows by
    each video's expected snippets when that video starts, and it names the latest one.
    """

    def __init__(self, bars):
        self.bars = bars
        self.videos = self.snippets = None
        self.t0 = time.perf_counter()
        self.total_snippets = 0
        self.expected: int | None = 0

    def planned(self, todo: int, skipped: int = 0, failed: int = 0) -> None:
        self.videos = self.bars.add_task("videos", total=todo, info=f"{skipped} already done")
        self.snippets = self.bars.add_task("snippets", total=None, info="")

    def started(self, job, snippets: int | None = None) -> None:
        if not self.total_snippets:
            self.t0 = time.perf_counter()  # the rate counts from the first video, not the model build
        self.expected = self.expected + snippets if snippets and self.expected is not None else None
        self.bars.update(self.snippets, total=self.expected, info=job.id)

    def advanced(self, n: int) -> None:
        self.total_snippets += n
        rate = self.total_snippets / max(1e-9, time.perf_counter() - self.t0)
        self.bars.advance(self.snippets, n)
        self.bars.update(self.videos, info=f"{rate:.1f} snippets/s")

    def finished(self, job, record=None) -> None:
        if not record.ok:
            error(record.error)
        if self.videos is not None:
            self.bars.advance(self.videos, 1)

    def note(self, message: str) -> None:
        warn(message)


def extract_command(
    inputs: list[Path] = typer.Argument(
        ..., **path("INPUTS"), help=f"Video files, folders (searched recursively for {' '.join(VIDEO_EXTENSIONS)}) "
        "or .txt/.list files naming one video per line.", show_default=False,
    ),
    out: Path = typer.Option(..., "--out", "-o", **PATH, help="Output folder: <out>/<path below the input folder>.npy "
                             "+ index.jsonl."),
    backbone: str = typer.Option(DEFAULT_BACKBONE, help="Backbone: " + ", ".join(
        f"{spec.name} ({spec.feature_dim}-d, {spec.default_crops} crops)" for spec in BACKBONES.values()) + "."),
    crops: int | None = typer.Option(None, **number_of(FeatureSpec, "crops"),
                                     help=f"{', '.join(map(str, CROP_COUNTS))}: the centre; the centre, then "
                                     "the corners (XD __0..__4); or torchvision's TenCrop order (corners, centre, "
                                     "then those of the flipped frame). Default: the backbone's (above), or 10 for "
                                     "--layout rtfm, 5 for --layout xd."),
    tail: str | None = typer.Option(None, help=f"Last partial snippet: {TAIL_POLICIES[0]} (loop its frames; "
                                    "T = ceil(N/16)) or drop (T = floor(N/16); videos under 16 frames fail). "
                                    "Default: drop for --layout xd (as the public XD features), else pad."),
    dtype: str = typer.Option(FEATURE_DTYPES[0], help=f"Stored feature type: {' or '.join(FEATURE_DTYPES)}."),
    layout: str = typer.Option("vadpipe", help="vadpipe: <name>.npy (T, C, D); rtfm: <name>_i3d.npy (T, C, D) "
                               "+ rtfm.list; xd: <name>__0..__C-1.npy (T, D) + xd.list."),
    weights: Path | None = typer.Option(None, **PATH, help="Backbone checkpoint file (default: the cached one of "
                                        "`vadpipe weights download`)."),
    random_init: bool = typer.Option(False, "--random-init", help="Allow a random-init backbone when no "
                                     "weights are cached (tests, timing); recorded in the index."),
    fps: float | None = typer.Option(None, **number_of(FeatureSpec, "resample_fps"),
                                     help="Resample every video to this frame rate (by timestamp) "
                                     "before cutting snippets. Default: every decoded frame."),
    resize_short: int | None = typer.Option(None, "--resize-short", **number_of(FeatureSpec, "resize_short"),
                                            help="Override the backbone's "
                                            f"shorter-side resize ({_SIZES})."),
    crop_size: int | None = typer.Option(None, "--crop-size", **number_of(FeatureSpec, "crop_size"),
                                         help=f"Override the crop size ({_CROP_SIZES})."),
    labels: Path | None = typer.Option(None, **PATH, help="CSV `video,label` (0/1 or normal/abnormal) recorded in the "
                                       "index and used to order list files; otherwise labels come from "
                                       "normal/ and abnormal/ folders."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Extract again even videos already done."),
    shard: str | None = typer.Option(None, help="Do shard i of n (i/n, from 0) of the sorted videos. "
                                     "Default: RANK/WORLD_SIZE under torchrun, else 0/1."),
    batch_size: int | None = ForwardOpts.batch_size,
    device: str = ForwardOpts.device,
    workers: int | None = ForwardOpts.workers,
    precision: str = ForwardOpts.precision,
    calibrate: list[Path] = ForwardOpts.calibrate,
    no_amp: bool = typer.Option(False, "--no-amp", help="Same as --precision fp32 (kept for older scripts)."),
    channels_last: bool | None = ForwardOpts.channels_last,
    compile_backbone: bool = ForwardOpts.compile,
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP + " Recorded in the index."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout (and nothing else)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary table "
                               "(bad videos are still reported, one line each)."),
) -> None:
    """Extract I3D features: one (T, C, D) .npy per video (T = snippets of 16 frames, C = crops).

    Resumable: videos already done are skipped, so a killed run is simply run again.
    Shardable: --shard i/n, or one shard per process under torchrun.
    Exit code 1 if any video failed (after doing all the others), 2 for a usage error.
    """
    from vadpipe.core.forward import ForwardOptions
    from vadpipe.features.layouts import LAYOUT_CROPS, LAYOUT_TAILS, check_layout

    # Everything that needs no video and no backbone is checked before torch is imported.
    if no_amp:
        if precision not in ("auto", "fp32"):
            raise UsageError(f"--no-amp means --precision fp32; it cannot go with --precision {precision}")
        precision = "fp32"
    check_layout(layout)
    spec = FeatureSpec.resolve(backbone, crops=crops or LAYOUT_CROPS.get(layout),
                               tail=tail or LAYOUT_TAILS.get(layout, TAIL_POLICIES[0]), dtype=dtype,
                               resample_fps=fps, resize_short=resize_short, crop_size=crop_size)
    options = ForwardOptions(batch_size=batch_size, device=device, precision=precision, channels_last=channels_last,
                             compile=compile_backbone, workers=workers, engine=engine,
                             calibrate=tuple(str(p) for p in calibrate or ()))
    check_engine(engine, device, precision=precision, compile=compile_backbone, channels_last=channels_last)

    from vadpipe.features.extract_job import run_extract

    with removed_if_left_empty(out), progress(quiet=quiet) as bars:
        summary = run_extract(inputs, out, spec, layout=layout, options=options, weights=weights,
                              allow_random=random_init, labels=labels, overwrite=overwrite, shard=shard,
                              observer=_RichObserver(bars))
    if json_out:
        print_json(summary.to_json())
    elif not quiet:
        _print_table(summary)
    if summary.failed:
        raise typer.Exit(1)


def _print_table(summary) -> None:
    from rich.table import Table

    precision = f"precision {summary.precision}, engine {summary.engine}, " if summary.precision else ""
    title = (f"vadpipe extract -> {escape(str(summary.out))} ({summary.spec.describe()}, {summary.layout} layout, "
             f"{precision}"
             f"shard {summary.shard[0]}/{summary.shard[1]})")
    table = Table(title=title)
    for name in ("videos", "done", "skipped", "changed", "failed", "snippets", "snippets/s"):
        table.add_column(name, justify="right", overflow="fold")
    rate = f"{summary.snippets / summary.seconds:.1f}" if summary.snippets and summary.seconds > 0 else "-"
    table.add_row(*map(str, (summary.videos, summary.done, summary.skipped, summary.changed, summary.failed,
                                 summary.snippets)), rate)
    out_console.print(table)
    if summary.list_file is not None:
        line(f"list file: {summary.list_file}")


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_command)
