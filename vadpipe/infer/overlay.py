"""``<stem>.overlay.mp4``: the original video with the live score and an alarm marker on each frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from vadpipe.atomic import atomic_path
from vadpipe.video.decode import VideoReader


def _score_colour(score: float) -> tuple[int, int, int]:
    """Green at 0, yellow at 0.5, red at 1."""
    s = float(np.clip(score, 0, 1))
    return (int(255 * min(1, 2 * s)), int(255 * min(1, 2 * (1 - s))), 40)


def draw_overlay(frame: np.ndarray, score: float, alarm: bool, threshold: float) -> np.ndarray:
    """One annotated frame: a score bar along the bottom (threshold tick), the score as text,
    and a red border plus an ALARM label inside a detected interval. (H, W, 3) uint8 -> same."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    h, w = frame.shape[:2]
    bar_h = max(4, h // 20)
    draw.rectangle([0, h - bar_h, w, h], fill=(30, 30, 30))
    draw.rectangle([0, h - bar_h, int(w * np.clip(score, 0, 1)), h], fill=_score_colour(score))
    tick = int(w * threshold)
    draw.line([tick, h - bar_h - 2, tick, h], fill=(255, 255, 255), width=1)
    draw.text((3, h - bar_h - 12), f"{score:.2f}", fill=(255, 255, 255))
    if alarm:
        border = max(2, min(h, w) // 60)
        draw.rectangle([0, 0, w - 1, h - 1], outline=(230, 20, 20), width=border)
        draw.text((border + 3, border + 2), "ALARM", fill=(255, 40, 40))
    return np.asarray(image)


def write_overlay(video: Path, out: Path, curve: np.ndarray, alarm: np.ndarray, threshold: float,
                  fps: float) -> None:
    """Re-decode ``video`` and encode the annotated frames as H.264 (atomically).

    Args:
        curve: (N,) per-frame scores. alarm: (N,) bool, True inside detected intervals.
    """
    with atomic_path(out, suffix=".mp4") as tmp, VideoReader(video) as reader, \
            av.open(str(tmp), mode="w", format="mp4") as container:
        stream = None
        for f, frame in enumerate(reader):
            if f >= len(curve):
                break
            if stream is None:
                # The curve's own rate (29.97 stays 29.97): frame f is shown at f / fps, where the curve puts it.
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = (frame.shape[0] // 2) * 2, (frame.shape[1] // 2) * 2  # yuv420p
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "23", "preset": "veryfast"}
            image = draw_overlay(frame[: stream.height, : stream.width], float(curve[f]), bool(alarm[f]), threshold)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        if stream is not None:
            container.mux(stream.encode())
