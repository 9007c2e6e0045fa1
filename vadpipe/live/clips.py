"""Event clips: a bounded ring of the last scored snippets' frames, and an MP4 writer per event.

The ring holds the frames of the last ``pre`` seconds of scored snippets (bounded memory
whatever the stream's length). When an event opens, its clip starts with the ring (the
pre-roll), then takes every scored snippet until ``post`` seconds after the event's end.
Clips are encoded with PyAV (H.264, else MPEG-4) into a temp file that replaces the final
name only when the clip is complete.
"""

from __future__ import annotations

import math
from collections import deque
from fractions import Fraction
from pathlib import Path

import numpy as np

from vadpipe import SNIPPET_FRAMES


def snippets_for(seconds: float, fps: float) -> int:
    """Whole snippets covering ``seconds`` at ``fps``."""
    return max(0, math.ceil(seconds * fps / SNIPPET_FRAMES - 1e-9))


class FrameRing:
    """The frames of the last ``capacity`` scored snippets: (index, (n, H, W, 3) uint8)."""

    def __init__(self, capacity: int):
        self.items: deque[tuple[int, np.ndarray]] = deque(maxlen=max(0, capacity) or None)
        self.capacity = max(0, capacity)

    def add(self, index: int, frames: np.ndarray) -> None:
        if self.capacity:
            self.items.append((index, frames))

    def __iter__(self):
        return iter(list(self.items))


class ClipWriter:
    """One event's MP4, written frame by frame; ``finish`` makes it appear atomically."""

    def __init__(self, path: Path, fps: float, frame_shape: tuple[int, ...]):
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.part.mp4")
        self.frames = 0
        self.snippets = 0
        self.first_index: int | None = None
        h, w = frame_shape[0] // 2 * 2, frame_shape[1] // 2 * 2  # yuv420p needs even sizes
        self.size = (h, w)
        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        codec = "libx264" if encoder_available("libx264") else "mpeg4"
        self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            self._stream.options = {"preset": "ultrafast", "crf": "23"}
        self.post_left: int | None = None  # snippets still to write after the event ended

    def write(self, index: int, frames: np.ndarray, real_frames: int) -> None:
        import av

        if self.first_index is None:
            self.first_index = index
        h, w = self.size
        for image in frames[:real_frames]:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="rgb24")
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames += 1
        self.snippets += 1

    def finish(self) -> Path:
        import os

        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abandon(self) -> None:
        self._container.close()
        self.tmp.unlink(missing_ok=True)


def encoder_available(name: str) -> bool:
    """Whether this FFmpeg build can encode with ``name`` (e.g. ``libx264``)."""
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - an FFmpeg build without this encoder
        return False
    return True
