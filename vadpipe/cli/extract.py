"""`vadpipe extract`: videos -> one (T, C, D) feature file per video + index.jsonl (resumable, shardable)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from vadpipe.backbones.registry import BACKBONES
from vadpipe.cli.common import DEVICE_HELP
from vadpipe.cli.console import err_console, out_console, print_json, progress, warn
from vadpipe.engines import ENGINE_HELP
from vadpipe.errors import UsageError
from vadpipe.features.extract import DEFAULT_BACKBONE
from vadpipe.features.extract_job import ExtractObserver, run_extract
from vadpipe.video.decode import VIDEO_EXTENSIONS


class _RichObserver(ExtractObserver):
    """Two bars on stderr: videos, and snippets (of the videos started so far, with snippets/s).

    Batches pack snippets of consecutive videos, and the next video is read while the last
    one is still in the backbone, so the snippet bar counts across videos: its total grows by
    each video's expected snippets when that video starts, and it names the latest one.
    """

    def __init__(self, bars):
        self.bars = bars
        self.videos = self.snippets = None
        self.started = time.perf_counter()
        self.total_snippets = 0
        self.expected: int | None = 0

    def planned(self, todo: int, skipped: int, failed: int) -> None:
        self.videos = self.bars.add_task("videos", total=todo, info=f"{skipped} already done")
        self.snippets = self.bars.add_task("snippets", total=None, info="")

    def video_started(self, job, snippets: int) -> None:
        if not self.total_snippets:
            self.started = time.perf_counter()  # the rate counts from the first video, not the model build
        self.expected = self.expected + snippets if snippets and self.expected is not None else None
        self.bars.update(self.snippets, total=self.expected, info=job.id)

    def snippets_done(self, n: int) -> None:
        self.total_snippets += n
        rate = self.total_snippets / max(1e-9, time.perf_counter() - self.started)
        self.bars.advance(self.snippets, n)
        self.bars.update(self.videos, info=f"{rate:.1f} snippets/s")

    def video_finished(self, job, record: dict) -> None:
        if record["status"] != "ok":
            warn(record["error"])
        if self.videos is not None:
            self.bars.advance(self.videos, 1)

    def note(self, message: str) -> None:
        warn(message)


def extract_command(
    inputs: list[Path] = typer.Argument(
        ..., help=f"Video files, folders (searched recursively for {' '.join(VIDEO_EXTENSIONS)}) "
        "or .txt/.list files naming one video per line.", show_default=False,
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: <out>/<path below the input folder>.npy "
                             "+ index.jsonl."),
    backbone: str = typer.Option(DEFAULT_BACKBONE, help="Backbone: " + ", ".join(
        f"{spec.name} ({spec.feature_dim}-d)" for spec in BACKBONES.values()) + "."),
    crops: int | None = typer.Option(None, help="1 (centre), 5 (centre, then the corners: XD __0..__4) or 10 "
                                     "(torchvision TenCrop order: corners, centre, then those of the flipped "
                                     "frame). Default: 10, or 5 for --layout xd / inception_i3d."),
    tail: str | None = typer.Option(None, help="Last partial snippet: pad (loop its frames; T = ceil(N/16)) "
                                    "or drop (T = floor(N/16); videos under 16 frames fail). "
                                    "Default: drop for --layout xd (as the public XD features), else pad."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Snippets per forward pass "
                                          "(each is C clips). Default: ~32 clips on a GPU, ~4 on a CPU."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    dtype: str = typer.Option("float32", help="Stored feature type: float32 or float16."),
    layout: str = typer.Option("vadpipe", help="vadpipe: <name>.npy (T, C, D); rtfm: <name>_i3d.npy (T, C, D) "
                               "+ rtfm.list; xd: <name>__0..__C-1.npy (T, D) + xd.list."),
    weights: Path | None = typer.Option(None, help="Backbone checkpoint file (default: the cached one of "
                                        "`vadpipe weights download`)."),
    random_init: bool = typer.Option(False, "--random-init", help="Allow a random-init backbone when no "
                                     "weights are cached (tests, timing); recorded in the index."),
    fps: float | None = typer.Option(None, help="Resample every video to this frame rate (by timestamp) "
                                     "before cutting snippets. Default: every decoded frame."),
    resize_short: int | None = typer.Option(None, "--resize-short", min=8, help="Override the backbone's "
                                            "shorter-side resize (256)."),
    crop_size: int | None = typer.Option(None, "--crop-size", min=8, help="Override the crop size (224)."),
    labels: Path | None = typer.Option(None, help="CSV `video,label` (0/1 or normal/abnormal) recorded in the "
                                       "index and used to order list files; otherwise labels come from "
                                       "normal/ and abnormal/ folders."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Extract again even videos already done."),
    shard: str | None = typer.Option(None, help="Do shard i of n (i/n, from 0) of the sorted videos. "
                                     "Default: RANK/WORLD_SIZE under torchrun, else 0/1."),
    workers: int | None = typer.Option(None, min=1, help="Videos decoded at once, each on its own thread "
                                   "(default: 1 on a CPU, half the cores, 2 to 8, beside a GPU)."),
    precision: str = typer.Option("auto", help="Forward-pass precision: auto (bf16 autocast on CUDA, fp32 on a "
                                  "CPU), fp32, bf16 or fp16 (autocast; also on a CPU when asked). Recorded in the "
                                  "index; features are stored as --dtype either way."),
    no_amp: bool = typer.Option(False, "--no-amp", help="Same as --precision fp32 (kept for older scripts)."),
    channels_last: bool | None = typer.Option(None, "--channels-last/--no-channels-last", show_default=False,
                                              help="Backbone and inputs in channels_last_3d memory format "
                                              "(default: on for CUDA, off on a CPU)."),
    engine: str = typer.Option("auto", envvar="VADPIPE_ENGINE", help=ENGINE_HELP),
    compile_backbone: bool = typer.Option(False, "--compile", help="torch.compile the backbone (the first batch "
                                          "pays for compiling; padded batches keep one shape)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout (and nothing else)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary table "
                               "(bad videos are still reported, one line each)."),
) -> None:
    """Extract I3D features: one (T, C, D) .npy per video (T = snippets of 16 frames, C = crops).

    Resumable: videos already done are skipped, so a killed run is simply run again.
    Shardable: --shard i/n, or one shard per process under torchrun.
    Exit code 1 if any video failed (after doing all the others), 2 for a usage error.
    """
    if no_amp:
        if precision not in ("auto", "fp32"):
            raise UsageError(f"--no-amp means --precision fp32; it cannot go with --precision {precision}")
        precision = "fp32"
    with progress(quiet=quiet) as bars:
        observer = _RichObserver(bars)
        summary = run_extract(
            inputs, out, backbone_name=backbone, crops=crops, tail=tail, batch_size=batch_size, device=device,
            dtype=dtype, layout=layout, overwrite=overwrite, shard=shard, weights=weights, random_init=random_init,
            fps=fps, resize_short=resize_short, crop_size=crop_size, labels=labels, workers=workers,
            precision=precision, channels_last=channels_last, compile=compile_backbone, engine=engine,
            observer=observer,
        )
    if json_out:
        print_json(summary.to_json())
    elif not quiet:
        _print_table(summary)
    if summary.failed:
        raise typer.Exit(1)


def _print_table(summary) -> None:
    s = summary.settings
    precision = f"precision {summary.precision}, engine {summary.engine}, " if summary.precision else ""
    title = (f"vadpipe extract -> {summary.out} ({s.backbone}{' RANDOM-INIT' if summary.random_init else ''}, "
             f"{s.crops} crop{'s' if s.crops != 1 else ''}, tail {s.tail}, {s.layout} layout, {precision}"
             f"shard {summary.shard[0]}/{summary.shard[1]})")
    table = Table(title=title)
    for name in ("videos", "done", "skipped", "failed", "snippets", "snippets/s"):
        table.add_column(name, justify="right")
    rate = f"{summary.snippets / summary.seconds:.1f}" if summary.snippets and summary.seconds > 0 else "-"
    table.add_row(*map(str, (summary.videos, summary.done, summary.skipped, summary.failed, summary.snippets)), rate)
    out_console.print(table)
    if summary.list_file is not None:
        err_console.print(f"list file: {summary.list_file}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_command)
