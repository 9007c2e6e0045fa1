"""Synthetic surveillance-like videos for the offline demo, rendered with numpy and encoded by PyAV.

A scene is what one fixed surveillance camera sees: the same textured background (a
street seen from above) in every video, with a few "pedestrians" walking slowly in
straight lines, different in each video. An abnormal video
holds one short event, one of:

- ``burst``: a crowd of objects appears and moves fast and erratically, flickering;
- ``intrusion``: a large bright object sweeps through the frame and vanishes.

Only the video-level label is used for training; the event's frames are the
held-out ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vadpipe.atomic import atomic_path


@dataclass
class SceneSpec:
    name: str
    label: int
    frames: int
    event: tuple[int, int] | None  # [start, end) frames of the abnormal event
    kind: str | None  # "burst" or "intrusion"


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random texture with a lighter 'road' band, (H, W, 3) float32 in 0..255."""
    coarse = rng.uniform(60, 140, size=(height // 8 + 2, width // 8 + 2, 3))
    ys = np.linspace(0, coarse.shape[0] - 1.001, height)
    xs = np.linspace(0, coarse.shape[1] - 1.001, width)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    tex = (coarse[y0][:, x0] * (1 - fy) * (1 - fx) + coarse[y0 + 1][:, x0] * fy * (1 - fx)
           + coarse[y0][:, x0 + 1] * (1 - fy) * fx + coarse[y0 + 1][:, x0 + 1] * fy * fx)
    road = slice(height // 3, 2 * height // 3)
    tex[road] = 0.5 * tex[road] + 70
    return tex.astype(np.float32)


def _draw_box(frame: np.ndarray, cy: float, cx: float, size: int, colour) -> None:
    h, w, _ = frame.shape
    y0, x0 = int(round(cy - size / 2)), int(round(cx - size / 2))
    ys, xs = slice(max(0, y0), min(h, y0 + size)), slice(max(0, x0), min(w, x0 + size))
    frame[ys, xs] = colour


def render_scene(spec: SceneSpec, *, height: int, width: int, seed: int, camera_seed: int = 0) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of one scene; ``camera_seed`` picks the background, ``seed`` the rest."""
    background = _background(np.random.default_rng(camera_seed), height, width)
    rng = np.random.default_rng(seed)
    walkers = [
        dict(y=rng.uniform(0.2, 0.8) * height, x=rng.uniform(0, width), vy=rng.normal(0, 0.1),
             vx=rng.choice([-1, 1]) * rng.uniform(0.3, 0.8), size=int(rng.integers(4, 7)),
             colour=rng.uniform(20, 235, size=3))
        for _ in range(int(rng.integers(2, 5)))
    ]
    burst = [dict(y=rng.uniform(0.3, 0.7) * height, x=rng.uniform(0.3, 0.7) * width, size=int(rng.integers(5, 9)))
             for _ in range(6)]
    intruder_y = rng.uniform(0.3, 0.7) * height
    out = np.empty((spec.frames, height, width, 3), dtype=np.uint8)
    for f in range(spec.frames):
        frame = background.copy()
        for wk in walkers:
            wk["x"] = (wk["x"] + wk["vx"]) % width
            wk["y"] = float(np.clip(wk["y"] + wk["vy"], 0, height - 1))
            _draw_box(frame, wk["y"], wk["x"], wk["size"], wk["colour"])
        if spec.event is not None and spec.event[0] <= f < spec.event[1]:
            progress = (f - spec.event[0]) / max(1, spec.event[1] - spec.event[0] - 1)
            if spec.kind == "burst":
                for b in burst:  # fast, erratic motion with flicker
                    b["y"] = float(np.clip(b["y"] + rng.normal(0, 6), 0, height - 1))
                    b["x"] = float(np.clip(b["x"] + rng.normal(0, 6), 0, width - 1))
                    _draw_box(frame, b["y"], b["x"], b["size"], rng.uniform(0, 255, size=3))
            else:  # a large bright object sweeping through
                _draw_box(frame, intruder_y, progress * width, height // 3, (250, 250, 90))
        out[f] = np.clip(frame, 0, 255).astype(np.uint8)
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """Encode (N, H, W, 3) uint8 frames as H.264 (yuv420p), atomically."""
    with atomic_path(path, suffix=".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            # A constant quantiser, one thread and explicit timestamps: the same bytes on every run. With
            # crf (its macroblock-tree rate control) x264 gave this 96x72 clip different bytes from run to run,
            # and the demo's AUC moved with them (0.973 and 0.958 for one seed).
            stream.options = {"qp": "18", "preset": "veryfast"}
            stream.codec_context.thread_count = 1
            for index, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())


def make_specs(n_normal: int, n_abnormal: int, frames: int, rng: np.random.Generator, prefix: str) -> list[SceneSpec]:
    """Scene specs: abnormal ones get one event of 1–2.5 s (at 25 fps) somewhere in the video."""
    specs = []
    for i in range(n_abnormal):
        length = int(rng.integers(min(25, frames // 4), min(63, frames // 2)))  # 1-2.5 s, shorter in short clips
        start = int(rng.integers(8, frames - length - 8))
        kind = "burst" if i % 2 == 0 else "intrusion"
        specs.append(SceneSpec(f"{prefix}_abnormal_{i:02d}", 1, frames, (start, start + length), kind))
    for i in range(n_normal):
        specs.append(SceneSpec(f"{prefix}_normal_{i:02d}", 0, frames, None, None))
    return specs
