"""The parts of `watch` alone: hysteresis events, the bounded snippet queue, the webhook thread."""

import threading
import time

import numpy as np
import pytest

from tests.helpers.live import WebhookSink, free_port
from vadpipe.live.events import EventDetector, Scored
from vadpipe.live.sources import Snippet, SnippetQueue, Status
from vadpipe.live.webhook import Webhook


def _feed(detector, scores, step=0.64):
    out = []
    for i, s in enumerate(scores):
        changes = detector.update(Scored(i, s, i * step, 0.0, step))
        out += [(kind, e.start_snippet, e.end_snippet) for kind, e in changes]
    return out


def test_hysteresis_makes_one_event_of_a_dip_and_closes_after_hold():
    d = EventDetector("cam", threshold=0.5, release=0.3, hold_s=1.0)
    #        0    1    2    3    4    5    6    7    8
    scores = [0.1, 0.6, 0.4, 0.2, 0.7, 0.2, 0.1, 0.1, 0.1]
    # 2 is above release (stays in), 3 dips below for 0.64 s < hold, 4 resumes, 5..6 are below for 1.28 s: end at 5.
    assert _feed(d, scores) == [("start", 1, None), ("end", 1, 5)]


def test_event_mean_and_peak_cover_the_event_and_smoothing_is_causal():
    d = EventDetector("cam", threshold=0.5, release=0.5, hold_s=0.0, smooth=2)
    events = []
    for i, s in enumerate([0.0, 1.0, 1.0, 0.0, 0.0]):
        events += d.update(Scored(i, s, float(i), 0.0, 1.0))
    # smoothed: 0, .5, 1, .5, 0 -> opens at 1, closes at 4 (first smoothed value below .5)
    (_, start), (_, end) = events
    assert (end.start_snippet, end.end_snippet) == (1, 4)
    assert end.peak_score == 1.0 and end.mean_score == np.mean([1.0, 1.0, 0.0])


def test_open_event_is_closed_at_shutdown_after_the_last_snippet():
    d = EventDetector("cam", threshold=0.5, release=0.4, hold_s=5)
    _feed(d, [0.9, 0.9])
    ((kind, event),) = d.close(Scored(1, 0.9, 0.64, 0.0, 0.64), "SIGTERM")
    assert kind == "end" and event.end_snippet == 2 and event.end_s == 1.28 and event.reason == "SIGTERM"


def _snippet(i):
    return Snippet(0, i, np.zeros((16, 2, 2, 3), np.uint8), None, 25.0, i * 0.64, 0.0, 0.0)


def test_drop_policy_drops_the_oldest_snippets_never_the_news():
    q = SnippetQueue(2, "drop", threading.Condition())
    stop = threading.Event()
    q.put(_snippet(0), stop)
    q.put_status(Status(0, "lost", "x"))
    for i in (1, 2, 3):
        q.put(_snippet(i), stop)
    kept = [x.index if isinstance(x, Snippet) else x.kind for x in q.items]
    assert kept == ["lost", 2, 3] and q.dropped == 2


def test_queue_policy_makes_the_reader_wait_and_stays_bounded():
    wake = threading.Condition()
    q = SnippetQueue(2, "queue", wake)
    stop = threading.Event()
    q.put(_snippet(0), stop)
    q.put(_snippet(1), stop)
    writer = threading.Thread(target=q.put, args=(_snippet(2), stop))
    writer.start()
    time.sleep(0.3)
    assert writer.is_alive() and len(q.items) == 2
    with wake:
        assert q.take().index == 0
    writer.join(5)
    assert not writer.is_alive() and [x.index for x in q.items] == [1, 2] and q.dropped == 0


def test_webhook_posts_events_and_a_dead_endpoint_never_blocks():
    sink = WebhookSink()
    sink.start()
    hook = Webhook(sink.url, retries=1, backoff=0.05)
    hook.start()
    hook.send({"type": "event_start", "event": {"id": "a-0001"}})
    hook.close(5)
    sink.close()
    assert sink.received == [{"type": "event_start", "event": {"id": "a-0001"}}] and hook.sent == 1
    errors = []
    dead = Webhook(f"http://127.0.0.1:{free_port()}/x", retries=2, backoff=0.05, timeout=1, on_error=errors.append)
    dead.start()
    started = time.perf_counter()
    for i in range(3):
        dead.send({"event": {"id": f"e{i}"}})
    assert time.perf_counter() - started < 0.1  # send returns at once
    deadline = time.time() + 10
    while dead.failed < 3 and time.time() < deadline:
        time.sleep(0.05)
    dead.close(5)
    assert dead.failed == 3 and dead.sent == 0 and "not delivered" in errors[0]


def test_an_open_event_says_what_it_holds_so_far():
    detector = EventDetector("cam", threshold=0.5, release=0.4, hold_s=1.0)
    ((kind, event),) = detector.update(Scored(3, 0.9, 1.92, 0.0, 0.64))
    assert kind == "start" and (event.snippets, event.mean_score, event.peak_score) == (1, 0.9, 0.9)
    detector.update(Scored(4, 0.7, 2.56, 0.0, 0.64))
    assert (event.snippets, event.peak_score) == (2, 0.9) and event.mean_score == pytest.approx(0.8)


def test_a_clip_killed_before_it_is_finished_still_plays(tmp_path):
    """Clips are fragmented MP4 under their final name: a process killed mid-event leaves a playable clip."""
    import subprocess
    import sys

    import av

    path = tmp_path / "cam-0001.mp4"
    script = (
        "import os, numpy as np\n"
        "from vadpipe.live.clips import ClipWriter\n"
        f"clip = ClipWriter({str(path)!r}, 25.0, (48, 64, 3))\n"
        "frames = np.random.default_rng(0).integers(0, 255, size=(16, 48, 64, 3), dtype=np.uint8)\n"
        "for i in range(8):\n"
        "    clip.write(i, frames, 16)\n"
        "os._exit(0)  # no finish(), no close: as kill -9 leaves it\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    decoded = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                decoded += 1
        except av.error.InvalidDataError:
            pass  # the fragment cut by the kill: players stop there too
    assert 128 - 2 * 25 <= decoded <= 128  # what was cut is at most the last fragment or two (a second each)


def test_an_event_picture_puts_each_score_at_its_stream_time_with_gaps_where_unscored():
    from vadpipe.live.outputs import event_curve

    fps = 25.0
    t = lambda i: i * 16 / fps  # noqa: E731
    scores = [(i, t(i), s) for i, s in ((4, 0.1), (5, 0.2), (8, 0.9), (9, 0.8), (10, 0.3))]  # 6, 7 dropped
    event = {"start_s": t(8), "end_s": t(10), "peak_score": 0.9, "mean_score": 0.85,
             "clip": {"first_snippet": 3, "snippets": 9}, "unscored": [{"start_s": t(6), "end_s": t(8)}]}
    curve = event_curve(event, scores, fps, threshold=0.5)
    values = curve.scores
    assert len(values) == 9  # snippets 3..11 of the clip, in order
    assert np.isnan(values[[0, 3, 4, 8]]).all() and values[5] == pytest.approx(0.9)  # 3, 6, 7, 11 have no score
    (span,) = curve.intervals
    assert (span.start_s, span.end_s) == pytest.approx((t(8) - t(3), t(10) - t(3)))  # time 0: the clip's start
