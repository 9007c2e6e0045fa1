"""Live sources: anything FFmpeg reads (rtsp, rtmp, http(s)/HLS, udp, tcp, srt, a webcam, stdin, a file)
-> 16-frame snippets, each preprocessed for the backbone on the source's own thread.

Every source runs a reader thread: PyAV decodes frames (the same RGB conversion as
``vadpipe.video.decode``), frames are grouped into snippets (snippet i = frames
[16i, 16i+16) of the stream), and each snippet is preprocessed with the backbone's
``preprocess_snippets`` and put on the source's bounded :class:`SnippetQueue`.

A dropped or stalled network stream is reopened with exponential backoff; after
``retries`` failed opens in a row the source is given up (one line). A file or stdin
ends at its end (the last partial snippet loop-padded, as ``score`` does with ``--tail pad``).
When scoring falls behind, the queue's policy decides: ``drop`` discards the oldest waiting
snippet (counted and reported), ``queue`` makes the reader wait (bounded: never more than
``maxlen`` snippets wait). Stream time is frame count / fps, as in ``score``.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadpipe import SNIPPET_FRAMES
from vadpipe.errors import UsageError

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
BEHIND_POLICIES = ("drop", "queue")


@dataclass
class SourceSpec:
    """One SOURCE argument: where it is and how to open it."""

    text: str
    name: str
    kind: str  # file, network, webcam, stdin

    @property
    def live(self) -> bool:
        return self.kind in ("network", "webcam")


def parse_sources(texts: list[str]) -> list[SourceSpec]:
    """SOURCE arguments -> specs with unique names; a file that does not exist is a usage error."""
    specs: list[SourceSpec] = []
    used: set[str] = set()
    for text in texts:
        if text == "-":
            kind, name = "stdin", "stdin"
        elif text.startswith("/dev/video"):
            kind, name = "webcam", Path(text).name
        elif "://" in text:
            scheme = text.split("://", 1)[0].lower()
            if scheme not in NETWORK_SCHEMES and scheme != "file":
                raise UsageError(f"{text}: unknown scheme {scheme}://; use one of {', '.join(NETWORK_SCHEMES)}")
            kind = "file" if scheme == "file" else "network"
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", text.split("://", 1)[1]).strip("_") or scheme
        else:
            if not Path(text).is_file():
                raise UsageError(f"{text}: no such file; give a video file, a stream URL, /dev/videoN or - (stdin)")
            kind, name = "file", Path(text).stem
        base, n = name[:60], 2
        name = base
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        specs.append(SourceSpec(text, name, kind))
    return specs


@dataclass
class Snippet:
    """One snippet of one stream, with what its outputs and statistics need."""

    stream: int  # index of the source
    index: int  # snippet number in the stream (gaps where snippets were dropped)
    frames: np.ndarray  # (16, H, W, 3) uint8, for clips
    clips: object  # (C, 3, 16, crop, crop) float32 torch tensor, the backbone's input
    fps: float
    stream_time_s: float  # time of its first frame: frame number / fps
    wall_time: float  # time.time() when its first frame arrived
    ready: float  # time.perf_counter() when its last frame arrived
    real_frames: int = SNIPPET_FRAMES  # < 16 for the loop-padded last snippet of a file


@dataclass
class Status:
    """A reader's news for the main loop: opened, lost, gave_up, ended."""

    stream: int
    kind: str
    message: str
    time: float = field(default_factory=time.time)


class SnippetQueue:
    """A bounded queue of one source's snippets with the ``--behind`` policy (module docstring)."""

    def __init__(self, maxlen: int, policy: str, wake: threading.Condition):
        if policy not in BEHIND_POLICIES:
            raise UsageError(f"--behind {policy}: use one of {', '.join(BEHIND_POLICIES)}")
        self.maxlen, self.policy, self.wake = max(1, maxlen), policy, wake
        self.items: deque[Snippet] = deque()
        self.dropped = 0

    def put(self, item: Snippet, stop: threading.Event) -> None:
        with self.wake:
            while self._snippets() >= self.maxlen:
                if self.policy == "drop":
                    oldest = next(i for i, x in enumerate(self.items) if isinstance(x, Snippet))
                    del self.items[oldest]
                    self.dropped += 1
                    break
                if stop.is_set():
                    return
                self.wake.wait(0.1)
            self.items.append(item)
            self.wake.notify_all()

    def put_status(self, status: Status) -> None:
        """News go in line with the snippets (a stream lost after snippet i is flushed after scoring i)."""
        with self.wake:
            self.items.append(status)
            self.wake.notify_all()

    def _snippets(self) -> int:
        return sum(isinstance(x, Snippet) for x in self.items)

    def peek(self) -> Snippet | Status | None:
        return self.items[0] if self.items else None

    def take(self) -> Snippet | Status | None:
        """The oldest waiting item, or None (call with ``wake`` held)."""
        if not self.items:
            return None
        item = self.items.popleft()
        self.wake.notify_all()
        return item


class SourceReader(threading.Thread):
    """Reads one source on its own thread until it ends, gives up, or ``stop`` is set.

    Args:
        prepare: uint8 (1, 16, H, W, 3) torch tensor -> (1, C, 3, 16, crop, crop) backbone input.
        realtime: pace a file at its frame rate (as if it were live).
        retries: failed opens in a row before giving up; backoff: first wait in seconds (doubles, max 30 s).
        timeout: seconds an open or a read may stall before the stream counts as lost.
    """

    def __init__(self, index: int, spec: SourceSpec, queue: SnippetQueue, prepare, *,
                 stop: threading.Event, realtime: bool, retries: int, backoff: float, timeout: float):
        super().__init__(name=f"vadpipe-source-{spec.name}", daemon=True)
        self.index, self.spec, self.queue, self.prepare = index, spec, queue, prepare
        self.stop, self.realtime, self.retries, self.backoff, self.timeout = stop, realtime, retries, backoff, timeout
        self.frames_total = 0  # frames received over all connections
        self.snippets_total = 0
        self.reconnects = 0
        self.opened_once = False
        self.failed: str | None = None

    def _say(self, kind: str, message: str) -> None:
        self.queue.put_status(Status(self.index, kind, message))

    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # this thread's resize/normalise must not fight the backbone for the cores
        failures = 0
        while not self.stop.is_set():
            try:
                container = self._open()
            except Exception as exc:  # noqa: BLE001 - any FFmpeg / OS failure to open is reported alike
                failures += 1
                if not self.spec.live or failures > self.retries:
                    self.failed = (f"{self.spec.text}: cannot open ({_reason(exc)}) after {failures} attempt(s); "
                                   "check the address, that the stream is up, and that FFmpeg reads it")
                    self._say("gave_up", self.failed)
                    return
                self._wait(failures)
                continue
            failures = 0
            if self.opened_once:
                self.reconnects += 1
            self._say("opened", f"{self.spec.name}: {'reconnected' if self.opened_once else 'opened'} {self.spec.text}")
            self.opened_once = True
            try:
                ended = self._read(container)
            except Exception as exc:  # noqa: BLE001 - a stream that breaks mid-way is reopened
                ended, reason = False, _reason(exc)
            else:
                reason = "stream ended"
            finally:
                container.close()
            if ended or self.stop.is_set():
                self._say("ended", f"{self.spec.name}: ended after {self.frames_total} frames")
                return
            self._say("lost", f"{self.spec.name}: stream lost ({reason}); reconnecting")
            self._wait(1)

    def _wait(self, failures: int) -> None:
        self.stop.wait(min(30.0, self.backoff * 2 ** (failures - 1)))

    def _open(self):
        import av

        timeout = (self.timeout, self.timeout)
        if self.spec.kind == "stdin":
            return av.open(sys.stdin.buffer, mode="r")
        if self.spec.kind == "webcam":
            return av.open(self.spec.text, mode="r", format="v4l2", timeout=timeout)
        return av.open(self.spec.text, mode="r", timeout=timeout)

    def _read(self, container) -> bool:
        """Decode until the stream ends (True) or breaks (raises); partial snippets at a break are lost."""
        import torch
        from av.video.reformatter import VideoReformatter

        from vadpipe.video.decode import upright_rgb
        from vadpipe.video.snippets import loop_indices

        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        reformatter = VideoReformatter()
        size = None
        buffer: np.ndarray | None = None
        filled, first_frame, first_wall = 0, 0, 0.0
        start_wall, start_pts = time.perf_counter(), None
        for frame in container.decode(stream):
            if self.stop.is_set():
                return True
            if size is None:
                size = (frame.width, frame.height)
            if self.realtime and frame.time is not None:
                start_pts = frame.time if start_pts is None else start_pts
                delay = start_wall + (frame.time - start_pts) - time.perf_counter()
                if delay > 0:
                    self.stop.wait(delay)
            image = upright_rgb(reformatter, frame, stream, size)  # (H, W, 3)
            if buffer is None or buffer.shape[1:] != image.shape:
                buffer = np.empty((SNIPPET_FRAMES, *image.shape), dtype=np.uint8)  # (16, H, W, 3)
                filled = 0
            if filled == 0:
                first_frame, first_wall = self.frames_total, time.time()
            buffer[filled] = image
            filled += 1
            self.frames_total += 1
            if filled == SNIPPET_FRAMES:
                self._emit(buffer, fps, first_frame, first_wall, SNIPPET_FRAMES, torch)
                buffer, filled = None, 0
        if filled and not self.spec.live:  # a file's last partial snippet, loop-padded as `score --tail pad`
            self._emit(buffer[loop_indices(filled)], fps, first_frame, first_wall, filled, torch)
        # A network stream that "ends" has dropped (reconnect), except an HLS playlist that says it is complete.
        return not self.spec.live or "hls" in container.format.name

    def _emit(self, frames: np.ndarray, fps: float, first_frame: int, first_wall: float, real: int, torch) -> None:
        with torch.inference_mode():
            clips = self.prepare(torch.from_numpy(frames[None]))[0]  # (C, 3, 16, crop, crop)
        self.queue.put(Snippet(self.index, self.snippets_total, frames, clips, fps, first_frame / fps, first_wall,
                               time.perf_counter(), real), self.stop)
        self.snippets_total += 1


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc or type(exc).__name__).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
