"""Decoding a video with PyAV into upright RGB frames, with its exact frame count, fps and timestamps.

Every container and codec the bundled FFmpeg reads is accepted (mp4/H.264, avi/MPEG-4,
mkv, webm/VP9, mov, mpg, wmv, flv, ts, ...); any pixel format (gray, 10-bit, odd sizes)
is converted to RGB24 by swscale. Frames are streamed, never held whole.

- **Rotation**: the display matrix (``frame.rotation``, counter-clockwise degrees in
  PyAV >= 13; the old ``rotate`` tag otherwise) is applied, so frames come out upright.
  As FFmpeg's autorotate, only a quarter turn (within 2 degrees) is applied: a degenerate
  matrix (no angle) or an odd angle leaves the picture as stored.
- **Frame rate**: ``fps`` is the stream's average rate. Timestamps are recorded and a
  variable frame rate is *detected and reported*, never silently resampled; passing
  ``fps=`` resamples on purpose (the frame on screen at each tick ``k / fps``).
- **Truncation**: a file that decodes fewer frames than its container declares (or
  covers less time than its header says) is refused rather than silently shortened.
- **Discontinuities**: where timestamps go backwards (concatenated MPEG-TS files start again)
  or, in a format that allows discontinuities (MPEG-TS/PS), jump more than 10 s ahead, the
  following frames go on one frame interval after the previous one, as FFmpeg does.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vadpipe.errors import InputError

av.logging.set_level(None)  # FFmpeg's own log lines would break the one-line-per-problem output

# Containers whose header states the duration (not estimated from the bit rate).
_RELIABLE_DURATION = ("mov", "mp4", "matroska", "webm", "avi", "asf", "flv")
LIVE_TIMES_KEPT = 4096  # timestamps a live stream's reader keeps (for its rate at the end), ~3 min at 25 fps
_TS_DISCONT = 0x0200  # AVFMT_TS_DISCONT: the format allows timestamp discontinuities (MPEG-TS/PS)
_DISCONT_S = 10.0  # a larger jump ahead in such a format is a discontinuity (FFmpeg's dts_delta_threshold)
_REENCODE = "re-encode it to H.264 .mp4 with a converter you have (vadpipe brings none) or remove it from the inputs"


@dataclass
class VideoInfo:
    """What decoding found out about a video. ``frames`` is exact once decoding has finished.

    ``frames``/``fps`` describe the frames handed on (after resampling when ``fps=`` was
    asked for); ``decoded_frames`` is what the file itself held.
    """

    path: str
    frames: int
    fps: float
    width: int  # upright (after rotation)
    height: int
    rotation: int  # counter-clockwise degrees the stored picture was turned to be upright
    variable_frame_rate: bool
    duration_s: float
    codec: str
    pix_fmt: str
    decoded_frames: int = 0
    source_fps: float | None = None  # set when resampled
    timestamps: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # (frames,) seconds

    def to_record(self) -> dict:
        """The JSON-friendly fields (no path, no timestamps)."""
        rec = asdict(self)
        for key in ("path", "timestamps"):
            rec.pop(key)
        rec["fps"] = round(rec["fps"], 6)
        rec["duration_s"] = round(rec["duration_s"], 6)
        if rec["source_fps"] is None:
            rec.pop("source_fps")
        return rec


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored (H, W, 3) picture counter-clockwise by ``rotation`` degrees."""
    k = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _rotation_of(frame: av.VideoFrame, stream) -> int:
    """Counter-clockwise degrees to turn the picture upright: a quarter turn, or 0 (module docstring)."""
    rotation = getattr(frame, "rotation", None)  # the display matrix, PyAV >= 13
    try:
        if rotation is None:
            tag = stream.metadata.get("rotate")  # old FFmpeg: clockwise degrees
            rotation = -float(tag) if tag else 0.0
        rotation = float(rotation)
    except (TypeError, ValueError):
        return 0
    # A degenerate matrix has no angle (FFmpeg: NaN; PyAV: INT_MIN): such a picture is not turned.
    if not math.isfinite(rotation) or abs(rotation) > 360:
        return 0
    quarter = 90 * round(rotation / 90)
    return int(quarter) if abs(rotation - quarter) <= 2 else 0


class VideoReader:
    """Streams the upright RGB frames of one video file.

    Iterating yields ``(H, W, 3)`` uint8 arrays; once the iteration has ended, :attr:`info`
    holds the exact frame count, timestamps and whether the frame rate varies.

    Files and live streams are read by this one class (``vadpipe watch`` opens a stream's container
    itself and hands it over with :meth:`from_container`), so that both give the same frames.

    Args:
        path: the video file.
        fps: resample to this rate by timestamp (``None``: every decoded frame).
        threads: FFmpeg decoding threads (0: as many as cores; give fewer when several
            videos are decoded at once).
        on_frame: called with each decoded frame's time in seconds before the frame is handed on
            (``watch --realtime`` paces a file with it).

    Raises:
        InputError: (when opening or while iterating) an empty, unreadable, audio-only,
            truncated or undecodable file, with one line naming the file and what to do.
    """

    def __init__(self, path: str | Path, *, fps: float | None = None, threads: int = 0, on_frame=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such video file; check the path")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty file (0 bytes); copy it again or remove it from the inputs")
        try:
            container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{self.path}: FFmpeg cannot read this file ({_reason(exc)}): not a video, or truncated/corrupt; "
                f"download it again or {_REENCODE}"
            ) from exc
        self._setup(container, fps=fps, threads=threads, on_frame=on_frame, live=False)

    @classmethod
    def from_container(cls, container, name: str, *, fps: float | None = None, threads: int = 0,
                       on_frame=None) -> VideoReader:
        """A reader of a live stream (network, webcam, stdin) whose container the caller opened.

        A stream is not checked for truncation (it declares no length), and a failure while decoding
        is raised as it came (the caller reconnects); ``name`` is what messages call it.

        Raises:
            InputError: the container has no video stream.
        """
        reader = cls.__new__(cls)
        reader.path = name
        reader._setup(container, fps=fps, threads=threads, on_frame=on_frame, live=True)
        return reader

    def _setup(self, container, *, fps: float | None, threads: int, on_frame, live: bool) -> None:
        if fps is not None and not fps > 0:
            container.close()
            raise ValueError(f"fps must be positive, got {fps}")
        self.target_fps, self.live, self._on_frame = fps, live, on_frame
        self._container = container
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path}: no video stream (audio only?); remove it from the inputs")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # FFmpeg frame+slice threads; PyAV decodes without the GIL
        self._stream.codec_context.thread_count = threads
        self._reformatter = VideoReformatter()
        ctx = self._stream.codec_context
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        self.info = VideoInfo(
            path=str(self.path), frames=max(0, self._stream.frames), fps=float(rate or 0.0),
            width=ctx.width, height=ctx.height, rotation=0, variable_frame_rate=False,
            duration_s=(self._container.duration or 0) / 1e6, codec=ctx.name,
            pix_fmt=ctx.pix_fmt or (self._stream.format.name if self._stream.format else "?"),
        )
        if self.info.frames == 0 and self.info.duration_s and self.info.fps:
            self.info.frames = round(self.info.duration_s * self.info.fps)  # an estimate until decoded

    def estimated_frames(self) -> int:
        """Frames to expect (exact after iteration; before it, from the container header)."""
        if self.target_fps and self.info.duration_s and not self.info.decoded_frames:
            return round(self.info.duration_s * self.target_fps)
        return self.info.frames

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def format_name(self) -> str:
        """The container's format (``mov,mp4,...``, ``hls``, ``mpegts``)."""
        return self._container.format.name

    def __iter__(self) -> Iterator[np.ndarray]:
        frames = self._decoded()
        if self.target_fps is None:
            yield from (image for image, _ in frames)
        else:
            yield from self._resampled(frames)

    def _decoded(self) -> Iterator[tuple[np.ndarray, float]]:
        """(upright frame, time in seconds) for every decoded frame; fills :attr:`info` at the end.

        A live stream keeps only its last :data:`LIVE_TIMES_KEPT` timestamps (memory must not grow with
        the hours a camera runs); a file keeps them all (``info.timestamps``)."""
        times: deque[float] | list[float] = deque(maxlen=LIVE_TIMES_KEPT) if self.live else []
        first = None
        size = None  # stored (width, height) of the first frame; later frames are scaled to it
        rotation = 0
        n, shown = 0, 0.0  # shown: how long the latest frame is on screen, as its container states (0: unknown)
        offset = 0.0  # added to the file's timestamps after a discontinuity
        discont = bool(self._container.format.flags & _TS_DISCONT)
        try:
            for frame in self._container.decode(self._stream):
                if size is None:
                    size = (frame.width, frame.height)
                    rotation = _rotation_of(frame, self._stream)
                # (H, W, 3); a stream that changes resolution midway is scaled to its first frame's size
                image = self._to_rgb(frame, *(size if (frame.width, frame.height) != size else (None, None)))
                t = frame.time
                if t is None:
                    times.append(times[-1] + 1 / (self.info.fps or 25) if times else 0.0)
                else:
                    if times and not 0 < float(t) + offset - times[-1] <= (_DISCONT_S if discont else math.inf):
                        offset = times[-1] + self._interval(times) - float(t)  # a discontinuity: go on from here
                    times.append(float(t) + offset)
                first = times[-1] if first is None else first
                shown = _frame_duration(frame)
                n += 1
                if self._on_frame is not None:
                    self._on_frame(times[-1])
                yield _upright(image, rotation), times[-1]
        except (av.FFmpegError, OSError, ValueError, RuntimeError) as exc:
            if self.live:
                raise  # a stream that breaks: the caller decides (reconnect), with FFmpeg's reason
            raise InputError(
                f"{self.path}: decoding stopped after {n} frames ({_reason(exc)}); the file looks truncated "
                f"or corrupt; download it again or {_REENCODE}"
            ) from exc
        if n == 0:
            raise InputError(f"{self.path}: no frame could be decoded; {_REENCODE}")
        self._finish(np.asarray(times), size, rotation, n=n, first=first, shown=shown)

    def _interval(self, times: deque[float] | list[float]) -> float:
        """The frame interval before a discontinuity: the last one, else the stream's rate's."""
        last = times[-1] - times[-2] if len(times) > 1 else 0.0
        return last if 0 < last <= _DISCONT_S else 1 / (self.info.fps or 25)

    def _to_rgb(self, frame: av.VideoFrame, width: int | None, height: int | None) -> np.ndarray:
        return frame_to_rgb(self._reformatter, frame, width, height)

    def _finish(self, times: np.ndarray, size: tuple[int, int], rotation: int, *, n: int, first: float,
                shown: float = 0.0) -> None:
        """Fill :attr:`info` from the ``n`` frames decoded: ``times`` are their timestamps (a live stream's last
        ones only), ``first`` the first frame's, ``shown`` the last frame's stated duration (0: unknown)."""
        info = self.info
        tick = float(self._stream.time_base) if self._stream.time_base else 0.0
        deltas = np.diff(times)
        step = float(np.median(deltas)) if deltas.size else (1 / info.fps if info.fps else 0.0)
        if deltas.size and step > 0:
            # Timestamps quantised to the time base (33/34 ms at 30 fps in mkv) are still constant rate.
            info.variable_frame_rate = bool(np.any(np.abs(deltas - step) > max(2 * tick, 0.1 * step)))
        # How long the last frame shows: a constant rate's step; with a variable rate, the duration the container
        # states for it (what FFmpeg counts), else the interval before it. Never the interval before it when
        # the container says otherwise: a 2-hour gap before the last frame would be counted twice.
        last = (shown or float(deltas[-1])) if info.variable_frame_rate else step
        covered = float(times[-1] - first) + last if n > 1 else step
        if info.variable_frame_rate and covered > 0:
            info.fps = n / covered  # the average rate
        elif not info.fps and step > 0:
            info.fps = 1 / step
        end = float(times[-1]) + last if n > 1 else step  # when the last frame stops showing, from the file's zero
        if not self.live:
            self._check_truncated(n, max(covered, end), step)
        width, height = size
        info.rotation = rotation
        info.width, info.height = (height, width) if round(rotation / 90) % 2 else (width, height)
        info.decoded_frames = info.frames = n
        info.duration_s = covered if covered > 0 else n / (info.fps or 25)
        info.timestamps = times

    def _check_truncated(self, n: int, covered: float, step: float) -> None:
        """Refuse a file whose frames stop well before the header says (``covered``: seconds reached).

        ``covered`` is the larger of the frames' span and their end time: Matroska's per-track
        DURATION is the end time from the file's zero, so a picture that starts late (after its
        sound, or cut from a stream) spans less than it and is not short.
        """
        declared_frames = max(0, self._stream.frames)
        declared_s = self._declared_duration()
        checks = []
        if declared_frames:
            checks.append(n < declared_frames - max(2, 0.01 * declared_frames))
        if declared_s:
            checks.append(covered < declared_s - max(2 * step, 0.01 * declared_s))
        if checks and all(checks):  # both signals must agree where both exist (edit lists shift one of them)
            what = f"{declared_frames} frames" if declared_frames else f"{declared_s:.2f} s"
            raise InputError(
                f"{self.path}: truncated: the container declares {what} but only {n} frames ({covered:.2f} s) "
                f"decode; download it again or {_REENCODE}"
            )

    def _declared_duration(self) -> float:
        """The video stream's duration as its header states it (0 when only estimated or unknown)."""
        stream, container = self._stream, self._container
        if not any(name in container.format.name for name in _RELIABLE_DURATION):
            return 0.0  # mpeg-ps/ts: FFmpeg estimates the duration from the bit rate
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        tag = stream.metadata.get("DURATION")  # matroska/webm: per-track "HH:MM:SS.nnnnnnnnn"
        if tag:
            try:
                h, m, sec = tag.split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
            except ValueError:
                return 0.0
        # The container's duration is the longest stream's: only trust it for a video-only file.
        return (container.duration or 0) / 1e6 if len(container.streams) == 1 else 0.0

    def _resampled(self, frames: Iterator[tuple[np.ndarray, float]]) -> Iterator[np.ndarray]:
        """The frame on screen at each tick ``t0 + k / fps``: the latest one whose time is <= the tick."""
        period = 1 / self.target_fps
        # Containers round timestamps to their time base (1 ms in mkv): a frame up to half a tick late still counts.
        tick = float(self._stream.time_base) if self._stream.time_base else 0.0
        rate = float(self._stream.average_rate or self._stream.guessed_rate or 0) or 1e6
        eps = min(0.5 * tick, 0.25 / rate) + 1e-6
        k, t0, held = 0, None, None
        ticks: deque[float] | list[float] = deque(maxlen=LIVE_TIMES_KEPT) if self.live else []
        for image, t in frames:
            if t0 is None:
                t0 = t
            while held is not None and t0 + k * period < t - eps:
                ticks.append(t0 + k * period)
                k += 1
                yield held
            held = image
        end = t0 + self.info.duration_s  # the last frame stays on screen for one frame interval
        while held is not None and (t0 + k * period < end - eps or k == 0):
            ticks.append(t0 + k * period)
            k += 1
            yield held
        self.info.source_fps = self.info.fps
        self.info.fps = float(self.target_fps)
        self.info.frames = k
        self.info.timestamps = np.asarray(ticks)


def encoder_rate(fps: float) -> Fraction:
    """``fps`` as an encoder's frame rate: 29.97 as 30000/1001, and never 0 however slow (a variable-rate
    video can average 0.0002 fps, which a denominator of at most 1001 rounds to 0)."""
    rate = Fraction(fps).limit_denominator(1001)
    return rate if rate > 0 else Fraction(fps).limit_denominator(1 << 30) or Fraction(1, 1 << 30)


def _frame_duration(frame: av.VideoFrame) -> float:
    """Seconds the container says ``frame`` is shown (its packet duration), 0.0 when it says nothing."""
    duration, time_base = getattr(frame, "duration", None), frame.time_base
    return float(duration * time_base) if duration and duration > 0 and time_base else 0.0


def frame_to_rgb(reformatter: VideoReformatter, frame: av.VideoFrame, width: int | None = None,
                 height: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame (scaled to width x height when given), before rotation.

    One reformatter (one cached swscale context) per stream: 3-5x faster than
    frame.to_ndarray(format="rgb24"), which sets up a new context per frame; same pixels.
    """
    try:
        rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", threads=1)
    except TypeError:  # PyAV < 15: no `threads`
        rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24")
    return rgb.to_ndarray()


def upright_rgb(reformatter: VideoReformatter, frame: av.VideoFrame, stream, size: tuple[int, int]) -> np.ndarray:
    """The upright (H, W, 3) RGB picture of a frame, scaled to the stream's first ``size`` (width, height)
    if its resolution changed: the same pixels :class:`VideoReader` gives."""
    scale = size if (frame.width, frame.height) != size else (None, None)
    return _upright(frame_to_rgb(reformatter, frame, *scale), _rotation_of(frame, stream))


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__).strip()


def read_video(path: str | Path, *, fps: float | None = None) -> tuple[np.ndarray, VideoInfo]:
    """All upright RGB frames of a (small) video in memory: ``(N, H, W, 3)`` uint8, and its info.

    For tests and short clips; the extraction pipeline streams with :class:`VideoReader`.
    """
    with VideoReader(path, fps=fps) as reader:
        frames = list(reader)
        return np.stack(frames), reader.info


def probe_frames(path: str | Path) -> int:
    """Frames a video is expected to hold, from its header (0 when unknown); decodes nothing."""
    try:
        with VideoReader(path) as reader:
            return reader.estimated_frames()
    except InputError:
        return 0

