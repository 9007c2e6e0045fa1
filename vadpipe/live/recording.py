"""Event clips that hold every frame a stream delivered, scored or not.

Recording is not scoring. A reader thread hands every snippet it cuts to its stream's
:class:`Inbox` *before* the scoring queue may drop it (``--behind drop``); the main loop moves
them into the stream's :class:`EventRecorder`, which keeps a bounded ring of them: the pre-roll,
plus the snippets received but not scored yet. When an event opens (at scoring time, some
snippets later), its clip starts ``pre`` seconds before the event from that ring and then takes
every received snippet until ``post`` seconds after the event's end. The clip's JSON lists the
spans that were recorded but not scored (``unscored``), and its PNG shows them as gaps.

Clips are fragmented MP4 written under their final name (as NVRs do): playable while being
written and after the process is killed, at most about a second short.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadpipe.live.clips import ClipWriter, snippets_for
from vadpipe.live.outputs import CLIP_SUFFIX

INBOX_MAX = 4096  # snippets waiting for the main loop (it takes them every few tens of ms)
# Raw RGB frames one stream's ring may hold: the pre-roll is shortened to fit (`--pre 600` at 1080p would be
# ~93 GB; this keeps ~7 s of 1080p, ~46 s of 640x480 at 25 fps).
RING_BYTES = 2**30


@dataclass
class Received:
    """One snippet as the reader cut it, before any scoring decision."""

    index: int  # the stream's snippet number (no gaps: every snippet cut is received)
    frames: np.ndarray  # (16, H, W, 3) uint8
    real_frames: int  # < 16 for a file's padded last snippet
    stream_time_s: float
    fps: float


class Inbox:
    """Snippets handed over by a reader thread and taken by the main loop (thread-safe, bounded)."""

    def __init__(self, maxlen: int = INBOX_MAX):
        self._items: deque[Received] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def put(self, item: Received) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> list[Received]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items


class EventRecorder:
    """One stream's event clips (module docstring).

    Args:
        folder: where the clips go (``<out>/<stream>/events``).
        pre_s, post_s: seconds of video before an event and after its end (the pre-roll is shortened to what
            :data:`RING_BYTES` of the stream's frames hold).
        spare: snippets that may be received but not scored yet (queue + lookahead + batch), kept beyond
            the pre-roll so that an event's pre-roll is still there when it is scored.
        write_files: called with (event record, [(snippet, stream_time_s, score)], fps) when a clip is
            complete, to write the event's JSON and PNG.
    """

    def __init__(self, folder: Path, *, pre_s: float, post_s: float, spare: int, write_files):
        self.folder, self.pre_s, self.post_s, self.spare = Path(folder), pre_s, post_s, spare
        self.write_files = write_files
        self.ring: deque[Received] | None = None  # sized at the first snippet (its fps)
        self.recent: deque[tuple[int, float, float]] = deque()  # (snippet, stream_time_s, score), as the ring
        self.fps = 25.0
        self.clip: ClipWriter | None = None
        self.event: dict | None = None
        self.scores: list[tuple[int, float, float]] = []
        self.written: dict[int, tuple[float, float]] = {}  # of the open clip: (start s, end s), for unscored spans
        self.stop_after: int | None = None  # the open clip's last snippet, once its event has ended
        self.latest = -1  # the last snippet scored
        self.first = 0  # the open clip's first snippet (its pre-roll's)

    # ---- from the main loop ---------------------------------------------------------------------
    def receive(self, items: list[Received]) -> None:
        """Snippets taken from the stream's inbox, in order."""
        for item in items:
            if self.ring is None:
                self.fps = item.fps
                capacity = snippets_for(self.pre_s, item.fps) + self.spare + 1
                capacity = min(capacity, max(self.spare + 2, RING_BYTES // max(1, item.frames.nbytes)))
                self.ring, self.recent = deque(maxlen=capacity), deque(maxlen=capacity)
            self.ring.append(item)
        self._commit()

    def scored(self, index: int, stream_time_s: float, score: float) -> None:
        """A snippet's score; closes the clip once scoring has passed its post-roll."""
        self.recent.append((index, stream_time_s, score))
        self.latest = index
        if self.clip is None:
            return
        self._commit()
        if index >= self.first:
            self.scores.append((index, stream_time_s, score))
        if self.stop_after is not None and index >= self.stop_after:
            self.close()

    def start(self, event: dict, index: int) -> Path:
        """An event opened at snippet ``index``: a new clip from its pre-roll (an open one is closed first)."""
        if self.clip is not None:
            self.close()  # the previous event's post-roll is cut short by the new event
        first = index - snippets_for(self.pre_s, self.fps)
        kept = [item for item in (self.ring or ()) if item.index >= first]
        path = self.folder / f"{event['id']}{CLIP_SUFFIX}"
        shape = kept[0].frames.shape[1:] if kept else (16, 16, 3)
        self.clip = ClipWriter(path, self.fps, shape)
        self.clip.last_index = first - 1  # the clip starts with the pre-roll
        self.event, self.stop_after, self.written, self.first = event, None, {}, first
        self._commit()
        self.scores = [x for x in self.recent if x[0] >= first]
        return path

    def end(self, event: dict, scored_index: int) -> None:
        """The open clip's event ended (``event['end_snippet']``); the clip runs on to the end of its post-roll."""
        if self.clip is None or self.event is None or self.event["id"] != event["id"]:
            return
        self.event = event
        self.stop_after = event["end_snippet"] + snippets_for(self.post_s, self.fps) - 1
        if scored_index >= self.stop_after:
            self.close()

    def close(self) -> None:
        """Finish the open clip (with every snippet received up to its post-roll) and write its event's files."""
        if self.clip is None:
            return
        self._commit(everything=True)
        clip, event = self.clip, dict(self.event)
        self.clip = None
        path = clip.finish()
        event["outputs"] = {**event.get("outputs", {}), "clip": str(path)}
        event["clip"] = {"first_snippet": clip.first_index, "snippets": clip.snippets, "frames": clip.frames,
                         "duration_s": round(clip.frames / self.fps, 3)}
        if len(clip.paths) > 1:  # a long event: its clip goes on in further files
            event["clip"]["parts"] = [str(part) for part in clip.paths]
        event["unscored"] = self._unscored()
        self.write_files(event, self.scores, self.fps)

    def abandon(self) -> None:
        """After a write failed (a full disk): close the open clip if the disk allows it (fragmented, it plays
        up to its last complete fragment either way); nothing more is written."""
        clip, self.clip = self.clip, None
        if clip is not None:
            try:
                clip.finish()
            except OSError:
                pass

    # ---- inside ---------------------------------------------------------------------------------
    def _commit(self, everything: bool = False) -> None:
        """Write the received snippets that certainly belong to the open clip.

        While its event is open, it can still end at the last snippet scored (the first of a quiet
        stretch), so the snippets up to that one's post-roll belong (a clip may thus run up to ``hold``
        seconds past the post-roll); once it has ended, those up to the end of its post-roll;
        ``everything`` (closing): all received up to there.
        """
        if self.clip is None:
            return
        bound = self.stop_after if self.stop_after is not None else (
            None if everything else self.latest + snippets_for(self.post_s, self.fps) - 1)
        for item in self.ring or ():
            if item.index > self.clip.last_index and (bound is None or item.index <= bound):
                self._write(item)

    def _write(self, item: Received) -> None:
        if item.index <= self.clip.last_index:
            return
        self.clip.write(item.index, item.frames, item.real_frames)
        self.written[item.index] = (item.stream_time_s, item.stream_time_s + item.real_frames / item.fps)

    def _unscored(self) -> list[dict]:
        """The clip's recorded snippets that were never scored (dropped while scoring was behind), as spans."""
        scored = {i for i, _, _ in self.scores}
        spans: list[dict] = []
        for index in sorted(self.written):
            if index in scored:
                continue
            start_s, end_s = (round(t, 3) for t in self.written[index])
            if spans and spans[-1]["last_snippet"] == index - 1:
                spans[-1].update(last_snippet=index, end_s=end_s)
            else:
                spans.append({"first_snippet": index, "last_snippet": index, "start_s": start_s, "end_s": end_s})
        return spans
