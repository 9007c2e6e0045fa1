"""Forward batches packed across videos, so that short videos do not leave the backbone half idle.

Preprocessed snippets of consecutive videos go into one queue; whenever it holds
``batch_size`` snippets, they make one forward pass, and the outputs are split back per
video. A video is handed on (in input order) once all its snippets have come back::

    video A: 3 snippets, B: 6, C: 2; batch_size 4
    forward 1: A0 A1 A2 B0      forward 2: B1 B2 B3 B4      forward 3: B5 C0 C1
    -> A is done with forward 1, B and C with forward 3 (3 passes instead of 5, one per video)

Every forward pass has the same shape: the last batch (and one cut short by a change of
input shape) is padded with zeros to ``batch_size`` snippets, whose outputs are thrown
away. Backends pick kernels by shape (on a CPU, a batch of one clip takes another path
than a batch of four, and rounds differently), so this is what makes a snippet's features
independent of the videos that share its batch: the same whether a video is extracted
alone, with others, in a shard, or in a resumed run that has only some videos left to do
(byte for byte, as `vadpipe extract` promises). It also spares torch.compile a recompile.

Snippets are only packed together when their shapes agree (same crops and crop size);
otherwise the queue is run as it is first. A video that fails midway (an
:class:`~vadpipe.errors.InputError` from its items) loses its queued snippets and its
outputs; the other videos in its batches are unaffected. The device-to-host copy of a
batch's output runs while the next batch is computed: it is queued right after the
forward pass, and waited for only once the next forward pass has been queued.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vadpipe.errors import InputError


@dataclass(eq=False)
class PackedVideo:
    """One video's outputs: its ``(t, C, D)`` float32 chunks in snippet order, or the error that stopped it."""

    path: Path
    chunks: list[np.ndarray] = field(default_factory=list)
    info: Any = None
    error: InputError | None = None
    closed: bool = False  # all its items have been read


@dataclass
class _Flight:
    """A forward pass whose output is on its way to the host."""

    host: torch.Tensor  # (B, C, D), filled once ``event`` has passed
    event: torch.cuda.Event | None
    segments: list[tuple[PackedVideo, int]]  # (video, snippets), in batch order


class _Packer:
    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], batch_size: int,
                 on_snippets: Callable[[int], None] | None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.forward = forward
        self.batch_size = batch_size
        self.on_snippets = on_snippets
        self.queue: deque[tuple[PackedVideo, torch.Tensor]] = deque()  # (video, (S, C, 3, 16, h, w))
        self.queued = 0  # snippets in the queue
        self.flight: _Flight | None = None

    def add(self, video: PackedVideo, x: torch.Tensor) -> None:
        if self.queue and x.shape[1:] != self.queue[0][1].shape[1:]:
            self.flush()  # other crops or crop size: not packed together
        self.queue.append((video, x))
        self.queued += x.shape[0]
        while self.queued >= self.batch_size:
            self._run(self.batch_size)

    def drop(self, video: PackedVideo) -> None:
        self.queue = deque(item for item in self.queue if item[0] is not video)
        self.queued = sum(x.shape[0] for _, x in self.queue)

    def flush(self) -> None:
        """Run what is queued (the last batch may be short) and wait for every output."""
        while self.queued:
            self._run(min(self.batch_size, self.queued))
        if self.flight is not None:
            self._land(self.flight)
            self.flight = None

    def holds(self, video: PackedVideo) -> bool:
        in_flight = self.flight is not None and any(v is video for v, _ in self.flight.segments)
        return in_flight or any(v is video for v, _ in self.queue)

    def _run(self, n: int) -> None:
        parts, segments, left = [], [], n
        while left:
            video, x = self.queue.popleft()
            if x.shape[0] > left:  # split: the rest stays at the front of the queue
                self.queue.appendleft((video, x[left:]))
                x = x[:left]
            parts.append(x)
            segments.append((video, x.shape[0]))
            left -= x.shape[0]
        self.queued -= n
        if n < self.batch_size:  # a short batch is padded: every forward pass has the same shape
            parts.append(parts[0].new_zeros((self.batch_size - n, *parts[0].shape[1:])))
        out = self.forward(parts[0] if len(parts) == 1 else torch.cat(parts))[:n]  # (n, C, D) on the device
        event = None
        host = out.to("cpu", non_blocking=True)  # into pinned memory when ``out`` is on a GPU
        if out.device.type == "cuda":
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(out.device))  # the copy's own GPU, not cuda:0
        previous, self.flight = self.flight, _Flight(host, event, segments)
        if previous is not None:
            self._land(previous)  # waits for the previous copy while this forward pass runs
        if self.on_snippets is not None:
            self.on_snippets(n)

    @staticmethod
    def _land(flight: _Flight) -> None:
        if flight.event is not None:
            flight.event.synchronize()
        host = flight.host.numpy()  # (B, C, D)
        start = 0
        for video, n in flight.segments:
            if video.error is None:
                video.chunks.append(np.array(host[start:start + n]))  # own copy: the pinned buffer is reused
            start += n


def _until_error(items: Iterable[tuple[str, Any]], video: PackedVideo) -> Iterator[tuple[str, Any]]:
    try:
        yield from items
    except InputError as exc:
        video.error = exc


def run_packed(
    videos: Iterable[tuple[Path, Iterable[tuple[str, Any]]]],
    forward: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int,
    on_start: Callable[[Path, int], None] | None = None,
    on_snippets: Callable[[int], None] | None = None,
) -> Iterator[PackedVideo]:
    """Run ``forward`` on full batches packed from consecutive videos; yield each video when it is done.

    Args:
        videos: ``(path, items)`` in order; ``items`` yields ``("start", expected snippets)``,
            ``("batch", x)`` with preprocessed snippets ``x`` ``(S, C, 3, 16, h, w)`` on the
            backbone's device, and ``("info", anything)``, and may raise an ``InputError``.
            Each ``items`` is read to its end before the next one is started.
        forward: ``(B, C, 3, 16, h, w)`` -> ``(B, C, D)`` on the device, always with B = ``batch_size``.
        batch_size: snippets per forward pass; a short last batch (or one before a change of
            input shape) is padded with zeros, and the padding's outputs dropped.
        on_start: called with (path, expected snippets) when a video's items begin.
        on_snippets: called with the number of snippets after each forward pass.

    Yields:
        One :class:`PackedVideo` per input, in input order.
    """
    packer = _Packer(forward, batch_size, on_snippets)
    pending: deque[PackedVideo] = deque()

    def finished() -> Iterator[PackedVideo]:
        while pending and pending[0].closed and (pending[0].error is not None or not packer.holds(pending[0])):
            yield pending.popleft()

    for path, items in videos:
        video = PackedVideo(Path(path))
        pending.append(video)
        for kind, value in _until_error(items, video):
            if kind == "start" and on_start is not None:
                on_start(video.path, value)
            elif kind == "batch":
                packer.add(video, value)
                yield from finished()
            elif kind == "info":
                video.info = value
        if video.error is not None:
            packer.drop(video)
        video.closed = True
        yield from finished()
    packer.flush()
    yield from finished()
