"""What `watch` writes: rolling per-stream score CSVs, per-event files, and latency statistics.

Per event, in ``<out>/<stream>/events/``: its clip ``<id>.mp4`` and the score outputs named in
:data:`EVENT_OUTPUTS` (``<id>.json``, ``<id>.png``), written by the writers of the one table of score
outputs (:data:`vadpipe.infer.outputs.SCORE_OUTPUTS`).

A run never replaces an earlier run's files: CSV segments and events are numbered on from the
highest number already in the folder (``.part`` files of a killed run included), and each number
is claimed by creating its file exclusively.
"""

from __future__ import annotations

import csv
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadpipe import SNIPPET_FRAMES
from vadpipe.infer.intervals import Interval, ScoredCurve
from vadpipe.infer.outputs import OutputJob, named_outputs, output_paths, write_outputs
from vadpipe.video.snippets import frame_scores

EVENTS_FOLDER = "events"  # per stream: <out>/<stream>/events/
CLIP_SUFFIX = ".mp4"  # an event's clip, <id>.mp4 (pre-roll, event, post-roll)
EVENT_OUTPUTS = ("json", "png")  # score outputs written per event, beside its clip


def highest_number(folder: Path, prefix: str) -> int:
    """The highest NNNN of the files ``<prefix>-NNNN.*`` (or hidden ``.<prefix>-NNNN.*``) in ``folder``; 0 if none."""
    pattern = re.compile(rf"^\.?{re.escape(prefix)}-(\d+)\.")
    if not Path(folder).is_dir():
        return 0
    return max((int(m.group(1)) for p in Path(folder).iterdir() if (m := pattern.match(p.name))), default=0)


class EventNumbers:
    """The numbers of one stream's events: on from the highest in its events folder, each claimed by creating
    its clip ``<stream>-NNNN.mp4`` exclusively (so that no other run, before or alongside, gets it)."""

    def __init__(self, folder: Path, stream: str):
        self.folder, self.stream = Path(folder), stream
        self.last = highest_number(self.folder, stream)

    def __call__(self) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            self.last += 1
            try:
                (self.folder / f"{self.stream}-{self.last:04d}{CLIP_SUFFIX}").open("xb").close()
                return self.last
            except FileExistsError:
                continue


class RollingCsv:
    """``<dir>/scores-NNNN.csv`` segments of at most ``rotate_s`` stream seconds each.

    The segment being written is ``.scores-NNNN.csv.part``; it takes its final name (atomically)
    when it is full or when the stream ends, so a reader never sees a half-written segment.
    Segments are numbered on from the highest in the folder; a ``.part`` is created exclusively.
    """

    HEADER = ["snippet", "stream_time_s", "wall_time", "score", "smoothed"]

    def __init__(self, folder: Path, rotate_s: float):
        self.folder, self.rotate_s = Path(folder), rotate_s
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment = highest_number(self.folder, "scores")
        self.files: list[Path] = []
        self._file = None
        self._writer = None
        self._started_s = 0.0

    def write(self, snippet: int, stream_time_s: float, wall: float, score: float, smoothed: float) -> None:
        if self._file is not None and stream_time_s - self._started_s >= self.rotate_s:
            self.close()
        if self._file is None:
            self._started_s = stream_time_s
            while self._file is None:
                self.segment += 1
                try:  # never a part or segment of another run: "x" fails where the part exists
                    if self._final().exists():
                        continue
                    self._file = open(self._part(), "x", newline="", encoding="utf-8")  # noqa: SIM115 - see close()
                except FileExistsError:
                    continue
            self._writer = csv.writer(self._file)
            self._writer.writerow(self.HEADER)
        self._writer.writerow([snippet, f"{stream_time_s:.3f}", f"{wall:.3f}", f"{score:.6f}", f"{smoothed:.6f}"])
        self._file.flush()

    def _final(self) -> Path:
        return self.folder / f"scores-{self.segment:04d}.csv"

    def _part(self) -> Path:
        return self.folder / f".scores-{self.segment:04d}.csv.part"

    def close(self) -> None:
        """Give the segment being written its final name (raises OSError when the disk refuses; see ``abandon``)."""
        if self._file is None:
            return
        file, self._file, self._writer = self._file, None, None
        file.close()
        os.replace(self._part(), self._final())
        self.files.append(self._final())

    def abandon(self) -> None:
        """After a write failed: publish what was written if the disk allows it, else leave the ``.part``."""
        try:
            self.close()
        except OSError:
            pass


@dataclass
class StreamStats:
    """Throughput and frame-to-score latency of one stream (latencies: the last 10,000 snippets)."""

    scored: int = 0
    busy_s: float = 0.0  # backbone + scorer time spent on this stream's snippets
    video_s: float = 0.0  # stream seconds scored
    first_ready: float | None = None
    last_scored: float | None = None
    latencies: deque = field(default_factory=lambda: deque(maxlen=10_000))

    def add(self, ready: float, now: float, duration_s: float) -> None:
        self.scored += 1
        self.video_s += duration_s
        self.first_ready = ready if self.first_ready is None else self.first_ready
        self.last_scored = now
        self.latencies.append(now - ready)

    def summary(self) -> dict:
        wall = (self.last_scored - self.first_ready) if self.scored > 1 else 0.0
        lat = np.asarray(self.latencies) * 1000 if self.latencies else None
        return {
            "snippets_scored": self.scored,
            "snippets_per_s": round(self.scored / wall, 3) if wall > 0 else None,
            "real_time_factor": round(self.video_s / self.busy_s, 3) if self.busy_s > 0 else None,
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat is not None else None,
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 1) if lat is not None else None,
        }


def event_clip_path(out: Path, stream: str, event_id: str) -> Path:
    """Where an event's clip goes: ``<out>/<stream>/events/<id>.mp4``, beside its :data:`EVENT_OUTPUTS`."""
    return Path(out) / stream / EVENTS_FOLDER / f"{event_id}{CLIP_SUFFIX}"


def _clip_start(event: dict, scores: list[tuple[int, float, float]], fps: float) -> float:
    """Stream time of the clip's first snippet (time 0 of the event's picture)."""
    if not scores:
        return event["start_s"]
    index, t, _ = scores[0]
    first = (event.get("clip") or {}).get("first_snippet")
    return t if first is None else t - (index - first) * SNIPPET_FRAMES / fps


def event_curve(event: dict, scores: list[tuple[int, float, float]], fps: float, threshold: float) -> ScoredCurve:
    """The curve of an event's clip at stream time (0 at the clip's first snippet), with the event as its interval.

    Snippets of the clip that were not scored (``event["unscored"]``, dropped while scoring was behind) are NaN,
    so the picture shows a gap where they are, and every score sits at its own time.

    Args:
        scores: (snippet, stream_time_s, score) of the scored snippets in the clip.
    """
    by_index = {i: s for i, _, s in scores}
    clip = event.get("clip") or {}
    first = clip.get("first_snippet", scores[0][0] if scores else 0)
    count = clip.get("snippets") or (scores[-1][0] - first + 1 if scores else 0)
    last = max([first + count - 1, *by_index])
    values = np.asarray([by_index.get(i, np.nan) for i in range(first, last + 1)], dtype=np.float32)  # (T,)
    t0 = _clip_start(event, scores, fps)
    end_s = event["end_s"] if event["end_s"] is not None else (scores[-1][1] if scores else event["start_s"])
    span = Interval(0, 0, event["start_s"] - t0, end_s - t0, event["peak_score"], event["mean_score"])
    return ScoredCurve(values, fps, frame_scores(values), None, threshold, "watch", [span])  # curve: (16 T,)


def write_event_files(folder: Path, event: dict, scores: list[tuple[int, float, float]], fps: float,
                      threshold: float, release: float) -> dict:
    """The score outputs named in :data:`EVENT_OUTPUTS` for one event: ``<id>.json`` (the event, its outputs
    and its scores) and ``<id>.png`` (the curve around it).

    Args:
        scores: (snippet, stream_time_s, score) of the snippets in the clip.
    Returns:
        name -> path of the event's files (its clip's too, when the event names it).
    """
    outputs = named_outputs(EVENT_OUTPUTS)
    paths = {**event.get("outputs", {}),
             **{name: str(path) for name, path in output_paths(outputs, folder, event["id"]).items()}}

    def record() -> dict:
        return {**event, "outputs": paths,
                "scores": [{"snippet": i, "stream_time_s": round(t, 3), "score": round(s, 6)} for i, t, s in scores],
                "written": time.time()}

    scored = event_curve(event, scores, fps, threshold)
    t0 = _clip_start(event, scores, fps)
    gaps = tuple((span["start_s"] - t0, span["end_s"] - t0) for span in event.get("unscored", ()))
    job = OutputJob(scored, title=f"{event['id']} (stream time)", record=record, release=release, gaps=gaps,
                    start_s=t0)
    write_outputs(outputs, folder, event["id"], job)
    return paths
