"""`vadpipe watch`: live sources -> shared backbone batches -> online LA-Net -> events, clips, alerts.

    SourceReader threads (one per source)     VideoReader frames, iter_snippet_batches, session.preprocess
      -> SnippetQueue per source (bounded, --behind drop|queue)
      -> main loop: up to --batch-size snippets of all sources in one pass of the backbone session
      -> OnlineScorer per stream (banded LA-Net, O(W) per snippet)  score of snippet t once t+L arrived
      -> EventDetector (threshold / release / hold)  -> observer events, CSV, clip, webhook

The frame reader, the snippet cutter, the backbone session (with the run's feature spec) and
the scorer are those of `score`, so a file watched here gets, snippet for snippet, the scores
`score` gives it with the same band. Nothing is printed: every status, event and snippet is told
to the observer (:data:`vadpipe.observers.EVENTS`), and :meth:`Watcher.run` returns the summary.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from vadpipe.live.events import EventDetector, Scored, iso
from vadpipe.live.options import WatchOptions  # noqa: F401  (re-exported: callers import it from here)
from vadpipe.live.outputs import EVENTS_FOLDER, EventNumbers, RollingCsv, StreamStats, write_event_files
from vadpipe.live.recording import EventRecorder, Inbox
from vadpipe.live.sources import Snippet, SnippetQueue, SourceReader, SourceSpec, Status
from vadpipe.observers import Observer

LIVE_EVERY_S = 0.5  # how often the "live" event tells each stream's state


@dataclass
class StreamState:
    """One stream's scoring state (reader, queue, online scorer, events, clip, files, statistics)."""

    spec: SourceSpec
    reader: SourceReader
    queue: SnippetQueue
    scorer: object  # OnlineScorer
    detector: EventDetector
    inbox: Inbox
    recorder: EventRecorder | None = None  # with --out: event clips of every received frame
    pending: deque = field(default_factory=deque)  # snippets pushed to the scorer, not yet scored
    stats: StreamStats = field(default_factory=StreamStats)
    csv: RollingCsv | None = None
    csv_files: list = field(default_factory=list)  # the CSV segments of a stream whose files stopped
    last: Scored | None = None
    last_score: float | None = None
    status: str = "opening"
    fps: float = 25.0
    events: int = 0
    done: bool = False


class Watcher:
    """Runs the loop of the module docstring until every source is done, ``duration_s`` passed, or a signal."""

    def __init__(self, options: WatchOptions, session, *, new_scorer, model_info: dict,
                 observer: Observer | None = None):
        self.o, self.session, self.observer = options, session, observer or Observer()
        self.new_scorer, self.model_info = new_scorer, model_info
        self.stop = threading.Event()
        self.wake = threading.Condition()
        self.streams: list[StreamState] = []
        self.failed: list[str] = []
        self.webhook = None
        if options.webhook:
            from vadpipe.live.webhook import Webhook

            self.webhook = Webhook(options.webhook, retries=options.webhook_retries, on_error=self.observer.warning)
        for i, spec in enumerate(options.sources):
            # A file read as fast as it decodes is never behind: its reader simply waits (nothing is dropped).
            policy = options.behind if spec.live or options.realtime else "queue"
            queue = SnippetQueue(options.queue, policy, self.wake)
            inbox = Inbox()
            reader = SourceReader(i, spec, queue, session.preprocess, feature_spec=session.spec, stop=self.stop,
                                  realtime=options.realtime, retries=options.retries, backoff=options.backoff,
                                  timeout=options.timeout, received=inbox.put if options.out is not None else None)
            numbers = EventNumbers(options.out / spec.name / EVENTS_FOLDER, spec.name) if options.out else None
            detector = EventDetector(spec.name, threshold=options.threshold, release=options.release,
                                     hold_s=options.hold_s, smooth=options.smooth, numbers=numbers)
            state = StreamState(spec, reader, queue, new_scorer(), detector, inbox)
            if options.out is not None:
                state.csv = RollingCsv(options.out / spec.name, options.csv_rotate_s)
                spare = options.queue + options.batch_size + int(model_info.get("lookahead") or 0) + 2
                state.recorder = EventRecorder(options.out / spec.name / EVENTS_FOLDER, pre_s=options.pre_s,
                                               post_s=options.post_s, spare=spare,
                                               write_files=self._event_files_writer())
            self.streams.append(state)
        self._stop_reason = "all sources done"

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> dict:
        started = time.perf_counter()
        previous = self._install_signals()
        if self.webhook:
            self.webhook.start()
        for s in self.streams:
            s.reader.start()
        try:
            self._loop(started)
        finally:
            self.stop.set()
            try:  # our handlers stay until every output is finished: a second Ctrl-C must not cut that short
                for s in self.streams:
                    self._finish_stream(s, self._stop_reason)
                if self.webhook:
                    self.webhook.close(wait_s=5.0)
                for s in self.streams:
                    s.reader.join(timeout=2.0)
            finally:
                self._restore_signals(previous)
        return self._summary(time.perf_counter() - started)

    def _loop(self, started: float) -> None:
        last_line = 0.0
        while not self.stop.is_set():
            if self.o.duration_s is not None and time.perf_counter() - started >= self.o.duration_s:
                self._stop_reason = "--duration reached"
                return
            self._record()
            before, batch = self._take()
            for status in before:
                self._on_status(status)
            if batch:
                self._score(batch)
            if not before and not batch:
                if all(s.done for s in self.streams):
                    return
                with self.wake:
                    self.wake.wait(0.05)
            if time.perf_counter() - last_line > LIVE_EVERY_S:
                self._tell_live()
                last_line = time.perf_counter()

    def _take(self) -> tuple[list[Status], list[Snippet]]:
        """Up to ``batch_size`` snippets, round robin over the streams; news met before a stream's snippets."""
        before: list[Status] = []
        batch: list[Snippet] = []
        blocked: set[int] = set()
        with self.wake:
            progress = True
            while progress and len(batch) < self.o.batch_size:
                progress = False
                for i, s in enumerate(self.streams):
                    if i in blocked or len(batch) >= self.o.batch_size:
                        continue
                    head = s.queue.peek()
                    if head is None:
                        continue
                    if isinstance(head, Status):
                        if any(b.stream == i for b in batch):
                            blocked.add(i)  # after this batch is scored
                            continue
                        before.append(s.queue.take())
                    else:
                        batch.append(s.queue.take())
                    progress = True
        return before, batch

    def _score(self, batch: list[Snippet]) -> None:
        import torch

        t0 = time.perf_counter()
        x = torch.stack([b.clips for b in batch]).to(self.session.device)  # (B, C, 3, 16, crop, crop)
        feats = self.session.rounded_as_stored(self.session(x).float().cpu())  # (B, C, D)
        share = (time.perf_counter() - t0) / len(batch)
        for snippet, f in zip(batch, feats, strict=True):
            s = self.streams[snippet.stream]
            t1 = time.perf_counter()
            s.pending.append(snippet)
            for _, score in s.scorer.push(f):
                self._scored(s, score)
            s.stats.busy_s += share + time.perf_counter() - t1

    # ---- per scored snippet -----------------------------------------------------------------------
    def _scored(self, s: StreamState, score: float) -> None:
        snip: Snippet = s.pending.popleft()
        now = time.perf_counter()
        duration = snip.real_frames / snip.fps  # a file's padded last snippet ends with its last real frame
        s.fps = snip.fps
        s.stats.add(snip.ready, now, snip.real_frames / snip.fps)
        item = Scored(snip.index, score, snip.stream_time_s, snip.wall_time, duration)
        transitions = s.detector.update(item)
        smoothed = sum(s.detector._recent) / len(s.detector._recent)
        s.last, s.last_score = item, score
        if s.csv is not None:
            with self._writing(s):
                s.csv.write(snip.index, snip.stream_time_s, snip.wall_time, score, smoothed)
        self.observer.event("snippet", {"stream": s.spec.name, "snippet": snip.index,
                                        "stream_time_s": round(snip.stream_time_s, 3), "wall_time": iso(snip.wall_time),
                                        "score": round(score, 6), "smoothed": round(smoothed, 6),
                                        "latency_ms": round((now - snip.ready) * 1000, 1)})
        if s.recorder is not None:
            with self._writing(s):
                s.recorder.scored(snip.index, snip.stream_time_s, score)
        for kind, event in transitions:
            self._on_event(s, kind, event, snip)

    def _on_event(self, s: StreamState, kind: str, event, snip: Snippet) -> None:
        record = event.to_dict()
        if kind == "start":
            s.events += 1
            if s.recorder is not None:
                self._record()  # every snippet received so far: the pre-roll and those not yet scored
            if s.recorder is not None:
                with self._writing(s):
                    event.outputs = {"clip": str(s.recorder.start(record, snip.index))}
                record = event.to_dict()
        elif s.recorder is not None:
            with self._writing(s):
                s.recorder.end(record, snip.index)
        payload = {"type": f"event_{kind}", "event": record, "model": self.model_info}
        self.observer.event(f"event_{kind}", {"event": record})
        if self.webhook:
            self.webhook.send(payload)

    def _record(self) -> None:
        """Move the snippets the readers received into their streams' recorders (clips take them from there)."""
        for s in self.streams:
            if s.recorder is not None:
                with self._writing(s):
                    s.recorder.receive(s.inbox.take())

    def _event_files_writer(self):
        def write(event: dict, scores: list, fps: float) -> None:
            write_event_files(Path(event["outputs"]["clip"]).parent, event, scores, fps, self.o.threshold,
                              self.o.release)
        return write

    # ---- news from the readers ----------------------------------------------------------------------
    def _on_status(self, status: Status) -> None:
        s = self.streams[status.stream]
        if status.kind == "opened":
            s.status = "live"
        elif status.kind == "lost":
            s.status = "reconnecting"
            self._flush(s)  # the gap ends the band: the next connection starts a fresh window
        elif status.kind in ("ended", "gave_up"):
            s.status = "ended" if status.kind == "ended" else "failed"
            if status.kind == "gave_up":
                self.failed.append(status.message)
                self.observer.failed(status.message)
            self._finish_stream(s, "stream ended" if status.kind == "ended" else "stream failed")
        self.observer.event("status", {"stream": s.spec.name, "status": status.kind, "message": status.message,
                                       "wall_time": iso(status.time)})

    def _flush(self, s: StreamState) -> None:
        for _, score in s.scorer.flush():
            self._scored(s, score)
        s.scorer = self.new_scorer()

    def _finish_stream(self, s: StreamState, reason: str) -> None:
        if s.done:
            return
        s.done = True
        if s.status not in ("ended", "failed"):  # stopped by a signal or --duration while live or reconnecting
            s.status = "stopped"
        self._flush(s)
        for kind, event in s.detector.close(s.last, reason):
            self._on_event(s, kind, event, _Last(s))
        if s.recorder is not None:
            self._record()
        if s.recorder is not None:
            with self._writing(s):
                s.recorder.close()  # with every snippet received, up to the end of its post-roll
        if s.csv is not None:
            with self._writing(s):
                s.csv.close()

    @contextlib.contextmanager
    def _writing(self, s: StreamState):
        """Around a write of one stream's files: a full or failing disk stops that stream's files, nothing else.

        The stream is still scored and its events still told and posted; the run ends with exit 1.
        """
        try:
            yield
        except OSError as exc:
            message = (f"{self.o.out / s.spec.name}: cannot write ({exc.strerror or exc}); stream {s.spec.name} "
                       "goes on without files; free some space (or fix the folder) and watch again")
            self.failed.append(message)
            self.observer.failed(message)
            if s.csv is not None:
                s.csv.abandon()
                s.csv_files = s.csv.files
            if s.recorder is not None:
                s.recorder.abandon()
            s.csv = s.recorder = None

    # ---- output -----------------------------------------------------------------------------------
    def _tell_live(self) -> None:
        streams = []
        for s in self.streams:
            st = s.stats.summary()
            streams.append({"stream": s.spec.name, "status": s.status, "score": s.last_score,
                            "in_event": s.detector.event is not None, "events": s.events,
                            "snippets_scored": st["snippets_scored"], "dropped_snippets": s.queue.dropped,
                            "real_time_factor": st["real_time_factor"]})
        self.observer.event("live", {"streams": streams})

    def _summary(self, elapsed: float) -> dict:
        streams = []
        for s in self.streams:
            streams.append({
                "stream": s.spec.name, "source": s.spec.text, "status": s.status, "events": s.events,
                "dropped_snippets": s.queue.dropped, "reconnects": s.reader.reconnects,
                "frames": s.reader.frames_total, **s.stats.summary(),
                "csv": [str(p) for p in (s.csv.files if s.csv else s.csv_files)],
            })
        return {"type": "summary", "stopped": self._stop_reason, "seconds": round(elapsed, 3),
                "model": self.model_info, "streams": streams, "failed": self.failed,
                "webhook": None if not self.webhook else {"alerts": self.webhook.alerts, "sent": self.webhook.sent,
                                                          "failed": self.webhook.failed,
                                                          "dropped": self.webhook.dropped}}

    # ---- signals ----------------------------------------------------------------------------------
    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum, frame):
            self._stop_reason = signal.Signals(signum).name
            self.stop.set()

        for sig in previous:
            signal.signal(sig, on_signal)
        return previous

    @staticmethod
    def _restore_signals(previous) -> None:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)


class _Last:
    """The last scored snippet of a stream, as ``_on_event`` wants a snippet (for closing at the end)."""

    def __init__(self, s: StreamState):
        last = s.last
        self.index = last.index if last else 0
        self.fps = s.fps
        self.stream_time_s = last.stream_time_s if last else 0.0
