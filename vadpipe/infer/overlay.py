"""``<stem>.overlay.mp4``: the original video with the live score and an alarm marker on each frame.

The picture is H.264 (yuv420p), so an odd width or height is cropped by one pixel to the even size the
encoder needs; the frame rate is the curve's own (30000/1001 stays 30000/1001). The source's first
audio stream comes along at the same times as in the source: AAC, MP3 and Opus are copied as they
are, any other codec is re-encoded to AAC; a source without sound gives a silent overlay.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vadpipe.atomic import atomic_path
from vadpipe.video.decode import VideoReader, encoder_rate


def _score_colour(score: float) -> tuple[int, int, int]:
    """Green at 0, yellow at 0.5, red at 1."""
    s = float(np.clip(score, 0, 1))
    return (int(255 * min(1, 2 * s)), int(255 * min(1, 2 * (1 - s))), 40)


ALARM_RED = (220, 20, 20)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans Bold at ``size`` px (matplotlib ships it), else Pillow's own scalable font, else its bitmap one."""
    import matplotlib

    try:
        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans-Bold.ttf"), size)
    except OSError:  # no FreeType in this Pillow, or no such file
        try:
            return ImageFont.load_default(size=size)
        except (TypeError, OSError):  # Pillow < 10.1
            return ImageFont.load_default()


@dataclass(frozen=True)
class OverlayLayout:
    """Sizes and places, in pixels, all scaled with the frame's shorter side so that 176x144 and 1080p read alike.

    Everything drawn sits ``inset`` from the frame's edges, inside the alarm border (``border`` wide),
    which therefore never covers the score, its label or the bar.
    """

    height: int
    width: int
    border: int  # the alarm border's width
    inset: int  # border + a gap: where text and bar start
    font_size: int
    bar: tuple[int, int, int, int]  # (left, top, right, bottom) of the score bar

    @classmethod
    def of(cls, height: int, width: int) -> OverlayLayout:
        unit = min(height, width) / 100  # 1 % of the shorter side
        border = max(2, round(1.2 * unit))
        inset = border + max(2, round(unit))
        bar_h = max(5, round(3.5 * unit))
        bar = (inset, height - inset - bar_h, width - inset, height - inset)
        return cls(height, width, border, inset, max(10, round(4.5 * unit)), bar)


def bar_labels(score: float, threshold: float, width: int, font) -> tuple[str, str]:
    """The text above the bar: ``(left, right)``, the longest forms that fit ``width`` px side by side.

    Left names the bar and gives the score (``anomaly score 0.73``); right gives the threshold that
    the white tick on the bar marks (``threshold 0.50``), or is empty when even the short forms do not fit.
    """
    gap = font.getlength("  ")
    for left, right in ((f"anomaly score {score:.2f}", f"threshold {threshold:.2f}"),
                        (f"score {score:.2f}", f"thr {threshold:.2f}")):
        if font.getlength(left) + gap + font.getlength(right) <= width:
            return left, right
    return f"score {score:.2f}", ""


def _darken(image: np.ndarray, box: tuple[int, int, int, int], keep: float = 0.4) -> None:
    left, top, right, bottom = (max(0, v) for v in box)
    image[top:bottom, left:right] = (image[top:bottom, left:right] * keep).astype(np.uint8)


def draw_overlay(frame: np.ndarray, score: float, alarm: bool, threshold: float) -> np.ndarray:
    """One annotated frame. (H, W, 3) uint8 -> same.

    Along the bottom, a score bar (filled to the score, green to red, a white tick at the threshold)
    under its label and value; inside a detected interval, a red border round the frame and an ALARM
    label in its top-left corner. Sizes follow :class:`OverlayLayout`; text is white on a darkened
    patch with a dark outline, legible on any picture.
    """
    h, w = frame.shape[:2]
    lay = OverlayLayout.of(h, w)
    font = _font(lay.font_size)
    left, top, right, bottom = lay.bar
    labels = bar_labels(score, threshold, right - left, font)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (lay.font_size, 0)
    gap = max(1, lay.font_size // 5)
    text_top = top - gap - ascent - descent
    placed = [(x, text) for x, text in ((left, labels[0]), (right - int(font.getlength(labels[1])), labels[1])) if text]
    image = np.array(frame, dtype=np.uint8, copy=True)
    for x, text in placed:  # a darker patch under each label: white text reads on sky and snow too
        _darken(image, (x - gap, text_top - gap, x + int(font.getlength(text)) + gap, top))
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    draw.rectangle([left, top, right - 1, bottom - 1], fill=(30, 30, 30), outline=(0, 0, 0))
    fill_to = left + round((right - left) * float(np.clip(score, 0, 1)))
    if fill_to > left:
        draw.rectangle([left, top, fill_to - 1, bottom - 1], fill=_score_colour(score))
    tick = left + round((right - left) * float(np.clip(threshold, 0, 1)))
    tick_w = max(2, lay.font_size // 8)
    draw.rectangle([tick - tick_w // 2, top - gap, tick - tick_w // 2 + tick_w - 1, bottom - 1], fill=(255, 255, 255))
    stroke = max(1, lay.font_size // 12)
    for x, text in placed:
        draw.text((x, text_top), text, font=font, fill=(255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0))
    if alarm:
        draw.rectangle([0, 0, w - 1, h - 1], outline=ALARM_RED, width=lay.border)
        big = _font(round(lay.font_size * 1.3))
        a_ascent, a_descent = big.getmetrics() if hasattr(big, "getmetrics") else (round(lay.font_size * 1.3), 0)
        a_pad = max(2, lay.font_size // 4)
        x0, y0 = lay.inset, lay.inset
        box = [x0, y0, x0 + int(big.getlength("ALARM")) + 2 * a_pad - 1, y0 + a_ascent + a_descent + 2 * a_pad - 1]
        draw.rectangle(box, fill=ALARM_RED)
        draw.text((x0 + a_pad, y0 + a_pad), "ALARM", font=big, fill=(255, 255, 255))
    return np.asarray(pil)


def write_overlay(video: Path, out: Path, curve: np.ndarray, alarm: np.ndarray, threshold: float,
                  fps: float, *, resample_fps: float | None = None) -> None:
    """Re-decode ``video`` and encode the annotated frames as H.264 with the source's sound (atomically).

    Args:
        curve: (N,) per-frame scores. alarm: (N,) bool, True inside detected intervals.
        fps: the curve's frame rate. resample_fps: the rate the frames were resampled to for scoring
            (None: every decoded frame), so the overlay shows the frames the curve scores.
    """
    rate = encoder_rate(fps)
    sound = None
    try:
        with atomic_path(out, suffix=".mp4") as tmp, VideoReader(video, fps=resample_fps) as reader, \
                av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for f, frame in enumerate(reader):
                if f >= len(curve):
                    break
                if stream is None:
                    # The curve's own rate (29.97 stays 29.97): frame f is shown at f / fps, where the curve puts it.
                    stream = container.add_stream("libx264", rate=rate)
                    stream.height, stream.width = (frame.shape[0] // 2) * 2, (frame.shape[1] // 2) * 2  # yuv420p
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": "23", "preset": "veryfast"}
                    sound = AudioPassthrough.open(video, container)  # every stream before the first packet
                image = draw_overlay(frame[: stream.height, : stream.width], float(curve[f]), bool(alarm[f]),
                                     threshold)
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                picture.pts, picture.time_base = f, 1 / rate
                container.mux(stream.encode(picture))
                if sound is not None:
                    sound.mux_until(container, float((f + 1) / rate))
            if stream is not None:
                container.mux(stream.encode())
            if sound is not None:
                sound.finish(container, float(min(len(curve), f + 1) / rate))  # the picture's end
    finally:
        if sound is not None:
            sound.close()


# Audio codecs an .mp4 carries and browsers play: copied packet for packet. Any other is re-encoded to AAC.
COPIED_AUDIO = ("aac", "mp3", "opus")


class AudioPassthrough:
    """The source's first audio stream, muxed into the overlay at the source's own times.

    The overlay starts at the source's first video frame (time ``t0``): sound at source time ``t`` goes
    at ``t - t0``; sound before ``t0`` or after the picture's last frame is left out.
    """

    def __init__(self, source, in_stream, out_stream, t0: float, copy: bool):
        self.source, self.in_stream, self.out_stream = source, in_stream, out_stream
        self.t0, self.copy = t0, copy
        self.items = self._packets() if copy else self._frames()
        self.pending = None  # (output time, packet or frame) read but not yet due

    @classmethod
    def open(cls, video: Path, container) -> AudioPassthrough | None:
        """None when the source has no audio stream (or none this FFmpeg can carry over)."""
        try:
            source = av.open(str(video))
        except (av.FFmpegError, OSError):
            return None
        if not source.streams.audio or not source.streams.video:
            source.close()
            return None
        in_stream, picture = source.streams.audio[0], source.streams.video[0]
        t0 = float(picture.start_time * picture.time_base) if picture.start_time is not None else 0.0
        try:
            if in_stream.codec_context.name in COPIED_AUDIO:
                return cls(source, in_stream, container.add_stream_from_template(in_stream), t0, copy=True)
            out_stream = container.add_stream("aac", rate=in_stream.codec_context.sample_rate or 48000)
            out_stream.layout = "mono" if in_stream.codec_context.channels == 1 else "stereo"
            return cls(source, in_stream, out_stream, t0, copy=False)
        except (av.FFmpegError, ValueError):
            source.close()
            return None

    def _packets(self):
        shift = round(self.t0 / self.in_stream.time_base)
        for packet in self.source.demux(self.in_stream):
            if packet.pts is None or packet.size == 0:
                continue
            if packet.pts + 2 * (packet.duration or 0) <= shift:
                continue  # before the first picture (one packet before it stays: AAC's priming, decoded, not shown)
            packet.pts -= shift
            packet.dts = packet.pts if packet.dts is None else packet.dts - shift
            yield float(packet.pts * packet.time_base), packet

    def _frames(self):
        for frame in self.source.decode(self.in_stream):
            if frame.time is None or frame.time < self.t0:
                continue
            start = frame.time - self.t0
            frame.pts, frame.time_base = round(start * frame.sample_rate), Fraction(1, frame.sample_rate)
            yield start, frame

    def _mux(self, container, item) -> None:
        if self.copy:
            item.stream = self.out_stream
            container.mux(item)
        else:
            container.mux(self.out_stream.encode(item))

    def mux_until(self, container, until_s: float) -> None:
        """Mux the sound that starts before ``until_s`` (seconds of the overlay)."""
        while True:
            if self.pending is None:
                try:
                    self.pending = next(self.items, None)
                except av.FFmpegError:  # a damaged sound track: the overlay keeps what came before
                    self.items, self.pending = iter(()), None
                if self.pending is None:
                    return
            if self.pending[0] >= until_s:
                return
            self._mux(container, self.pending[1])
            self.pending = None

    def finish(self, container, end_s: float) -> None:
        """Mux what starts before the picture ends (``end_s``) and flush the encoder."""
        self.mux_until(container, end_s)
        if not self.copy:
            container.mux(self.out_stream.encode(None))

    def close(self) -> None:
        self.source.close()
