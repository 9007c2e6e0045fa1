"""Fault injection (issue 20): hostile and unlucky inputs to `report`, `weights download`, decoding and `watch`.

Each test is one case of the round: a hostile scores folder, a drip or endless server, a file with odd
timestamps or a broken display matrix, a second run into the same folder, a full disk, two Ctrl-C, a
hanging webhook. Every case failed before its fix. Servers listen on 127.0.0.1 only and every test
stops by itself in a few seconds (the `watch` ones take 5-20 s: a tiny run is trained once per module).

This round: 27 cases tried, 27 handled, 0 left.
  security 5: a text file named by <stem>.json (outside, named, inside the folder), a video outside the
    folder, another folder's run, a curve CSV linked out of the folder, a planted .play link;
  endless runs 4: a drip server (deadline, low speed), an endless body, a Content-Length past the bound,
    a 2-hour gap before the last frame;
  watch 14: '...mp4' and '/dev/video/..' as stream names, a second run into the same --out (and a killed
    run's .part), two Ctrl-C, a full disk under a clip and under a CSV, a clip without a length cap, a
    hanging webhook at exit, an alert that cannot be serialised, 5 webhook URLs that are not http(s);
  decoding 4: a concatenated MPEG-TS, a degenerate display matrix, 0.0002 fps in the report and the overlay.
Not tried: a server that drips its response *headers* (urllib reads them before the deadline applies).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.scores import tiny_config, write_scored
from tests.helpers.videos import index_frames, write_video
from vadpipe.cli.app import main
from vadpipe.report.build import build_report

SCORES = [0.1, 0.9, 0.2]  # T = 3; 40 frames


# --- Security: a scores folder from a stranger publishes nothing outside it -------------------------------------------

@pytest.fixture
def stranger(tmp_path) -> tuple[Path, Path]:
    """(a scores folder someone sent, the reader's home with a private key and a holiday video)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "key.asc").write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\nSECRET\n")
    write_video(home / "holiday.mp4", index_frames(40), options={"preset": "ultrafast"})
    return tmp_path / "received", home


def _published(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if ".play." in p.name)


def test_report_never_renders_a_text_file_a_scores_json_names(stranger):
    out, home = stranger
    write_scored(out, "key", SCORES, frames=40, video=home / "key.asc")
    report = build_report(out)
    assert _published(out) == [] and "outside the scores folder" in report.media["key"]
    # Even named by the user (or inside the folder), a text file is not a video: no tty demuxer, no page copy.
    warnings = []
    build_report(out, videos=[home], warn=warnings.append)
    (out / "key.asc").write_bytes((home / "key.asc").read_bytes())
    write_scored(out, "inside", SCORES, frames=40, video=out / "key.asc")
    build_report(out, warn=warnings.append)
    assert _published(out) == [] and sum("not a video file name" in w for w in warnings) == 2
    assert "SECRET" not in "".join(p.read_text() for p in out.glob("*.html"))


def test_report_does_not_link_a_video_outside_the_folder_unless_the_user_names_its_folder(stranger):
    out, home = stranger
    write_scored(out, "holiday", SCORES, frames=40, video=home / "holiday.mp4")
    warnings = []
    report = build_report(out, warn=warnings.append)
    assert _published(out) == [] and report.media["holiday"].endswith("outside the scores folder and every "
                                                                      "--videos folder")
    assert len(warnings) == 1 and "give --videos DIR" in warnings[0]
    assert build_report(out, videos=[home]).media["holiday"] == "original (hard link)"
    # Later rebuilds without --videos keep playing the copy that is now inside the folder.
    assert build_report(out).media["holiday"].startswith("the copy an earlier report placed")


def test_report_finds_received_videos_by_name_under_the_videos_folder(stranger, tmp_path):
    out, home = stranger
    write_scored(out / "cam", "holiday", SCORES, frames=40, video=Path("/elsewhere/cam/holiday.mp4"))
    (home / "cam").mkdir()
    os.replace(home / "holiday.mp4", home / "cam" / "holiday.mp4")
    assert main(["report", str(out), "--videos", str(home), "--json", "--quiet"]) == 0
    assert (out / "cam" / "holiday.play.mp4").is_file()


def test_report_shows_only_runs_inside_the_folder_or_named_by_the_user(stranger, tmp_path):
    from vadpipe.model.checkpoint import CONFIG_NAME

    out, _ = stranger
    other = tmp_path / "other-run"
    other.mkdir()
    (other / CONFIG_NAME).write_text(json.dumps(tiny_config().to_dict()))
    write_scored(out, "v", SCORES, frames=40)
    record = json.loads((out / "v.json").read_text())
    record["model"]["run"] = str(other)
    (out / "v.json").write_text(json.dumps(record))
    build_report(out, video="none")
    assert "scorer hidden dim" not in (out / "v.report.html").read_text()
    assert main(["report", str(out), "--video", "none", "--model", str(other), "--quiet"]) == 0
    assert "scorer hidden dim" in (out / "v.report.html").read_text()


def test_report_follows_no_link_out_of_the_folder(stranger, tmp_path):
    out, home = stranger
    write_scored(out, "v", SCORES, frames=40, video=home / "holiday.mp4")
    secret = tmp_path / "secret.csv"
    secret.write_text("frame,time_s,score\nmy-password,0,0\n")
    os.replace(out / "v.scores.csv", tmp_path / "moved.csv")
    (out / "v.scores.csv").symlink_to(secret)
    (out / "v.play.webm").symlink_to(home / "holiday.mp4")  # a planted "earlier transcode"
    report = build_report(out, videos=[tmp_path / "nowhere"])
    assert report.pages == [] and "a link to a file outside" in report.failed[0]
    assert "my-password" not in (out / "report.html").read_text()
    os.replace(tmp_path / "moved.csv", out / "v.scores.csv")
    report = build_report(out)
    assert report.media["v"].endswith("--videos folder") and 'id="player"' not in (out / "v.report.html").read_text()


# --- Endless runs: downloads end, and a gap is counted once ----------------------------------------------------------

class _Hostile:
    """An HTTP server on 127.0.0.1 that answers every GET with ``body(handler)``; stops with the test."""

    def __init__(self, body):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                try:
                    body(self)
                except OSError:
                    pass  # the client gave up: what the test wants

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/w.pt"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    servers = []
    yield lambda body: servers.append(_Hostile(body)) or servers[-1]
    for server in servers:
        server.close()


def _drip(handler, until: float = 10.0):
    """Promise 1 MiB, then send one byte every 50 ms (each read is well inside the read timeout)."""
    import time

    handler.send_response(200)
    handler.send_header("Content-Length", str(1 << 20))
    handler.end_headers()
    end = time.monotonic() + until
    while time.monotonic() < end:
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.05)


def _endless(handler, cap: int = 64 << 20):
    """A body with no length that never ends (bounded here at 64 MiB so that a failing test still stops)."""
    handler.send_response(200)
    handler.end_headers()
    block = b"\0" * (1 << 16)
    for _ in range(cap // len(block)):
        handler.wfile.write(block)


def test_weights_download_from_a_drip_server_ends_by_its_deadline(hostile, tmp_path):
    import time

    from vadpipe.weights.fetch import TransferError, fetch

    server = hostile(_drip)
    began = time.monotonic()
    with pytest.raises(TransferError, match=r"did not finish within 1\.5 s .* run again to resume"):
        fetch(server.url, tmp_path / "w.pt", timeout=1.0, deadline_s=1.5)
    assert time.monotonic() - began < 4 and (tmp_path / "w.pt.part").stat().st_size > 0  # kept to resume
    # Slower than the low-speed floor: each attempt is cut, and the download gives up.
    with pytest.raises(TransferError, match="slower than 1,000 bytes in 0.5 s"):
        fetch(server.url, tmp_path / "w.pt", timeout=1.0, attempts=2, low_speed=(1000, 0.5))
    assert time.monotonic() - began < 8


def test_weights_download_refuses_a_body_larger_than_the_registry_allows(hostile, tmp_path, monkeypatch):
    import dataclasses

    import vadpipe.weights.registry as weights_registry
    from vadpipe.backbones.install import download
    from vadpipe.errors import VadpipeError
    from vadpipe.weights.registry import entries, get_entry

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    assert all(entry.max_bytes > 0 for entry in entries().values())  # every entry has a bound
    name = "inception_i3d_rgb_imagenet"
    patched = {**entries(), name: dataclasses.replace(get_entry(name), max_bytes=1 << 20)}
    monkeypatch.setattr(weights_registry, "entries", lambda: patched)
    for body in (_endless, lambda h: (h.send_response(200), h.send_header("Content-Length", str(1 << 30)),
                                      h.end_headers())):
        server = hostile(body)
        with pytest.raises(VadpipeError, match=r"sends more than the 1,048,576 bytes this file can have"):
            download(name, url=server.url)
        assert list((tmp_path / "home" / "weights" / "downloads").iterdir()) == []


def test_a_two_hour_gap_before_the_last_frame_is_counted_once(tmp_path):
    from vadpipe.video.decode import VideoReader

    path = write_video(tmp_path / "gap.mp4", index_frames(3), pts_ms=[0, 40, 7_200_040])
    with VideoReader(path, fps=25) as reader:
        frames = sum(1 for _ in reader)
    assert reader.info.source_fps == pytest.approx(3 / 7200.08)
    assert frames == 180_002  # ticks 0 .. 7200.04 s at 25 fps: the last frame shows its own 40 ms, not 2 hours


# --- Loss of data in `watch`: never replace a result, finish every output, one stream's disk is its own ---------------

SNIPPETS, EVENT = 16, (6, 9)
WATCH = ["--device", "cpu", "--json", "--hold", "0.5", "--pre", "1", "--post", "1", "--batch-size", "4",
         "--behind", "queue"]


@pytest.fixture(scope="module")
def watch_setup(tmp_path_factory):
    """(run folder, a 16-snippet video with one event) for `watch`; one torch thread, as tests/test_watch.py."""
    import torch

    from tests.helpers.live import event_frames, make_run, write_mp4

    root = tmp_path_factory.mktemp("faults-watch")
    video = write_mp4(root / "cam.mp4", event_frames(SNIPPETS, EVENT))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        make_run(root / "run", video)
    finally:
        torch.set_num_threads(threads)
    return root / "run", video


@pytest.fixture
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _watch(capsys, *args) -> tuple[int, list[dict], str]:
    code = main(["watch", *map(str, args), *WATCH])
    captured = capsys.readouterr()
    return code, [json.loads(x) for x in captured.out.splitlines() if x.startswith("{")], captured.err


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def test_a_source_named_dots_never_writes_outside_out(tmp_path):
    from vadpipe.live.sources import parse_sources

    (tmp_path / "...mp4").write_bytes(b"")
    specs = parse_sources([str(tmp_path / "...mp4"), "/dev/video/..", "tcp://127.0.0.1:1/..", str(tmp_path / "...mp4")])
    for spec in specs:
        assert spec.name not in ("", ".", "..") and "/" not in spec.name
        assert (tmp_path / "out" / spec.name).resolve().parent == (tmp_path / "out").resolve()
    assert len({s.name for s in specs}) == len(specs)


def test_a_second_watch_into_the_same_out_replaces_nothing(watch_setup, tmp_path, capsys, _one_thread):
    run, video = watch_setup
    out = tmp_path / "live"
    assert _watch(capsys, video, "--model", run, "--out", out)[0] == 0
    events = out / "cam" / "events"
    first = {p.name: p.read_bytes() for p in [out / "cam" / "scores-0001.csv", *events.iterdir()]}
    (out / "cam" / ".scores-0002.csv.part").write_text("rows of a killed run\n")
    code, lines, _ = _watch(capsys, video, "--model", run, "--out", out)
    assert code == 0
    assert {p.name: p.read_bytes() for p in [out / "cam" / "scores-0001.csv", *events.glob("cam-0001.*")]} == first
    assert (out / "cam" / ".scores-0002.csv.part").read_text() == "rows of a killed run\n"
    assert lines[-1]["streams"][0]["csv"] == [str(out / "cam" / "scores-0003.csv")]
    (end,) = [x for x in lines if x["type"] == "event_end"]
    assert end["event"]["id"] == "cam-0002"
    assert sorted(p.name for p in events.glob("cam-0002.*")) == ["cam-0002.json", "cam-0002.mp4", "cam-0002.png"]


def test_two_ctrl_c_in_a_row_still_finish_the_scores_and_the_event_files(watch_setup, tmp_path, capsys, monkeypatch,
                                                                           _one_thread):
    import signal
    import sys

    if "openvino" in sys.modules or "nncf" in sys.modules:
        # Signalling a process that has loaded OpenVINO/NNCF (tests/test_engines.py did, earlier in this
        # session) crashed it here (SIGSEGV, not in vadpipe's code); .ci/run runs this module alone first.
        pytest.skip("OpenVINO is loaded in this process; run tests/test_faults.py alone")
    from vadpipe.live import watch as live_watch

    run, video = watch_setup
    on_event, finish = live_watch.Watcher._on_event, live_watch.Watcher._finish_stream

    def ctrl_c_at_the_event(self, s, kind, event, snip):
        on_event(self, s, kind, event, snip)
        if kind == "start":
            os.kill(os.getpid(), signal.SIGINT)

    def ctrl_c_again_while_finishing(self, s, reason):
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the outputs are being finished
        finish(self, s, reason)

    monkeypatch.setattr(live_watch.Watcher, "_on_event", ctrl_c_at_the_event)
    monkeypatch.setattr(live_watch.Watcher, "_finish_stream", ctrl_c_again_while_finishing)
    out = tmp_path / "live"
    code, lines, _ = _watch(capsys, video, "--model", run, "--realtime", "--out", out)
    assert code == 0 and lines[-1]["stopped"] == "SIGINT"
    assert _hidden(out) == [] and (out / "cam" / "scores-0001.csv").is_file()
    assert sorted(p.name for p in (out / "cam" / "events").iterdir()) == ["cam-0001.json", "cam-0001.mp4",
                                                                          "cam-0001.png"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after the outputs


@pytest.mark.parametrize("failing", ["clip", "csv"])
def test_a_full_disk_under_one_stream_stops_only_that_streams_files(watch_setup, tmp_path, capsys, monkeypatch,
                                                                    failing, _one_thread):
    import errno

    from vadpipe.live.clips import ClipWriter
    from vadpipe.live.outputs import RollingCsv

    run, video = watch_setup

    def full(real):
        def write(self, *args):
            if (self.path if failing == "clip" else self.folder).parts[-3 if failing == "clip" else -1] == "cam":
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, *args)
        return write

    if failing == "clip":
        monkeypatch.setattr(ClipWriter, "finish", full(ClipWriter.finish))
    else:
        monkeypatch.setattr(RollingCsv, "write", full(RollingCsv.write))
    out = tmp_path / "live"
    code, lines, _ = _watch(capsys, video, video, "--model", run, "--out", out)
    summary = lines[-1]
    assert code == 1 and summary["type"] == "summary"
    assert len(summary["failed"]) == 1 and "No space left on device" in summary["failed"][0]
    assert [s["snippets_scored"] for s in summary["streams"]] == [SNIPPETS, SNIPPETS]  # both scored to the end
    assert len([x for x in lines if x["type"] == "event_end"]) == 2  # both events told
    other = out / "cam-2"
    assert (other / "scores-0001.csv").is_file() and _hidden(other) == []
    assert sorted(p.name for p in (other / "events").iterdir()) == ["cam-2-0001.json", "cam-2-0001.mp4",
                                                                    "cam-2-0001.png"]


def test_a_long_event_clip_goes_on_in_files_of_bounded_length(tmp_path, monkeypatch):
    import av

    from vadpipe.live import clips
    from vadpipe.live.recording import EventRecorder, Received

    monkeypatch.setattr(clips, "CLIP_PART_S", 1.0)  # 25 frames: a new file every 2 snippets
    written = []
    recorder = EventRecorder(tmp_path / "events", pre_s=0, post_s=0, spare=8,
                             write_files=lambda event, scores, fps: written.append(event))
    frames = np.zeros((16, 24, 32, 3), np.uint8)
    recorder.receive([Received(0, frames, 16, 0.0, 25.0)])
    recorder.scored(0, 0.0, 0.9)
    recorder.start({"id": "cam-0001", "outputs": {}}, 0)
    recorder.receive([Received(i, frames, 16, i * 0.64, 25.0) for i in range(1, 7)])
    for i in range(1, 7):
        recorder.scored(i, i * 0.64, 0.9)
    recorder.end({"id": "cam-0001", "end_snippet": 7, "outputs": {}}, 6)
    (event,) = written
    parts = [Path(p) for p in event["clip"]["parts"]]
    assert [p.name for p in parts] == ["cam-0001.mp4", "cam-0001-part002.mp4", "cam-0001-part003.mp4",
                                       "cam-0001-part004.mp4"]
    decoded = []
    for part in parts:
        with av.open(str(part)) as container:
            decoded.append(sum(1 for _ in container.decode(video=0)))
    assert decoded == [32, 32, 32, 16] and event["clip"]["frames"] == 112


def _hanging_hook():
    """A listener on 127.0.0.1 that accepts connections and never answers; (url, close)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()

    return f"http://127.0.0.1:{listener.getsockname()[1]}/hook", close


def test_every_alert_of_a_hanging_webhook_is_counted_at_exit():
    import time

    from vadpipe.live.webhook import Webhook

    url, close = _hanging_hook()
    try:
        hook = Webhook(url, retries=1, backoff=0.05, timeout=0.5)
        hook.start()
        for i in range(8):
            hook.send({"type": "event_start", "event": {"id": f"cam-{i:04d}"}})
        began = time.monotonic()
        hook.close(wait_s=1.0)
        assert time.monotonic() - began < 2
        assert hook.alerts == 8 and hook.sent == 0 and hook.failed + hook.dropped == 8 and hook.dropped >= 6
        counted = (hook.sent, hook.failed, hook.dropped)
        time.sleep(1.2)  # the delivery on its way when it closed ends now: it was already counted as dropped
        assert (hook.sent, hook.failed, hook.dropped) == counted
    finally:
        close()


def test_a_webhook_alert_that_cannot_be_sent_is_counted_and_the_thread_goes_on():
    from vadpipe.live.webhook import Webhook

    errors = []
    hook = Webhook("http://127.0.0.1:9/hook", retries=0, timeout=0.5, on_error=errors.append)
    hook.start()
    hook.send({"event": {"id": "a"}, "bad": {1, 2}})  # not JSON: the thread must not die with it
    hook.send({"event": {"id": "b"}})
    hook.close(wait_s=3.0)
    assert (hook.alerts, hook.sent, hook.failed, hook.dropped) == (2, 0, 2, 0) and len(errors) == 2


@pytest.mark.parametrize("url", ["not-a-url", "file:///etc/passwd", "http://[::1", "ftp://host/x", "http://:80/x"])
def test_a_webhook_that_is_not_an_http_url_is_a_usage_error(watch_setup, capsys, url):
    run, video = watch_setup
    assert main(["watch", str(video), "--model", str(run), "--webhook", url]) == 2
    err = capsys.readouterr().err
    assert "--webhook" in err and "http" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- Decoding: discontinuities, a degenerate display matrix, a frame every hour ------------------------------------

def test_concatenated_mpegts_whose_timestamps_restart_keeps_its_frame_rate(tmp_path):
    from vadpipe.video.decode import read_video

    part = write_video(tmp_path / "part.ts", index_frames(50), fps=25)
    (tmp_path / "cat.ts").write_bytes(part.read_bytes() * 2)  # `cat a.ts b.ts`: the second part starts at 0 again
    frames, info = read_video(tmp_path / "cat.ts")
    assert (info.frames, info.fps, info.variable_frame_rate) == (100, 25.0, False)
    assert info.duration_s == pytest.approx(4.0)
    assert np.all(np.diff(info.timestamps) == pytest.approx(0.04))


def test_a_degenerate_display_matrix_is_not_a_rotation(tmp_path):
    from vadpipe.video.decode import read_video

    path = write_video(tmp_path / "v.mp4", index_frames(4, height=24, width=32))
    data = bytearray(path.read_bytes())
    matrix = data.find(b"tkhd") - 4 + 48  # version-0 track header: the 3x3 display matrix, 36 bytes
    data[matrix : matrix + 36] = bytes(36)
    (tmp_path / "degenerate.mp4").write_bytes(bytes(data))
    frames, info = read_video(tmp_path / "degenerate.mp4")
    assert info.rotation == 0 and frames.shape == (4, 24, 32, 3)  # FFmpeg shows it as stored


def test_a_video_averaging_a_frame_an_hour_gets_its_report_and_overlay(tmp_path):
    from vadpipe.infer.overlay import write_overlay
    from vadpipe.video.decode import read_video

    video = write_video(tmp_path / "videos" / "sparse.mp4", index_frames(3), pts_ms=[0, 40, 7_200_040])
    fps = 3 / 15_000  # about 0.0002 fps
    out = tmp_path / "scores"
    write_scored(out, "sparse", [0.9], frames=3, fps=fps, video=video, metadata={"variable_frame_rate": True})
    report = build_report(out, videos=[video.parent])
    assert report.media["sparse"] == "VP9 transcode (variable frame rate)" and report.failed == []
    assert read_video(out / "sparse.play.webm")[1].frames == 3
    write_overlay(video, out / "sparse.overlay.mp4", np.array([0.1, 0.9, 0.2]), np.array([False, True, False]),
                  0.5, fps)
    assert read_video(out / "sparse.overlay.mp4")[1].frames == 3
