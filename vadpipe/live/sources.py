"""Live sources: anything FFmpeg reads (rtsp, rtmp, http(s)/HLS, udp, tcp, srt, a webcam, stdin, a file)
-> 16-frame snippets, each preprocessed for the backbone on the source's own thread.

Every source runs a reader thread: frames come from the same reader as `score`'s
(:class:`vadpipe.video.decode.VideoReader`, resampled as the run's feature spec says),
snippets from the same cutter (:func:`vadpipe.video.snippets.iter_snippet_batches`, with the
spec's tail policy), and each snippet is preprocessed by the backbone session and put on the
source's bounded :class:`SnippetQueue`.

A dropped or stalled network stream is reopened with exponential backoff; after
``retries`` failed opens in a row the source is given up (one line). A file or stdin
ends at its end (the last partial snippet padded or dropped as ``score`` does), or fails
there when it cannot be decoded: only live sources are reopened.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vadpipe import SNIPPET_FRAMES
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.errors import InputError, UsageError

if TYPE_CHECKING:
    from vadpipe.video.decode import VideoReader

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
BEHIND_POLICIES = ("drop", "queue")


def _safe_name(text: str) -> str:
    """A stream name usable as a folder below --out: letters, digits, ``. _ -``, never ``.`` or ``..``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:60]


def _open_network(text: str, timeout: float):
    import av

    return av.open(text, mode="r", timeout=(timeout, timeout))


def _open_webcam(text: str, timeout: float):
    import av

    return av.open(text, mode="r", format="v4l2", timeout=(timeout, timeout))


def _open_stdin(text: str, timeout: float):
    import av

    return av.open(sys.stdin.buffer, mode="r")


@dataclass(frozen=True)
class SourceKind:
    """One kind of SOURCE: how it is recognised, named and opened, and whether it is live.

    Attributes:
        live: reopened when it drops (a file or stdin ends, or fails, at its end).
        matches: whether a SOURCE argument is of this kind.
        stream_name: the stream's name (its folder below --out) from the argument.
        open: (argument, timeout s) -> an open PyAV container; None: a file, read by path (checked as `score` checks).
    """

    name: str
    live: bool
    matches: Callable[[str], bool]
    stream_name: Callable[[str], str]
    open: Callable[[str, float], object] | None = None


def _scheme(text: str) -> str:
    return text.split("://", 1)[0].lower() if "://" in text else ""


# Tried in order; adding a kind of source is one entry here.
SOURCE_KINDS = (
    SourceKind("stdin", False, lambda t: t == "-", lambda t: "stdin", _open_stdin),
    SourceKind("webcam", True, lambda t: t.startswith("/dev/video"), lambda t: _safe_name(Path(t).name) or "webcam",
               _open_webcam),
    SourceKind("network", True, lambda t: _scheme(t) in NETWORK_SCHEMES,
               lambda t: _safe_name(t.split("://", 1)[1]) or _scheme(t), _open_network),
    SourceKind("file", False, lambda t: _scheme(t) == "file" or "://" not in t,
               lambda t: _safe_name(Path(t.split("://", 1)[-1]).stem) or "file"),
)
KINDS_BY_NAME = {kind.name: kind for kind in SOURCE_KINDS}


@dataclass
class SourceSpec:
    """One SOURCE argument: where it is and how to open it."""

    text: str
    name: str
    kind: str  # a SOURCE_KINDS name: stdin, webcam, network, file

    @property
    def live(self) -> bool:
        return KINDS_BY_NAME[self.kind].live

    @property
    def path(self) -> str:
        """The file a ``file`` source reads (``file://`` taken off)."""
        return self.text.split("://", 1)[1] if self.text.startswith("file://") else self.text


def parse_sources(texts: list[str]) -> list[SourceSpec]:
    """SOURCE arguments -> specs with unique, safe names; a file that does not exist is a usage error."""
    specs: list[SourceSpec] = []
    used: set[str] = set()
    for text in texts:
        kind = next((k for k in SOURCE_KINDS if k.matches(text)), None)
        if kind is None:
            raise UsageError(f"{text}: unknown scheme {_scheme(text)}://; use one of {', '.join(NETWORK_SCHEMES)}")
        spec = SourceSpec(text, "", kind.name)
        if kind.name == "file" and not Path(spec.path).is_file():
            raise UsageError(f"{text}: no such file; give a video file, a stream URL, /dev/videoN or - (stdin)")
        base = name = kind.stream_name(text)
        n = 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        spec.name = name
        specs.append(spec)
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

    Frames come from :class:`vadpipe.video.decode.VideoReader` and snippets from
    :func:`vadpipe.video.snippets.iter_snippet_batches`, exactly as `extract` and `score` read a
    file: the feature spec's resampling rate and tail policy apply (a live stream's partial snippet
    at a break is lost, whatever the policy: more frames may never come).

    Args:
        feature_spec: the run's feature spec (``resample_fps``, ``tail``).
        prepare: uint8 (1, 16, H, W, 3) torch tensor -> (1, C, 3, 16, crop, crop) backbone input
            (the backbone session's preprocessing).
        received: called with every snippet cut (a :class:`vadpipe.live.recording.Received`), before the
            queue may drop it: recording never depends on scoring.
        realtime: pace a file at its frame rate (as if it were live).
        retries: failed opens in a row before giving up; backoff: first wait in seconds (doubles, max 30 s).
        timeout: seconds an open or a read may stall before the stream counts as lost.
    """

    def __init__(self, index: int, spec: SourceSpec, queue: SnippetQueue, prepare, *, feature_spec: FeatureSpec,
                 stop: threading.Event, realtime: bool, retries: int, backoff: float, timeout: float,
                 received=None):
        super().__init__(name=f"vadpipe-source-{spec.name}", daemon=True)
        self.index, self.spec, self.queue, self.prepare = index, spec, queue, prepare
        self.feature_spec, self.received = feature_spec, received
        self.stop, self.realtime, self.retries, self.backoff, self.timeout = stop, realtime, retries, backoff, timeout
        self.frames_total = 0  # frames received over all connections (after resampling)
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
                reader = self._open()
            except Exception as exc:  # noqa: BLE001 - any FFmpeg / OS failure to open is reported alike
                failures += 1
                if not self.spec.live or failures > self.retries:
                    self._give_up(f"{self.spec.text}: cannot open ({self._reason(exc)}) after {failures} attempt(s); "
                                  "check the address, that the stream is up, and that FFmpeg reads it")
                    return
                self._wait(failures)
                continue
            failures = 0
            if self.opened_once:
                self.reconnects += 1
            self._say("opened", f"{self.spec.name}: {'reconnected' if self.opened_once else 'opened'} {self.spec.text}")
            self.opened_once = True
            try:
                ended = self._read(reader)
            except Exception as exc:  # noqa: BLE001 - a stream that breaks mid-way is reopened
                if not self.spec.live:  # a file (or stdin) that fails while decoding ends there; never reopened
                    self._give_up(str(exc) if isinstance(exc, InputError) else
                                  f"{self.spec.text}: decoding failed ({self._reason(exc)})")
                    return
                ended, reason = False, self._reason(exc)
            else:
                reason = "stream ended"
            finally:
                reader.close()
            if ended or self.stop.is_set():
                self._say("ended", f"{self.spec.name}: ended after {self.frames_total} frames")
                return
            self._say("lost", f"{self.spec.name}: stream lost ({reason}); reconnecting")
            self._wait(1)

    def _give_up(self, message: str) -> None:
        self.failed = message
        self._say("gave_up", message)

    def _wait(self, failures: int) -> None:
        self.stop.wait(min(30.0, self.backoff * 2 ** (failures - 1)))

    def _open(self) -> VideoReader:
        from vadpipe.video.decode import VideoReader

        fps, pace = self.feature_spec.resample_fps, (self._pacer() if self.realtime else None)
        opener = KINDS_BY_NAME[self.spec.kind].open
        if opener is None:  # a file is checked as `score` checks it (empty, truncated, no video)
            return VideoReader(self.spec.path, fps=fps, on_frame=pace)
        container = opener(self.spec.text, self.timeout)
        try:
            return VideoReader.from_container(container, self.spec.text, fps=fps, on_frame=pace)
        except BaseException:
            container.close()
            raise

    def _pacer(self):
        """``on_frame`` that waits until each frame's time has come, counted from the first frame."""
        start: list[float] = []

        def pace(t: float) -> None:
            if not start:
                start.extend((time.perf_counter(), t))
            delay = start[0] + (t - start[1]) - time.perf_counter()
            if delay > 0:
                self.stop.wait(delay)
        return pace

    def _read(self, reader: VideoReader) -> bool:
        """Cut snippets until the stream ends (True) or breaks (raises); a partial snippet at a break is lost."""
        import torch

        from vadpipe.video.snippets import iter_snippet_batches

        fps = reader.target_fps or reader.info.fps or 25.0
        first = self.frames_total  # this connection's first frame in stream numbering
        arrived: deque[float] = deque(maxlen=SNIPPET_FRAMES)  # wall times of the frames of the snippet being cut
        stopped = []

        def frames():
            for image in reader:
                if self.stop.is_set():
                    stopped.append(True)
                    return
                arrived.append(time.time())
                self.frames_total += 1
                yield image

        tail = "drop" if self.spec.live else self.feature_spec.tail
        for k, batch in enumerate(iter_snippet_batches(frames(), tail=tail, batch_size=1)):  # (1, 16, H, W, 3)
            if stopped:
                break
            real = min(SNIPPET_FRAMES, self.frames_total - first - SNIPPET_FRAMES * k)
            with torch.inference_mode():
                clips = self.prepare(torch.from_numpy(batch))[0]  # (C, 3, 16, crop, crop)
            start_frame = first + SNIPPET_FRAMES * k
            if self.received is not None:
                from vadpipe.live.recording import Received

                self.received(Received(self.snippets_total, batch[0], real, start_frame / fps, fps))
            self.queue.put(Snippet(self.index, self.snippets_total, batch[0], clips, fps, start_frame / fps,
                                   arrived[-real], time.perf_counter(), real), self.stop)
            self.snippets_total += 1
        if stopped:
            return True
        # A network stream that "ends" has dropped (reconnect), except an HLS playlist that says it is complete.
        return not self.spec.live or "hls" in reader.format_name

    def _reason(self, exc: BaseException) -> str:
        import av

        if isinstance(exc, av.error.ExitError):  # FFmpeg's "Immediate exit requested": our timeout fired
            return f"no data for {self.timeout:g} s"
        return _reason(exc)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc or type(exc).__name__).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
