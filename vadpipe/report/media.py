"""A browser-playable copy of each scored video, inside the report folder.

Browsers play H.264 (8-bit 4:2:0) in MP4 and VP8 / VP9 / AV1 in WebM; the original is used when it
is one of those and has a constant frame rate (so that frame f is shown at f / fps, where the
curve puts it). It is hard-linked into the folder (copied across file systems), so the folder
stays self-contained. Anything else (AVI, MPEG-4 part 2, 10-bit, variable frame rate, ...) is
transcoded with PyAV to VP9 in WebM, at a constant frame rate, at most ``MAX_HEIGHT`` lines high:
VP9 is the codec every browser build plays, including Chromium builds without H.264.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadpipe.atomic import atomic_path
from vadpipe.errors import InputError
from vadpipe.infer.outputs import PLAY_SUFFIX

MAX_HEIGHT = 480
# PLAY_SUFFIX: what a video page plays, <stem>.play.mp4 or <stem>.play.webm beside the score outputs (named
# with the score outputs, so that `score` does not take them for inputs)

VIDEO_MODES = ("auto", "webm", "none")

_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
_PLAYABLE = {  # container (PyAV format name, or one of its aliases) -> video codecs browsers play in it
    "mp4": {"h264", "av1"},
    "webm": {"vp8", "vp9", "av1"},
}
_PLAYABLE_PIX_FMTS = {"yuv420p", "yuvj420p"}
_PLAYABLE_AUDIO = {"aac", "mp3", "opus", "vorbis"}


@dataclass
class Media:
    """What the video page plays: ``path`` (inside the report folder) and how it got there."""

    path: Path | None
    how: str  # "original (hard link)", "original (copy)", "VP9 transcode", or why there is none
    outside: bool = False  # no video because it lies outside what the report may read (report.trust)


def earlier_copy(out_dir: Path, stem: str) -> Path | None:
    """The ``<stem>.play.*`` an earlier report placed in ``out_dir`` (a plain file, never a link), or None."""
    for kind in _PLAYABLE:
        path = out_dir / f"{stem}{PLAY_SUFFIX}.{kind}"
        if path.is_file() and not path.is_symlink():
            return path
    return None


def playable_in_browsers(video: Path) -> tuple[str | None, str | None]:
    """(extension browsers know it by, None) when browsers play ``video`` as it is, else (None, why not)."""
    import av

    try:
        with av.open(str(video)) as container:
            names = set(container.format.name.split(","))
            kind = "mp4" if names & set(_MP4.split(",")) else ("webm" if names & {"webm", "matroska"} else None)
            if not container.streams.video:
                return None, "no video stream"
            stream = container.streams.video[0]
            codec, pix_fmt = stream.codec_context.name, stream.codec_context.pix_fmt
            audio = {s.codec_context.name for s in container.streams.audio}
            if container.format.name.startswith("matroska") and video.suffix.lower() != ".webm":
                kind = None  # Matroska under another name: browsers only take it as .webm
    except (OSError, av.FFmpegError) as exc:
        return None, f"cannot be opened ({exc})"
    if kind is None:
        return None, f"container {container.format.name}"
    if codec not in _PLAYABLE[kind]:
        return None, f"{codec} in {kind}"
    if pix_fmt not in _PLAYABLE_PIX_FMTS:
        return None, f"pixel format {pix_fmt}"
    if audio - _PLAYABLE_AUDIO:
        return None, f"audio {', '.join(sorted(audio - _PLAYABLE_AUDIO))}"
    return f".{kind}", None


def place_original(video: Path, target: Path) -> str:
    """Hard-link ``video`` to ``target`` (a copy when another file system); returns how."""
    if target.exists() and not target.is_symlink() and os.path.samefile(video, target):
        return "original (hard link)"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # not atomic_path: it would chmod the original
    try:
        try:
            os.link(video, tmp)
            how = "original (hard link)"
        except OSError:
            shutil.copyfile(video, tmp)
            how = "original (copy)"
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return how


def transcode_webm(video: Path, target: Path, fps: float, *, max_height: int = MAX_HEIGHT) -> None:
    """Re-encode ``video`` to VP9 / WebM at a constant ``fps`` (the curve's), frame f at time f / fps.

    Decoded with vadpipe's own reader, so the frames are the ones that were scored (upright, resampled
    when scoring resampled). The picture is scaled down to ``max_height`` lines when taller.
    """
    import av

    from vadpipe.video.decode import VideoReader, encoder_rate

    rate = encoder_rate(fps)
    with atomic_path(target, suffix=".webm") as tmp, VideoReader(video) as reader, \
            av.open(str(tmp), mode="w", format="webm") as container:
        stream = None
        for f, image in enumerate(reader):
            if stream is None:
                h, w = image.shape[:2]
                scale = min(1.0, max_height / h)
                stream = container.add_stream("libvpx-vp9", rate=rate)
                stream.height, stream.width = 2 * max(1, round(h * scale / 2)), 2 * max(1, round(w * scale / 2))
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = 1 / rate
                # Real-time settings: a review copy, made in about the time decoding takes.
                stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "40", "b": "0",
                                  "row-mt": "1", "threads": str(min(4, os.cpu_count() or 1))}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if frame.height != stream.height or frame.width != stream.width:
                frame = frame.reformat(width=stream.width, height=stream.height)
            frame.pts, frame.time_base = f, 1 / rate
            container.mux(stream.encode(frame))
        if stream is None:
            raise InputError(f"{video}: no frame could be decoded for the report's video")
        container.mux(stream.encode())


def prepare_media(video: Path | None, out_dir: Path, stem: str, fps: float, *, mode: str = "auto",
                  variable_frame_rate: bool = False, newer_than: float = 0.0) -> Media:
    """The video the page plays, placed at ``out_dir/<stem>.play.<ext>``.

    Args:
        mode: "auto" (the original when browsers play it, else a VP9 transcode), "webm" (always the
            transcode) or "none" (no video on the page).
        newer_than: an existing transcode younger than this time stamp (the score outputs') is reused.
    """
    if mode == "none":
        return Media(None, "no video (--video none)")
    if video is None or video.suffix.lower() == ".npy":
        return Media(None, "scored from precomputed features")
    if not video.is_file():
        return Media(None, f"the scored video is not at {video} any more")
    ext, reason = (None, "asked for (--video webm)") if mode == "webm" else playable_in_browsers(video)
    if reason is None and variable_frame_rate:
        ext, reason = None, "variable frame rate"
    target = out_dir / f"{stem}{PLAY_SUFFIX}{ext or '.webm'}"
    for old in (out_dir / f"{stem}{PLAY_SUFFIX}.{kind}" for kind in _PLAYABLE):
        if old != target:
            old.unlink(missing_ok=True)  # what an earlier report placed in another way
    if reason is None:
        return Media(target, place_original(video, target))
    fresh = (target.is_file() and not target.is_symlink() and target.stat().st_mtime >= newer_than
             and not os.path.samefile(video, target))
    if not fresh:
        transcode_webm(video, target, fps)
    return Media(target, f"VP9 transcode ({reason})")
