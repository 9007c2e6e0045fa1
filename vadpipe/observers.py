"""How a library job tells whoever runs it what happens: one protocol for extract, score, train and watch.

The library never prints. A job takes an :class:`Observer` and calls its hooks; the CLI's
observers print lines and draw Rich bars, a service's could log or count, and the base class
ignores everything (so that ``vadpipe.live`` used from Python writes nothing to stdout or stderr).

Hooks, each optional:

- :meth:`Observer.note`: something the user should know (an assumption made, a slow first step);
- :meth:`Observer.warning`: something that looks wrong but changes no result and no exit code;
- :meth:`Observer.failed`: one input could not be used; the job goes on, and the command exits 1;
- :meth:`Observer.planned`, :meth:`Observer.started`, :meth:`Observer.advanced`,
  :meth:`Observer.finished`: progress over items (videos, epochs) and their units (snippets, batches);
- :meth:`Observer.event`: anything else, by name with its data: what is said per job is listed
  in :data:`EVENTS`.

This module imports nothing of vadpipe (a floor), so that the CLI subclasses it without importing torch.
"""

from __future__ import annotations

# The events jobs send through Observer.event, by job: name -> the keys of its data.
EVENTS = {
    "extract": {},
    "score": {
        "extracted": ("video", "features"),  # features: (T, C, D) as the backbone made them
        "scored": ("video", "scores"),  # scores: (T,) snippet scores, averaged over crops
    },
    "train": {
        # before the first epoch: what is trained on (abnormal/normal: bags; longest: snippets of the longest
        # video), config: the RunConfig
        "training": ("run", "videos", "abnormal", "normal", "longest", "device", "processes", "config"),
        "epoch": ("epoch", "epochs", "metrics"),  # metrics: the epoch's line of metrics.jsonl
    },
    "demo": {
        "stage": ("stage", "stages", "message"),  # one of the demo's steps begins (render, extract, ...)
    },
    "watch": {
        "status": ("stream", "status", "message", "wall_time"),  # opened, lost, ended, gave_up
        "event_start": ("event",),
        "event_end": ("event",),
        "snippet": ("stream", "snippet", "stream_time_s", "wall_time", "score", "smoothed", "latency_ms"),
        "live": ("streams",),  # about twice a second: one dict per stream (status, score, counts)
    },
}


class Observer:
    """The hooks of every job (module docstring); the base class ignores them all."""

    def note(self, message: str) -> None:
        """Something the user should know; not a problem."""

    def warning(self, message: str) -> None:
        """Something that looks wrong but changes no result and no exit code."""

    def failed(self, message: str) -> None:
        """One input (named in ``message``) could not be used; the job goes on without it."""

    def planned(self, total: int | None, **counts: int) -> None:
        """The items ahead (``total``; None when unknown) and counts of those not to do (``skipped``, ...)."""

    def started(self, item: object, size: int | None = None) -> None:
        """One item begins (a video's job, an epoch number), expected to take ``size`` units (None: unknown)."""

    def advanced(self, units: int) -> None:
        """``units`` more units (snippets, batches) are done."""

    def finished(self, item: object, result: object = None) -> None:
        """One item is done (its result: an index record, a video's scores, an epoch's metrics)."""

    def event(self, kind: str, data: dict) -> None:
        """A named event with its data (:data:`EVENTS`)."""


class Collector(Observer):
    """Keeps what it is told (for tests and for callers that want the lines afterwards)."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.failures: list[str] = []
        self.events: list[tuple[str, dict]] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def failed(self, message: str) -> None:
        self.failures.append(message)

    def event(self, kind: str, data: dict) -> None:
        self.events.append((kind, data))
