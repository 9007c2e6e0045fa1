"""Video files -> I3D features: decode, cut 16-frame snippets, preprocess, run the backbone.

One video flows through :func:`extract_videos` like this::

    VideoReader (PyAV, worker thread)       upright RGB frames, exact N, fps, timestamps
      -> iter_snippet_batches                uint8 (S, 16, H, W, 3), tail padded or dropped
      -> preprocess_snippets                 float (S, C, 3, 16, crop, crop)
           (on the worker thread on a CPU; on the GPU itself when there is one, so that
            only uint8 frames cross PCIe)
      -> run_packed + BackboneRunner         full batches packed across consecutive videos
           (main thread)                     (B*C, D) -> (B, C, D), split back per video
      -> concatenated                        (T, C, D) float32

Decoding and preprocessing run ahead of the backbone on ``workers`` threads feeding a
bounded queue (:class:`vadpipe.video.prefetch.Prefetcher`), so the backbone, not the
decoder, sets the pace. Batches hold snippets of several videos when they are short
(:mod:`vadpipe.features.batching`); precision, memory format and torch.compile are
:class:`vadpipe.features.runner.BackboneRunner`'s. The whole batch command (inputs,
resume, shards, index) is :func:`vadpipe.features.extract_job.run_extract`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vadpipe import SNIPPET_FRAMES
from vadpipe.backbones.preprocess import preprocess_snippets
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.devices import cpus_for_this_process, resolve_device
from vadpipe.errors import InputError
from vadpipe.features.batching import run_packed
from vadpipe.features.runner import BackboneRunner
from vadpipe.video.decode import VideoInfo, VideoReader
from vadpipe.video.prefetch import Prefetcher
from vadpipe.video.snippets import iter_snippet_batches, snippet_count


@dataclass
class VideoFeatures:
    """The outcome for one video: features and info, or the error that stopped it."""

    path: Path
    features: np.ndarray | None = None  # (T, C, D)
    info: VideoInfo | None = None
    error: InputError | None = None


def default_workers(device: torch.device) -> int:
    """Decoding threads: 1 on a CPU (the backbone needs the cores), half this process's cores (2..8) beside a GPU."""
    return 1 if device.type != "cuda" else max(2, min(8, cpus_for_this_process() // 2))


def default_batch_size(crops: int, device: torch.device) -> int:
    """Snippets per forward pass: about 32 clips on a GPU, 4 on a CPU (clips = snippets x crops)."""
    return max(1, (32 if device.type == "cuda" else 4) // crops)


def extract_videos(
    paths: Iterable[str | Path],
    backbone: nn.Module,
    spec: FeatureSpec,
    options: ForwardOptions = ForwardOptions(),
    *,
    preprocess_on_device: bool | None = None,
    on_start: Callable[[Path, int], None] | None = None,
    on_snippets: Callable[[int], None] | None = None,
) -> Iterator[VideoFeatures]:
    """Extract features of many videos, streaming; yields one :class:`VideoFeatures` per path, in order.

    Args:
        paths: video files.
        backbone: a module mapping ``(N, 3, 16, h, w)`` to ``(N, D)``, on the options' device, with a
            ``spec`` attribute (:class:`vadpipe.core.backbone_facts.BackboneSpec`) for preprocessing.
        spec: every setting that decides the features (crops, tail, resampling fps, sizes, dtype);
            its ``backbone`` must be the one given.
        options: how the forward passes run (batch size, device, precision, memory format, compile,
            decoding workers); none of them changes the features beyond float rounding. Device
            ``auto`` is the backbone's own.
        preprocess_on_device: resize/crop/normalise on the device rather than on the decoding
            thread (``None``: on CUDA, where only uint8 frames then cross PCIe).
        on_start: called with (path, expected snippets) when the backbone reaches a video (with
            packed batches, possibly before the previous video is yielded).
        on_snippets: called with the number of snippets after each forward pass.

    A bad video (unreadable, truncated, no frames, shorter than a snippet with ``drop``)
    yields a result whose ``error`` is an :class:`InputError`; other videos go on.
    """
    if spec.backbone != backbone.spec.name:
        raise ValueError(f"the spec is for backbone {spec.backbone}, the module given is {backbone.spec.name}")
    spec.checked()
    device = _device(backbone, options.device)
    batch_size = options.batch_size or default_batch_size(spec.crops, device)
    workers = options.workers or default_workers(device)
    on_device = device.type == "cuda" if preprocess_on_device is None else preprocess_on_device
    pin = device.type == "cuda"
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # pinned buffers and events of this process belong to its own GPU (torchrun)
    runner = BackboneRunner(backbone, device, precision=options.precision, channels_last=options.channels_last,
                            compile=options.compile, engine=options.engine)
    preprocess = functools.partial(preprocess_snippets, prep=backbone.spec.preprocessing, crops=spec.crops,
                                   resize_short=spec.resize_short, crop_size=spec.crop_size,
                                   crop_order=spec.crop_order, resize_mode=spec.resize_mode)

    decoder_threads = max(1, cpus_for_this_process() // max(1, workers))  # FFmpeg threads per decoding worker

    def produce(path: Path) -> Iterator:
        if not on_device:
            # This worker's own OpenMP team: one thread, so that its resize/normalise does not
            # fight the backbone's threads for the cores (torch's thread count is per OS thread
            # with OpenMP; the main thread keeps its own).
            torch.set_num_threads(1)
        with VideoReader(path, fps=spec.resample_fps, threads=decoder_threads) as reader:
            yield "start", snippet_count(reader.estimated_frames(), spec.tail)
            for batch in iter_snippet_batches(reader, tail=spec.tail, batch_size=batch_size):
                x = torch.from_numpy(batch)  # (S, 16, H, W, 3) uint8
                if on_device:  # preprocessed by the consumer, on the GPU
                    x = x.pin_memory() if pin else x
                else:
                    with torch.no_grad():
                        x = preprocess(x)
                yield "batch", x
            yield "info", reader.info

    def prepare(items: Iterable) -> Iterator:
        for kind, value in items:
            if kind == "batch":
                value = value.to(device, non_blocking=True)
                if value.dtype == torch.uint8:
                    value = preprocess(value)
            yield kind, value  # batches: (S, C, 3, 16, crop, crop) on the device

    main_threads = torch.get_num_threads()  # also pins this thread's own count before the workers set theirs
    try:
        yield from _consume(paths, produce, prepare, runner, batch_size, workers, spec, on_start, on_snippets)
    finally:
        torch.set_num_threads(main_threads)  # the workers' set_num_threads(1) also lowered torch's global default


def _consume(paths, produce, prepare, runner, batch_size, workers, spec, on_start,
             on_snippets) -> Iterator[VideoFeatures]:
    with Prefetcher([Path(p) for p in paths], produce, workers=workers, depth=2) as prefetcher, \
            torch.inference_mode():
        videos = ((path, prepare(items)) for path, items in prefetcher)
        for done in run_packed(videos, runner, batch_size=batch_size, on_start=on_start, on_snippets=on_snippets):
            result = VideoFeatures(done.path, info=done.info, error=done.error)
            if result.error is None:
                try:
                    result.features = _assemble(done.path, done.chunks, done.info, spec)
                except InputError as exc:
                    result.error = exc
            yield result


def _assemble(path: Path, chunks: list[np.ndarray], info: VideoInfo, spec: FeatureSpec) -> np.ndarray:
    if not chunks:
        raise InputError(
            f"{path}: only {info.frames} frames, shorter than one {SNIPPET_FRAMES}-frame snippet, so --tail "
            f"{spec.tail} leaves nothing; use --tail pad to loop-pad it into one snippet, or leave it out"
        )
    return np.concatenate(chunks).astype(spec.dtype, copy=False)  # (T, C, D)


def _device(backbone: nn.Module, name: str) -> torch.device:
    """``auto`` means where the backbone already is (the caller built it there); else the device named."""
    if name == "auto":
        first = next(backbone.parameters(), None)
        if first is not None:
            return first.device
    return resolve_device(name)


def extract_video(
    path: str | Path, backbone: nn.Module, spec: FeatureSpec, options: ForwardOptions = ForwardOptions(),
) -> tuple[np.ndarray, VideoInfo]:
    """Features of one video, streamed (the video is never held whole in memory).

    Arguments as :func:`extract_videos` (decoding runs on one thread, ahead of the backbone).

    Returns:
        ``(features, info)``: ``(T, C, D)`` array of ``spec.dtype`` with T = ceil(N/16) (``pad``)
        or floor(N/16) (``drop``), and the video's :class:`VideoInfo`.

    Raises:
        InputError: the video cannot be used (one line naming the file and what to do).
    """
    (result,) = extract_videos([path], backbone, spec, options)
    if result.error is not None:
        raise result.error
    return result.features, result.info
