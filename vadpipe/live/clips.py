"""Event clips: the MP4 writer of one event (H.264, else MPEG-4, by PyAV) and the snippets a span of seconds takes.

What goes into a clip is :mod:`vadpipe.live.recording`'s business.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from vadpipe import SNIPPET_FRAMES


def snippets_for(seconds: float, fps: float) -> int:
    """Whole snippets covering ``seconds`` at ``fps``."""
    return max(0, math.ceil(seconds * fps / SNIPPET_FRAMES - 1e-9))


CLIP_PART_S = 600.0  # a clip goes on in a new file after this many seconds of video, as NVRs cut recordings


class ClipWriter:
    """One event's MP4, written frame by frame as fragmented MP4 under its final name.

    Each fragment starts at a key frame (one a second), so the file plays while it is being
    written and after the process is killed, at most about a second short; ``finish`` closes it.
    A long event goes on in further files of at most ``part_s`` seconds each (``<id>-part002.mp4``,
    ...; :attr:`paths`), cut between snippets, so that no file grows without bound.
    """

    def __init__(self, path: Path, fps: float, frame_shape: tuple[int, ...], *, part_s: float | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.paths = [self.path]
        self.fps = fps
        self.part_frames = max(1, round((CLIP_PART_S if part_s is None else part_s) * fps))
        self.frames = 0  # in every part
        self.snippets = 0
        self.first_index: int | None = None
        self.last_index = -1  # the last snippet written
        h, w = frame_shape[0] // 2 * 2, frame_shape[1] // 2 * 2  # yuv420p needs even sizes
        self.size = (h, w)
        self._open(self.path)

    def _open(self, path: Path) -> None:
        import av

        self._part_frames = 0
        self._container = av.open(str(path), mode="w", format="mp4",
                                  options={"movflags": "frag_keyframe+empty_moov+default_base_moof"})
        codec = "libx264" if encoder_available("libx264") else "mpeg4"
        self._stream = self._container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        h, w = self.size
        self._stream.width, self._stream.height, self._stream.pix_fmt = w, h, "yuv420p"
        keyint = str(max(1, round(self.fps)))  # a key frame (and so a fragment) a second
        if codec == "libx264":
            self._stream.options = {"preset": "ultrafast", "crf": "23", "tune": "zerolatency", "g": keyint}
        else:
            self._stream.options = {"g": keyint}

    def write(self, index: int, frames: np.ndarray, real_frames: int) -> None:
        """Append the first ``real_frames`` of snippet ``index``'s (16, H, W, 3) frames."""
        import av

        if self.first_index is None:
            self.first_index = index
        if self._part_frames >= self.part_frames:  # this part is full: the snippet starts the next file
            self._close_part()
            self.paths.append(self.path.with_name(f"{self.path.stem}-part{len(self.paths) + 1:03d}{self.path.suffix}"))
            self._open(self.paths[-1])
        h, w = self.size
        for image in frames[:real_frames]:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="rgb24")
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames += 1
            self._part_frames += 1
        self.snippets += 1
        self.last_index = index

    def _close_part(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def finish(self) -> Path:
        """Close the clip; returns its first file (:attr:`paths` lists every part)."""
        self._close_part()
        return self.path


def encoder_available(name: str) -> bool:
    """Whether this FFmpeg build can encode with ``name`` (e.g. ``libx264``)."""
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - an FFmpeg build without this encoder
        return False
    return True
