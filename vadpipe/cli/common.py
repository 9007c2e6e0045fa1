"""Options and helpers shared by several commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import typer

from vadpipe.cli.console import error, warn
from vadpipe.cli.ranges import PATH, number, number_of
from vadpipe.core.forward import PRECISION_NAMES, ForwardOptions
from vadpipe.errors import InputError

if TYPE_CHECKING:
    from vadpipe.features.formats import FeatureVideo

DEVICE_HELP = "auto (GPU when present, the LOCAL_RANK one under torchrun), cpu, cuda or cuda:N."

# The options of vadpipe.core.forward.ForwardOptions, as `extract` and `score` spell them.
ForwardOpts = SimpleNamespace(
    batch_size=typer.Option(None, "--batch-size", **number_of(ForwardOptions, "batch_size"),
                            help="Snippets per forward pass (each is C clips). "
                            "Default: ~32 clips on a GPU, ~4 on a CPU."),
    device=typer.Option("auto", help=DEVICE_HELP),
    workers=typer.Option(None, **number_of(ForwardOptions, "workers"),
                         help="Videos decoded at once, each on its own thread (default: 1 on a CPU, "
                         "half the cores, 2 to 8, beside a GPU)."),
    precision=typer.Option("auto", help=f"Forward-pass precision: {', '.join(PRECISION_NAMES)} (auto: bf16 "
                           "autocast on CUDA, fp32 on a CPU; bf16/fp16 autocast also on a CPU when asked). Recorded "
                           "in the index; features are stored as --dtype either way."),
    channels_last=typer.Option(None, "--channels-last/--no-channels-last", show_default=False,
                               help="Backbone and inputs in channels_last_3d memory format "
                               "(default: on for CUDA, off on a CPU)."),
    compile=typer.Option(False, "--compile", help="torch.compile the backbone (the first batch pays for "
                         "compiling; padded batches keep one shape)."),
)

LabelsOpt = typer.Option(None, "--labels", **PATH,
                         help="CSV `video,label` (0/1 or normal/abnormal) overriding other labels.")
AbnormalFirstOpt = typer.Option(
    None, "--abnormal-first", **number(int, min=0),
    help="List files: the first N lines are abnormal (RTFM lists: 810 train, 140 test)."
)
FeaturesRootOpt = typer.Option(
    None, "--features-root", **PATH,
    help="Folder to find the .npy files in when a list names paths that do not exist here."
)


@dataclass
class FeatureSetRead:
    """What :func:`read_feature_set` kept and left out."""

    videos: list[FeatureVideo]  # the usable ones
    problems: list[str] = field(default_factory=list)  # one line per input of this command left out, by name
    left_out: set[str] = field(default_factory=set)  # ids of the videos left out (extraction failures too)


def read_feature_set(
    source: Path, *, labels: Path | None, abnormal_first: int | None, features_root: Path | None,
    expected_dim: int | None = None, need_labels: bool = False,
) -> FeatureSetRead:
    """Load and validate a feature set; bad videos are reported (one ``error:`` line each) and left out.

    Files of another width than ``expected_dim`` are reported together in one line (a whole set of
    the wrong backbone is one mistake, not hundreds). Videos whose *extraction* failed (``failed``
    records of a store) are not inputs of this command: they are left out with one summary line
    and not counted as problems.
    """
    from vadpipe.features.formats import DimensionMismatch, load_feature_set

    extraction_failures: list = []
    videos, problems = load_feature_set(
        source, labels_csv=labels, abnormal_first=abnormal_first, features_root=features_root,
        extraction_failures=extraction_failures,
    )
    if extraction_failures:
        warn(f"{source}: {len(extraction_failures)} video(s) whose extraction failed are left out "
             f"(their errors: `status: failed` records in {Path(source) / 'index.jsonl'})")
    for line in problems:
        error(line)
    read = FeatureSetRead([], problems, {rec.id for rec in extraction_failures})
    mismatched: list[DimensionMismatch] = []
    for video in videos:
        try:
            video.validate(expected_dim)
            if need_labels and video.label is None:
                raise InputError(
                    f"{video.files[0]}: no label for {video.id}; give --labels CSV, --abnormal-first N, "
                    "or put the files under normal/ and abnormal/ folders"
                )
        except InputError as exc:
            if isinstance(exc, DimensionMismatch):
                mismatched.append(exc)
            else:
                error(str(exc))
            read.problems.append(str(exc))
            read.left_out.add(video.id)
            continue
        read.videos.append(video)
    if len(mismatched) == 1:
        error(str(mismatched[0]))
    elif mismatched:
        dims = ", ".join(f"{d}-d" for d in sorted({m.dim for m in mismatched}))
        error(f"{len(mismatched)} feature files (e.g. {', '.join(str(m.file) for m in mismatched[:2])}) are "
              f"{dims} but the model expects {mismatched[0].expected}-d; {DimensionMismatch.ADVICE}")
    if not read.videos:
        raise InputError(f"{source}: no usable feature files; see the lines above")
    return read

