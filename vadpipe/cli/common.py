"""Options and helpers shared by several commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import typer
from rich.markup import escape

from vadpipe.cli.console import err_console, error, warn
from vadpipe.cli.ranges import PATH, number, number_of
from vadpipe.core.forward import PRECISION_NAMES, ForwardOptions
from vadpipe.observers import Observer

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
                           "autocast on CUDA, fp32 on a CPU; bf16/fp16 autocast also on a CPU when asked; int8: "
                           "the backbone quantized on your own videos (see --calibrate), on the CPU with OpenVINO, "
                           "used only when its features match fp32 to cosine >= 0.995 on held-out snippets, else "
                           "fp32 with the figure; pip install 'vadpipe[int8]'). Recorded with the features; "
                           "int8 features are recorded as such and never mixed with fp32 ones."),
    calibrate=typer.Option(None, "--calibrate", **PATH,
                           help="With --precision int8: videos or folders of footage like the inputs to "
                           "calibrate and check the quantized backbone on (default: the inputs themselves; "
                           "needed for a live stream). Repeat for several."),
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


class Lines(Observer):
    """An observer that prints what a job tells as lines on stderr: ``note:``, warnings and errors."""

    def note(self, message: str) -> None:
        err_console.print(f"note: {escape(message)}", highlight=False, soft_wrap=True)

    def warning(self, message: str) -> None:
        warn(message)

    def failed(self, message: str) -> None:
        error(message)


@contextlib.contextmanager
def removed_if_left_empty(folder: Path | None) -> Iterator[None]:
    """The output folder a command made (with any parents it made) is removed again when the command
    ends with it empty, however it ends; a folder that existed before, or holds anything, stays."""
    if folder is None:
        yield
        return
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    try:
        yield
    finally:
        for path in made:
            try:
                path.rmdir()  # only an empty folder
            except OSError:
                break


def check_engine(engine: str, device: str, *, precision: str = "auto", compile: bool = False,
                 channels_last: bool | None = None) -> None:
    """What :func:`vadpipe.engines.resolve_engine` refuses without knowing the device (an unknown or
    missing engine, one that conflicts with the options given), said before torch is imported; the
    command resolves the engine again once the device is known."""
    from vadpipe.engines import resolve_engine

    if engine == "auto":
        return
    known_device = device if device != "auto" else "cpu"  # auto: a GPU, if any, is checked once resolved
    resolve_engine(engine, known_device, precision=precision if precision != "auto" else "fp32",
                   compile=compile, channels_last=channels_last)
