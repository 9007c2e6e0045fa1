"""Tiny synthetic videos written with PyAV, with frame patterns a test can read back.

``index_frames`` encodes the frame index in the grey levels of a frame's two halves,
and :func:`frame_indices` reads it back. ``corner_frames`` marks the top-left corner red, to check
rotation. ``bad_*`` write the broken files a batch has to survive.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vadpipe.live.clips import encoder_available  # noqa: F401 - the tests ask the library's own check

av.logging.set_level(None)  # FFmpeg's own log lines would clutter test output

CONTAINER_FORMAT = {".wmv": "asf", ".ts": "mpegts", ".m4v": "mp4", ".mpg": "mpeg"}


def write_video(
    path: str | Path,
    frames: np.ndarray,
    *,
    fps: float = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    pts_ms: list[int] | None = None,
    options: dict | None = None,
    container_options: dict | None = None,
    audio_s: float = 0.0,
    audio_codec: str = "aac",
    audio_onset_s: float = 0.0,
) -> Path:
    """Encode ``(N, H, W, 3)`` uint8 RGB frames; the container comes from the file extension.

    Args:
        rotation: display-matrix rotation (counter-clockwise degrees) written into the stream.
        pts_ms: explicit presentation times in milliseconds (variable frame rate; use .mkv).
        options: encoder options (default for x264: ``{"preset": "ultrafast", "qp": "0"}``, lossless).
        container_options: muxer options (e.g. ``{"movflags": "faststart"}``: mp4 index first).
        audio_s: also write an audio track (mono, 16 kHz) this many seconds long: silence, then a tone from
            ``audio_onset_s`` on, encoded with ``audio_codec`` (e.g. ``aac``, ``pcm_s16le`` in .mkv).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = {"preset": "ultrafast", "qp": "0"} if codec == "libx264" and options is None else (options or {})
    fmt = CONTAINER_FORMAT.get(path.suffix.lower())
    with av.open(str(path), mode="w", format=fmt, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        stream.options = opts
        stream.bit_rate = 8_000_000  # near-lossless for codecs driven by bit rate (mpeg4, mpeg2, ...)
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        audio = container.add_stream(audio_codec, rate=16000) if audio_s else None  # (streams before packets)
        if audio is not None:
            audio.layout = "mono"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio is not None:
            _write_audio(container, audio, audio_s, onset_s=audio_onset_s)
    return path


def _write_audio(container, stream, seconds: float, rate: int = 16000, onset_s: float = 0.0) -> None:
    samples = (np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(rate * seconds))) * 0.3).astype(np.float32)
    samples[: int(rate * onset_s)] = 0  # silence before the onset (an audible mark to align with)
    for start in range(0, samples.size, 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None, start : start + 1024]), format="flt",
                                           layout="mono")
        frame.sample_rate, frame.pts = rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def index_frames(n: int, height: int = 24, width: int = 32) -> np.ndarray:
    """(N, H, W, 3) grey frames that carry their own index f < 256: top half ``16 * (f % 16) + 8``,
    bottom half ``16 * (f // 16) + 8`` (grey levels 16 apart survive every codec here)."""
    f = np.arange(n)
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    frames[:, : height // 2] = (16 * (f % 16) + 8)[:, None, None, None]
    frames[:, height // 2 :] = (16 * (f // 16 % 16) + 8)[:, None, None, None]
    return frames


def frame_indices(frames: np.ndarray) -> np.ndarray:
    """Read back the indices written by :func:`index_frames` from (..., H, W, 3) frames."""
    h = frames.shape[-3]
    top = frames[..., 2 : h // 2 - 2, 2:-2, :].reshape(*frames.shape[:-3], -1).mean(-1)
    bottom = frames[..., h // 2 + 2 : -2, 2:-2, :].reshape(*frames.shape[:-3], -1).mean(-1)
    return np.round((top - 8) / 16).astype(int) + 16 * np.round((bottom - 8) / 16).astype(int)


def corner_frames(n: int, height: int = 24, width: int = 32) -> np.ndarray:
    """Dark frames with a red top-left 8x8 corner."""
    frames = np.full((n, height, width, 3), 16, dtype=np.uint8)
    frames[:, :8, :8] = (230, 20, 20)
    return frames


def random_frames(n: int, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random frames (cheap to encode, varied enough to give distinct features)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, height // 4 + 1, width // 4 + 1, 3)).astype(np.uint8)
    return np.repeat(np.repeat(base, 4, axis=1), 4, axis=2)[:, :height, :width].copy()


def bad_text_as_video(path: Path) -> Path:
    path.write_text("this is not a video\n" * 20)
    return path


def bad_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def bad_truncated(path: Path, n: int = 60, keep: float = 0.5) -> Path:
    """An H.264 .mkv cut to ``keep`` of its bytes (decodes partly, then stops)."""
    write_video(path, random_frames(n, 48, 64), codec="libx264", options={"preset": "ultrafast"})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def bad_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """An .mp4 (AAC) with sound and no picture."""
    with av.open(str(path), mode="w") as container:
        _write_audio(container, container.add_stream("aac", rate=16000), seconds)
    return path


def sound_of(path: str | Path) -> tuple[float, float]:
    """(seconds from the first video frame to where the sound first gets loud, seconds of decoded sound)."""
    with av.open(str(path)) as container:
        first_picture = next(container.decode(video=0)).time
    with av.open(str(path)) as container:
        onset, samples, rate = None, 0, 1
        for frame in container.decode(audio=0):
            mono = frame.to_ndarray().reshape(len(frame.layout.channels) if frame.format.is_planar else 1, -1)
            loud = np.flatnonzero(np.abs(mono.astype(np.float64)).max(0) > (0.05 * 32768 if mono.dtype == np.int16
                                                                             else 0.05))
            if onset is None and loud.size:
                onset = frame.time + loud[0] / frame.sample_rate - first_picture
            samples, rate = samples + frame.samples, frame.sample_rate
    return (float("nan") if onset is None else onset), samples / rate
