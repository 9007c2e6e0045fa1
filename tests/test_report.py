"""The HTML report without a browser: files, relative links, escaping, media choice, rebuilds, CLI errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.scores import write_scored
from tests.helpers.videos import index_frames, write_video
from vadpipe.cli.app import main
from vadpipe.report.build import FAILED_NAME, build_report
from vadpipe.report.svg import MAX_STEPS, curve_svg, runs, sparkline_svg
from vadpipe.video.decode import read_video

HOSTILE = '<img src=x onerror=alert("x")> & co'  # no "/": file names cannot hold one
SCORES = [0.1, 0.9, 0.2]  # T = 3; 40 frames; one interval: frames [16, 32)


@pytest.fixture
def mp4(tmp_path) -> Path:
    return write_video(tmp_path / "videos" / "cam one.mp4", index_frames(40), options={"preset": "ultrafast"})


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src|data-src)="([^"]*)"', html)


def test_pages_use_relative_encoded_links_and_escape_every_name(tmp_path, mp4):
    out = tmp_path / "scores"
    video = mp4.rename(mp4.with_name(f"{HOSTILE}.mp4"))
    write_scored(out / "sub", HOSTILE, SCORES, frames=40, video=video)
    report = build_report(out, videos=[video.parent])
    index = (out / "report.html").read_text()
    page = (out / "sub" / f"{HOSTILE}.report.html").read_text()
    for html in (index, page):
        assert "<img" not in html and "&lt;img src=x onerror=alert(&quot;x&quot;)&gt; &amp; co" in html
        for link in _links(html):
            assert not link.startswith("/") and ":" not in link and " " not in link and "<" not in link
    assert "sub/%3Cimg%20src%3Dx%20onerror%3Dalert%28%22x%22%29%3E%20%26%20co.report.html" in _links(index)
    assert "../report.html" in _links(page)
    assert report.media[f"sub/{HOSTILE}"] == "original (hard link)"
    # The page's data block cannot end its <script> early.
    data = re.search(r'<script type="application/json" id="vp-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and json.loads(data)["intervals"] == [[16 / 25, 32 / 25]]


def test_browser_playable_original_is_hard_linked_and_the_rest_transcoded_to_vp9(tmp_path, mp4):
    avi = write_video(tmp_path / "videos" / "old.avi", index_frames(40), codec="mpeg4")
    out = tmp_path / "scores"
    write_scored(out, "cam one", SCORES, frames=40, video=mp4)
    write_scored(out, "old", SCORES, frames=40, video=avi)
    report = build_report(out, videos=[tmp_path / "videos"])
    assert os.path.samefile(out / "cam one.play.mp4", mp4)
    assert report.media["old"] == "VP9 transcode (container avi)"
    frames, info = read_video(out / "old.play.webm")
    assert (info.codec, info.frames, info.fps, info.variable_frame_rate) == ("vp9", 40, pytest.approx(25.0), False)
    # The transcode shows the same frames: the index pattern reads back within lossy-coding error.
    from tests.helpers.videos import frame_indices

    assert np.abs(frame_indices(frames) - np.arange(40)).max() <= 1
    assert report.bytes > (out / "old.play.webm").stat().st_size
    # --video webm transcodes the playable one too, and replaces its link; --video none plays nothing.
    report = build_report(out, video="webm", videos=[tmp_path / "videos"])
    assert report.media["cam one"].startswith("VP9 transcode") and not (out / "cam one.play.mp4").exists()
    build_report(out, video="none")
    assert 'id="player"' not in (out / "cam one.report.html").read_text()


def test_variable_frame_rate_original_is_transcoded_so_frames_meet_the_curve(tmp_path, mp4):
    out = tmp_path / "scores"
    write_scored(out, "vfr", SCORES, frames=40, video=mp4, metadata={"variable_frame_rate": True})
    assert build_report(out, videos=[mp4]).media["vfr"] == "VP9 transcode (variable frame rate)"


def test_rebuild_keeps_the_failed_inputs_and_lists_unreadable_outputs(tmp_path, mp4, capsys):
    out = tmp_path / "scores"
    write_scored(out, "good", SCORES, frames=40, video=mp4)
    build_report(out, failed=["bad.mp4: FFmpeg cannot read this file"])
    assert json.loads((out / FAILED_NAME).read_text()) == ["bad.mp4: FFmpeg cannot read this file"]
    (out / "torn.scores.csv").write_text("frame,time_s,score\n0,0.0,0.5\n")
    (out / "torn.json").write_text("{")
    assert main(["report", str(out), "--video", "none", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["failed"][0] == "bad.mp4: FFmpeg cannot read this file"
    assert "torn.json: not a readable `vadpipe score` output" in doc["failed"][1]
    index = (out / "report.html").read_text()
    assert "bad.mp4: FFmpeg cannot read this file" in index and "torn.json" in index
    assert doc["pages"] == [str(out / "good.report.html")]


def test_missing_video_and_features_only_pages_show_the_curve(tmp_path):
    out = tmp_path / "scores"
    write_scored(out, "gone", SCORES, frames=40, video=tmp_path / "gone.mp4")
    write_scored(out, "feats", SCORES, frames=40)  # scored with --features: the source is a .npy
    report = build_report(out)
    assert report.media == {"feats": "scored from precomputed features",
                            "gone": f"the scored video is not at {tmp_path / 'gone.mp4'} any more"}
    page = (out / "gone.report.html").read_text()
    assert 'id="player"' not in page and 'id="curve"' in page


def test_video_page_shows_the_scorer_of_the_run_read_through_the_run_loader(tmp_path):
    from tests.helpers.scores import tiny_config
    from vadpipe.model.checkpoint import CONFIG_NAME

    out = tmp_path / "scores"
    write_scored(out, "good", SCORES, frames=40)  # scored by the run out/no-run
    config = tiny_config()
    (out / "no-run").mkdir()
    data = config.to_dict()
    (out / "no-run" / CONFIG_NAME).write_text(json.dumps(data))
    build_report(out, video="none")
    page = (out / "good.report.html").read_text()
    assert f"<dt>scorer hidden dim</dt><dd>{config.scorer.hidden_dim}</dd>" in page
    assert f"<dt>scorer mlp dims</dt><dd>{list(config.scorer.mlp_dims)}</dd>" in page
    # A config the run loader refuses (a newer vadpipe's) leaves the page without the scorer's settings.
    (out / "no-run" / CONFIG_NAME).write_text(json.dumps({**data, "format_version": 99}))
    build_report(out, video="none")
    page = (out / "good.report.html").read_text()
    assert "scorer hidden dim" not in page and 'id="curve"' in page


@pytest.mark.parametrize("args, code, words", [
    (["report", "/nonexistent/scores"], 1, "no such folder"),
    (["report", "{empty}"], 1, "holds no `vadpipe score` outputs"),
    (["report", "{empty}", "--video", "mkv"], 2, "--video must be one of auto, webm, none"),
])
def test_report_cli_errors_are_one_line(tmp_path, capsys, args, code, words):
    (tmp_path / "empty").mkdir()
    assert main([a.replace("{empty}", str(tmp_path / "empty")) for a in args]) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_report_modules_do_not_import_torch_or_matplotlib():
    code = ("import sys, vadpipe.report.build, vadpipe.report.evaluation, "
            "vadpipe.train.plot; print(sorted(m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.stdout.strip() == "[]"


def test_curve_runs_are_exact_and_a_one_frame_peak_survives_long_curves():
    curve = np.repeat([0.1, 0.9, 0.2], 16)
    starts, values = runs(curve)
    assert starts.tolist() == [0, 16, 32] and values.tolist() == pytest.approx([0.1, 0.9, 0.2])
    long = np.tile(np.repeat([0.1, 0.2], 16), MAX_STEPS)  # 2 * MAX_STEPS runs: drawn as column maxima
    long[70_001] = 1.0
    svg = curve_svg(long, 25.0, 0.5, [])
    ys = [float(p.split(",")[1]) for p in re.search(r'class="score"[^>]*points="([^"]*)"', svg).group(1).split()]
    assert min(ys) == pytest.approx(10.0)  # y of score 1.0: the plot's top
    spark = sparkline_svg(long, 0.5)
    ys = [float(p.split(",")[1]) for p in re.search(r'<polyline[^>]*points="([^"]*)"', spark).group(1).split()]
    assert min(ys) == pytest.approx(2.0)


def test_overlay_keeps_a_fractional_frame_rate_so_the_report_cursor_stays_on_it(tmp_path):
    from vadpipe.infer.overlay import write_overlay

    video = write_video(tmp_path / "ntsc.mp4", index_frames(40), fps=30000 / 1001)
    write_overlay(video, tmp_path / "o.mp4", np.full(40, 0.7, np.float32), np.ones(40, bool), 0.5, 30000 / 1001)
    _, info = read_video(tmp_path / "o.mp4")
    assert info.frames == 40 and info.fps == pytest.approx(30000 / 1001, rel=1e-6)


def test_a_page_says_the_default_threshold_once_flags_as_yes_or_no_and_counts_one_video(tmp_path):
    write_scored(tmp_path, "clip", SCORES, frames=40, threshold=None, metadata={"variable_frame_rate": False})
    build_report(tmp_path, video="none")
    page = (tmp_path / "clip.report.html").read_text()
    assert "<dt>threshold</dt><dd>0.500, the default (the run stores no threshold)</dd>" in page
    assert "<dt>variable frame rate</dt><dd>no</dd>" in page and "<dt>features random init</dt><dd>no</dd>" in page
    assert not re.search(r"<dd>(True|False)</dd>", page)
    assert '<span class="sub">1 video</span>' in (tmp_path / "report.html").read_text()
