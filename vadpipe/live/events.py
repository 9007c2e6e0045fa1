"""Live scores -> events, with hysteresis so that one incident is one event.

An event opens on the first snippet whose (optionally smoothed) score is >= ``threshold``;
it closes once the score has stayed below ``release`` (<= threshold) for ``hold`` seconds,
and then ends where that quiet stretch began. Smoothing is a causal moving average over
the last ``smooth`` snippets (live scoring cannot wait for the future). Peak and mean are of
the raw scores from the event's start to its end.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import asdict, dataclass, field


def iso(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Event:
    """One detected event of one stream (times: stream seconds and wall clock)."""

    stream: str
    id: str
    start_snippet: int
    start_s: float
    start_wall: str
    end_snippet: int | None = None
    end_s: float | None = None
    end_wall: str | None = None
    peak_score: float = 0.0
    mean_score: float = 0.0
    snippets: int = 0
    reason: str | None = None  # why it closed: "release" or "shutdown"/"stream ended"
    outputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Scored:
    """One scored snippet as the detector sees it."""

    index: int
    score: float
    stream_time_s: float
    wall_time: float
    duration_s: float  # 16 / fps


class EventDetector:
    """Feed scored snippets in order; get back ("start" | "end", Event) transitions.

    ``numbers``: gives each new event its number (default 1, 2, ...; `watch --out` numbers on from the
    events an earlier run left in the folder).
    """

    def __init__(self, stream: str, *, threshold: float, release: float, hold_s: float, smooth: int = 1,
                 numbers=None):
        if not 0 <= release <= threshold <= 1:
            raise ValueError(f"need 0 <= release <= threshold <= 1, got release {release}, threshold {threshold}")
        self.stream, self.threshold, self.release, self.hold_s = stream, threshold, release, hold_s
        self._recent: deque[float] = deque(maxlen=max(1, smooth))
        self.event: Event | None = None
        self._quiet_since: Scored | None = None  # first snippet of the current below-release stretch
        self._sum = 0.0
        self._count = 0
        self._pending: list[float] = []  # raw scores of the quiet stretch (part of the event only if it resumes)
        self.count = 0
        self._numbers = numbers or (lambda: self.count)

    def smoothed(self, score: float) -> float:
        self._recent.append(score)
        return sum(self._recent) / len(self._recent)

    def update(self, item: Scored) -> list[tuple[str, Event]]:
        level = self.smoothed(item.score)
        out: list[tuple[str, Event]] = []
        if self.event is None:
            if level >= self.threshold:
                self.count += 1
                self.event = Event(self.stream, f"{self.stream}-{self._numbers():04d}", item.index, item.stream_time_s,
                                   iso(item.wall_time))
                self._sum, self._count, self._quiet_since, self._pending = 0.0, 0, None, []
                self._add(item.score)
                out.append(("start", self.event))
            return out
        if level >= self.release:
            for s in self._pending:  # the dip was part of the event after all
                self._add(s)
            self._quiet_since, self._pending = None, []
            self._add(item.score)
            return out
        if self._quiet_since is None:
            self._quiet_since = item
        self._pending.append(item.score)
        if item.stream_time_s + item.duration_s - self._quiet_since.stream_time_s >= self.hold_s:
            out.append(("end", self._close(self._quiet_since, "release")))
        return out

    def close(self, last: Scored | None, reason: str) -> list[tuple[str, Event]]:
        """End an open event now (stream ended, shutdown): it ends after the last scored snippet."""
        if self.event is None:
            return []
        if self._quiet_since is not None:
            return [("end", self._close(self._quiet_since, reason))]
        if last is None:
            return []
        end = Scored(last.index + 1, 0.0, last.stream_time_s + last.duration_s, last.wall_time + last.duration_s,
                     last.duration_s)
        return [("end", self._close(end, reason))]

    def _add(self, score: float) -> None:
        self._sum += score
        self._count += 1
        if self.event is not None:  # kept current, so that an open event (event_start) says what it holds so far
            self.event.peak_score = max(self.event.peak_score, score)
            self.event.snippets, self.event.mean_score = self._count, self._sum / self._count

    def _close(self, at: Scored, reason: str) -> Event:
        event = self.event
        event.end_snippet, event.end_s, event.end_wall = at.index, at.stream_time_s, iso(at.wall_time)
        event.snippets = self._count
        event.mean_score = self._sum / max(self._count, 1)
        event.reason = reason
        self.event, self._quiet_since, self._pending = None, None, []
        return event
