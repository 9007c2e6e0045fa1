"""Video files -> I3D features: decode, cut 16-frame snippets, preprocess, run the backbone.

One video flows through :func:`extract_videos` like this::

    VideoReader (PyAV, worker thread)       upright RGB frames, exact N, fps, timestamps
      -> iter_snippet_batches                uint8 (S, 16, H, W, 3), tail padded or dropped
      -> session.preprocess                  float (S, C, 3, 16, crop, crop)
           (on the worker thread on a CPU; on the GPU itself when there is one, so that
            only uint8 frames cross PCIe)
      -> run_packed + the session            full batches packed across consecutive videos
           (main thread)                     (B*C, D) -> (B, C, D), split back per video
      -> concatenated                        (T, C, D) float32

Decoding and preprocessing run ahead of the backbone on ``workers`` threads feeding a
bounded queue (:class:`vadpipe.video.prefetch.Prefetcher`), so the backbone, not the
decoder, sets the pace. Batches hold snippets of several videos when they are short
(:mod:`vadpipe.features.batching`); the backbone, its preprocessing and forward pass (engine,
precision, memory format, torch.compile) are the :class:`vadpipe.session.backbone.BackboneSession`'s.
The whole batch command (inputs, resume, shards, index) is :func:`vadpipe.features.extract_job.run_extract`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vadpipe import SNIPPET_FRAMES
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.devices import cpus_for_this_process
from vadpipe.errors import InputError, UsageError
from vadpipe.features.batching import run_packed
from vadpipe.observers import Observer
from vadpipe.session.backbone import BackboneSession
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


# Memory is bounded in bytes, not snippets: a snippet of 4000x3000 frames is 576 MB of RGB, 2.3 GB as floats.
DECODE_BATCH_BYTES = 256 * 2**20  # decoded RGB frames per batch (each decoding queue holds a few batches)
FORWARD_BATCH_BYTES = 4 * 2**30  # preprocessed clips of one forward pass (float32), before the backbone's own


def clip_bytes(spec: FeatureSpec) -> int:
    """Bytes of one snippet's preprocessed clips: crops x 3 x 16 x crop x crop float32."""
    return spec.crops * 3 * SNIPPET_FRAMES * (spec.crop_size or 224) ** 2 * 4


def default_batch_size(crops: int, device: torch.device, spec: FeatureSpec | None = None) -> int:
    """Snippets per forward pass: about 32 clips on a GPU, 4 on a CPU (clips = snippets x crops), and never more
    than :data:`FORWARD_BATCH_BYTES` of preprocessed clips (large crops)."""
    count = max(1, (32 if device.type == "cuda" else 4) // crops)
    return count if spec is None else max(1, min(count, FORWARD_BATCH_BYTES // clip_bytes(spec)))


def check_batch_size(batch_size: int, spec: FeatureSpec) -> None:
    """Refuse a batch whose preprocessed clips alone would pass :data:`FORWARD_BATCH_BYTES`.

    Raises:
        UsageError: (``param`` ``batch_size``) naming the bytes and the largest batch that fits.
    """
    if batch_size * clip_bytes(spec) > FORWARD_BATCH_BYTES:
        most = max(1, FORWARD_BATCH_BYTES // clip_bytes(spec))
        raise UsageError(f"batch_size {batch_size}: {batch_size} snippets of {spec.crops} crop(s) at "
                         f"{spec.crop_size or 224} px are {batch_size * clip_bytes(spec) / 2**30:,.1f} GiB of backbone "
                         f"input per pass, past the {FORWARD_BATCH_BYTES / 2**30:g} GiB a pass may take; give at most "
                         f"{most}", param="batch_size")


def extract_videos(
    paths: Iterable[str | Path],
    session: BackboneSession,
    *,
    preprocess_on_device: bool | None = None,
    observer: Observer | None = None,
) -> Iterator[VideoFeatures]:
    """Extract features of many videos, streaming; yields one :class:`VideoFeatures` per path, in order.

    Args:
        paths: video files.
        session: the backbone, its preprocessing and forward pass (:mod:`vadpipe.session.backbone`); its
            spec decides the features (crops, tail, resampling fps, sizes, dtype), its forward options how
            the passes run (batch size, decoding workers; none changes a feature beyond float rounding).
        preprocess_on_device: resize/crop/normalise on the device rather than on the decoding
            thread (``None``: on CUDA, where only uint8 frames then cross PCIe).
        observer: told ``started(path, expected snippets)`` when the backbone reaches a video (with packed
            batches, possibly before the previous video is yielded) and ``advanced(snippets)`` after each
            forward pass.

    A bad video (unreadable, truncated, no frames, shorter than a snippet with ``drop``)
    yields a result whose ``error`` is an :class:`InputError`; other videos go on.
    """
    spec, device = session.spec, session.device
    options = session.forward.options
    if options.batch_size:
        check_batch_size(options.batch_size, spec)
    batch_size = options.batch_size or default_batch_size(spec.crops, device, spec)
    workers = options.workers or default_workers(device)
    on_device = device.type == "cuda" if preprocess_on_device is None else preprocess_on_device
    pin = device.type == "cuda"
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # pinned buffers and events of this process belong to its own GPU (torchrun)
    decoder_threads = max(1, cpus_for_this_process() // max(1, workers))  # FFmpeg threads per decoding worker

    def produce(path: Path) -> Iterator:
        if not on_device:
            # This worker's own OpenMP team: one thread, so that its resize/normalise does not
            # fight the backbone's threads for the cores (torch's thread count is per OS thread
            # with OpenMP; the main thread keeps its own).
            torch.set_num_threads(1)
        with VideoReader(path, fps=spec.resample_fps, threads=decoder_threads) as reader:
            yield "start", snippet_count(reader.estimated_frames(), spec.tail)
            for batch in iter_snippet_batches(reader, tail=spec.tail, batch_size=batch_size,
                                              max_bytes=DECODE_BATCH_BYTES):
                x = torch.from_numpy(batch)  # (S, 16, H, W, 3) uint8
                if on_device:  # preprocessed by the consumer, on the GPU
                    x = x.pin_memory() if pin else x
                else:
                    with torch.no_grad():
                        x = session.preprocess(x)
                yield "batch", x
            yield "info", reader.info

    def prepare(items: Iterable) -> Iterator:
        for kind, value in items:
            if kind == "batch":
                value = value.to(device, non_blocking=True)
                if value.dtype == torch.uint8:
                    value = session.preprocess(value)
            yield kind, value  # batches: (S, C, 3, 16, crop, crop) on the device

    main_threads = torch.get_num_threads()  # also pins this thread's own count before the workers set theirs
    try:
        yield from _consume(paths, produce, prepare, session, batch_size, workers, observer or Observer())
    finally:
        torch.set_num_threads(main_threads)  # the workers' set_num_threads(1) also lowered torch's global default


def _consume(paths, produce, prepare, session: BackboneSession, batch_size, workers,
             observer: Observer) -> Iterator[VideoFeatures]:
    with Prefetcher([Path(p) for p in paths], produce, workers=workers, depth=2) as prefetcher, \
            torch.inference_mode():
        videos = ((path, prepare(items)) for path, items in prefetcher)
        for done in run_packed(videos, session, batch_size=batch_size, on_start=observer.started,
                               on_snippets=observer.advanced):
            result = VideoFeatures(done.path, info=done.info, error=done.error)
            if result.error is None:
                try:
                    result.features = _assemble(done.path, done.chunks, done.info, session.spec)
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


def extract_video(path: str | Path, session: BackboneSession) -> tuple[np.ndarray, VideoInfo]:
    """Features of one video, streamed (the video is never held whole in memory).

    Arguments as :func:`extract_videos` (decoding runs on the session's workers, ahead of the backbone).

    Returns:
        ``(features, info)``: ``(T, C, D)`` array of ``session.spec.dtype`` with T = ceil(N/16) (``pad``)
        or floor(N/16) (``drop``), and the video's :class:`VideoInfo`.

    Raises:
        InputError: the video cannot be used (one line naming the file and what to do).
    """
    (result,) = extract_videos([path], session)
    if result.error is not None:
        raise result.error
    return result.features, result.info
