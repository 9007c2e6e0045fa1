"""`vadpipe watch` end to end on streams served on 127.0.0.1 by the test itself (tiny frames, random-init backbone)."""

import csv
import functools
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
import torch

from tests.helpers.live import (
    QuietFiles,
    TcpTsServer,
    WebhookSink,
    encode,
    event_frames,
    free_port,
    make_run,
    write_mp4,
)
from vadpipe.cli.app import main

SNIPPETS, EVENT = 16, (6, 9)  # 16 snippets, bright on snippets 6, 7, 8
# --behind queue: on a loaded test machine scoring may fall behind the served stream; these tests want every snippet.
FAST = ["--device", "cpu", "--json", "--hold", "0.5", "--pre", "1", "--post", "1", "--batch-size", "4",
        "--behind", "queue"]


@pytest.fixture(autouse=True)
def _one_thread():
    # One OpenMP thread for the backbone: on a shared 2-core machine two spinning threads are much slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Not the shared tiny_run: these tests assert where events start and end, so the run is trained by hand
# (tests/helpers/live.py) until it fires on exactly the bright snippets of this video, with a band.
@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("watch")
    frames = event_frames(SNIPPETS, EVENT)
    video = write_mp4(root / "cam.mp4", frames)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    make_run(root / "run", video)
    torch.set_num_threads(threads)
    return root, video, frames


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _of(lines, kind):
    return [x for x in lines if x["type"] == kind]


def _decoded_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_watch_on_a_file_gives_the_scores_of_score_with_the_same_band(setup, tmp_path, capsys):
    root, video, _ = setup
    assert main(["score", str(video), "--model", str(root / "run"), "--out", str(tmp_path / "score"),
                 "--device", "cpu", "--quiet"]) == 0
    with open(tmp_path / "score" / "cam.scores.csv") as f:
        offline = np.array([float(r["score"]) for r in csv.DictReader(f)])[::16]  # one value per snippet
    capsys.readouterr()
    assert main(["watch", str(video), "--model", str(root / "run"), "--out", str(tmp_path / "live"),
                 "--every-snippet", *FAST]) == 0
    lines = _lines(capsys.readouterr().out)
    online = np.array([x["score"] for x in _of(lines, "snippet")])
    assert [x["snippet"] for x in _of(lines, "snippet")] == list(range(SNIPPETS))
    np.testing.assert_allclose(online, offline, atol=1e-5)
    # One event over the bright snippets, its clip = pre-roll 2 + event 3 + post-roll 2 snippets.
    (start,), (end,) = _of(lines, "event_start"), _of(lines, "event_end")
    assert (start["event"]["start_snippet"], end["event"]["end_snippet"]) == EVENT
    assert end["event"]["start_s"] == pytest.approx(EVENT[0] * 16 / 25)
    assert end["event"]["peak_score"] > 0.9 and end["event"]["reason"] == "release"
    folder = tmp_path / "live" / "cam" / "events"
    record = json.loads((folder / "cam-0001.json").read_text())
    assert record["clip"]["first_snippet"] == EVENT[0] - 2 and record["clip"]["snippets"] == 3 + 2 + 2
    assert abs(_decoded_frames(folder / "cam-0001.mp4") - 7 * 16) <= 16
    assert (folder / "cam-0001.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(tmp_path / "live" / "cam" / "scores-0001.csv")))
    assert len(rows) == SNIPPETS and float(rows[EVENT[0]]["score"]) > 0.9
    summary = _of(lines, "summary")[0]
    stream = summary["streams"][0]
    assert stream["snippets_scored"] == SNIPPETS and stream["events"] == 1 and stream["dropped_snippets"] == 0
    assert stream["latency_ms_p50"] > 0 and stream["real_time_factor"] > 0
    assert summary["model"]["window"] == 8 and not list(folder.glob(".*"))  # no temp files left


def test_watch_tcp_stream_emits_one_event_writes_its_clip_and_posts_it(setup, tmp_path, capsys):
    root, _, frames = setup
    server = TcpTsServer(frames, pace=4.0)
    sink = WebhookSink()
    server.start()
    sink.start()
    try:
        code = main(["watch", server.url, "--model", str(root / "run"), "--out", str(tmp_path / "live"),
                     "--webhook", sink.url, "--retries", "1", "--backoff", "0.2", "--timeout", "5", *FAST])
    finally:
        server.stop.set()
        server.join(10)
    lines = _lines(capsys.readouterr().out)
    sink.close()
    # The stream ends and cannot be reopened: that is reported (exit 1), after scoring it all.
    assert code == 1
    (end,) = _of(lines, "event_end")
    assert (end["event"]["start_snippet"], end["event"]["end_snippet"]) == EVENT
    kinds = [(p["type"], p["event"]["id"]) for p in sink.received]
    assert ("event_start", end["event"]["id"]) in kinds and ("event_end", end["event"]["id"]) in kinds
    stream = _of(lines, "summary")[0]["streams"][0]
    assert stream["snippets_scored"] == SNIPPETS
    name = stream["stream"]
    clip = tmp_path / "live" / name / "events" / f"{end['event']['id']}.mp4"
    assert abs(_decoded_frames(clip) - 7 * 16) <= 16


def test_watch_hls_from_a_local_http_server_ends_with_its_playlist(setup, tmp_path, capsys):
    root, _, frames = setup
    folder = tmp_path / "hls"
    folder.mkdir()
    with av.open(str(folder / "index.m3u8"), "w", format="hls",
                 options={"hls_time": "2", "hls_playlist_type": "vod"}) as container:
        encode(container, frames)
    handler = functools.partial(QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        code = main(["watch", f"http://127.0.0.1:{server.server_address[1]}/index.m3u8", "--model",
                     str(root / "run"), "--retries", "1", "--backoff", "0.2", "--timeout", "5", *FAST])
    finally:
        server.shutdown()
        server.server_close()
    lines = _lines(capsys.readouterr().out)
    assert code == 0  # a VOD playlist that ends is an end, not a drop
    (end,) = _of(lines, "event_end")
    assert (end["event"]["start_snippet"], end["event"]["end_snippet"]) == EVENT
    stream = _of(lines, "summary")[0]["streams"][0]
    assert stream["snippets_scored"] == SNIPPETS and stream["status"] == "ended"


def test_watch_reads_mpegts_from_stdin(setup, tmp_path, capsys, monkeypatch):
    root, _, frames = setup
    ts = write_mp4(tmp_path / "cam.ts", frames, fmt="mpegts")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(open(ts, "rb")))  # noqa: SIM115 - closed with stdin
    code = main(["watch", "-", "--model", str(root / "run"), *FAST])
    sys.stdin.close()
    lines = _lines(capsys.readouterr().out)
    assert code == 0
    (end,) = _of(lines, "event_end")
    assert (end["event"]["start_snippet"], end["event"]["end_snippet"]) == EVENT
    assert _of(lines, "summary")[0]["streams"][0]["stream"] == "stdin"


def test_watch_reconnects_when_the_stream_is_killed_and_restarted(setup, tmp_path, capsys):
    root, _, frames = setup
    first = TcpTsServer(frames, pace=4.0, stop_after=5 * 16 + 7)  # killed mid-snippet 5
    port = first.port

    def restart():
        first.join(30)
        second = TcpTsServer(frames, port, pace=4.0)
        second.start()
        second.join(30)

    first.start()
    chain = threading.Thread(target=restart, daemon=True)
    chain.start()
    code = main(["watch", first.url, "--model", str(root / "run"), "--retries", "3", "--backoff", "0.3",
                 "--timeout", "5", *FAST])
    chain.join(30)
    lines = _lines(capsys.readouterr().out)
    assert code == 1  # after the second serving nothing listens any more: given up in the end
    statuses = [x["status"] for x in _of(lines, "status")]
    assert statuses[:3] == ["opened", "lost", "opened"]
    stream = _of(lines, "summary")[0]["streams"][0]
    assert stream["reconnects"] == 1
    assert stream["snippets_scored"] == 5 + SNIPPETS  # the partial snippet at the cut is lost
    assert len(_of(lines, "event_end")) == 1  # the event is in the second serving only


def test_two_streams_one_never_opens_the_other_is_unaffected(setup, tmp_path, capsys):
    root, video, _ = setup
    dead = f"tcp://127.0.0.1:{free_port()}"
    code = main(["watch", dead, str(video), "--model", str(root / "run"), "--retries", "1", "--backoff", "0.1",
                 "--timeout", "2", *FAST])
    captured = capsys.readouterr()
    lines = _lines(captured.out)
    assert code == 1
    summary = _of(lines, "summary")[0]
    assert len(summary["failed"]) == 1 and dead in summary["failed"][0] and "cannot open" in summary["failed"][0]
    good = [s for s in summary["streams"] if s["source"] == str(video)][0]
    assert good["snippets_scored"] == SNIPPETS and good["events"] == 1 and good["status"] == "ended"


@pytest.mark.slow
def test_sigterm_finishes_the_open_event_and_its_clip_then_exits_0(setup, tmp_path):
    root, _, _ = setup
    long_event = event_frames(20, (4, 20))
    video = write_mp4(tmp_path / "long.mp4", long_event)
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vadpipe", "watch", str(video), "--model", str(root / "run"),
                             "--realtime", "--out", str(tmp_path / "live"), *FAST], stdout=subprocess.PIPE,
                            text=True, env=env)
    lines = []
    deadline = time.time() + 120
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1]["type"] == "event_start" or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    lines += _lines(out)
    assert proc.returncode == 0
    (end,) = _of(lines, "event_end")
    assert end["event"]["reason"] == "SIGTERM"
    assert _of(lines, "summary")[0]["stopped"] == "SIGTERM"
    clip = tmp_path / "live" / "long" / "events" / f"{end['event']['id']}.mp4"
    assert _decoded_frames(clip) >= 16 and (clip.with_suffix(".json")).is_file()


def test_usage_errors_are_one_line_with_exit_2(setup, capsys):
    root, video, _ = setup
    for args, needle in ((["nope.mp4"], "no such file"), ([str(video), "--behind", "wait"], "--behind"),
                         (["ftp://x/y"], "unknown scheme"), ([str(video), "--every-snippet"], "--json"),
                         ([str(video), "--threshold", "2"], "--threshold")):
        assert main(["watch", *args, "--model", str(root / "run")]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err


@pytest.mark.extras
@pytest.mark.skipif(not __import__("vadpipe.engines", fromlist=["runtimes"]).runtimes.is_installed("onnxruntime"),
                    reason="onnxruntime extra not installed (pip install '.[onnx]')")
def test_watch_with_a_cpu_engine_scores_as_torch_and_says_which(setup, tmp_path, capsys, engine_home, monkeypatch):
    root, video, _ = setup
    monkeypatch.setenv("VADPIPE_HOME", str(engine_home))
    runs = {}
    for engine in ("torch", "onnxruntime"):
        capsys.readouterr()
        assert main(["watch", str(video), "--model", str(root / "run"), "--every-snippet", "--engine", engine,
                     *FAST]) == 0
        lines = _lines(capsys.readouterr().out)
        runs[engine] = np.array([x["score"] for x in _of(lines, "snippet")])
        assert _of(lines, "summary")[0]["model"]["engine"] == engine
    assert len(runs["torch"]) == SNIPPETS
    np.testing.assert_allclose(runs["onnxruntime"], runs["torch"], atol=1e-5)


def test_a_file_that_fails_while_decoding_fails_once_and_is_never_reopened(setup, tmp_path, capsys):
    """Only live sources reconnect: a truncated file ends the stream as failed (exit 1), it does not loop."""
    from tests.helpers.videos import bad_audio_only, bad_truncated

    root, video, _ = setup
    cut, audio = bad_truncated(tmp_path / "cut.mkv", n=200), bad_audio_only(tmp_path / "sound.m4a")
    started = time.perf_counter()
    code = main(["watch", str(cut), str(audio), str(video), "--model", str(root / "run"), *FAST])
    lines = _lines(capsys.readouterr().out)
    assert code == 1 and time.perf_counter() - started < 120
    summary = _of(lines, "summary")[0]
    by_source = {s["source"]: s for s in summary["streams"]}
    assert by_source[str(cut)]["status"] == by_source[str(audio)]["status"] == "failed"
    assert by_source[str(cut)]["reconnects"] == by_source[str(audio)]["reconnects"] == 0
    assert any("truncated" in line for line in summary["failed"]) and len(summary["failed"]) == 2
    assert by_source[str(video)]["status"] == "ended" and by_source[str(video)]["snippets_scored"] == SNIPPETS
    assert not [x for x in _of(lines, "status") if x["status"] == "lost"]


def _numbered_frames(n: int) -> np.ndarray:
    """(n, 40, 48, 3) dark noise; frame i carries i in two flat 8x8 blocks (low and high nibble), readable after
    lossy encoding."""
    frames = np.random.default_rng(3).integers(0, 40, size=(n, 40, 48, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, :8, :8] = (i % 16) * 16 + 8
        frames[i, :8, 8:16] = (i // 16) * 16 + 8
    return frames


def _frame_numbers(path) -> list[int]:
    numbers = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24").astype(float)
            low, high = image[2:6, 2:6].mean(), image[2:6, 10:14].mean()
            numbers.append(round((high - 8) / 16) * 16 + round((low - 8) / 16))
    return numbers


def test_clips_hold_every_frame_received_even_when_scoring_drops_snippets(setup, tmp_path, capsys, monkeypatch):
    """Dropping is a scoring decision, never a recording one: the clip of an event open over the whole file holds
    all its frames, the JSON lists the unscored spans, and the event ends with the last real frame (10.0 s)."""
    from vadpipe.session.backbone import BackboneSession

    root, _, _ = setup
    video = write_mp4(tmp_path / "numbered.mp4", _numbered_frames(250))  # 10.0 s at 25 fps: 15 snippets + 10 frames
    slow = BackboneSession.__call__

    def slow_pass(self, clips):
        time.sleep(1.2)  # scoring far slower than the 0.64 s a snippet takes to play: snippets are dropped
        return slow(self, clips)

    monkeypatch.setattr(BackboneSession, "__call__", slow_pass)
    assert main(["watch", str(video), "--model", str(root / "run"), "--realtime", "--behind", "drop", "--queue", "1",
                 "--batch-size", "1", "--threshold", "0", "--release", "0", "--out", str(tmp_path / "live"),
                 "--json", "--device", "cpu"]) == 0
    lines = _lines(capsys.readouterr().out)
    stream = _of(lines, "summary")[0]["streams"][0]
    assert stream["dropped_snippets"] > 0 and stream["status"] == "ended"
    (end,) = _of(lines, "event_end")
    assert end["event"]["end_s"] == pytest.approx(10.0)  # not 10.24: the padded snippet ends at its last real frame
    folder = tmp_path / "live" / "numbered" / "events"
    record = json.loads((folder / f"{end['event']['id']}.json").read_text())
    assert _frame_numbers(folder / f"{end['event']['id']}.mp4") == list(range(250))
    assert record["clip"]["frames"] == 250 and record["unscored"]
    scored = {x["snippet"] for x in record["scores"]}
    for span in record["unscored"]:
        assert not scored & set(range(span["first_snippet"], span["last_snippet"] + 1))
        assert span["start_s"] == pytest.approx(span["first_snippet"] * 16 / 25)


def test_a_stream_stopped_while_live_says_stopped(setup, tmp_path, capsys):
    root, video, _ = setup
    assert main(["watch", str(video), "--model", str(root / "run"), "--realtime", "--duration", "1.5", *FAST]) == 0
    stream = _of(_lines(capsys.readouterr().out), "summary")[0]["streams"][0]
    assert stream["status"] == "stopped"
