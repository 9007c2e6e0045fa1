"""The score report in a real browser (headless system Chromium): it plays, seeks, sorts and stays offline.

Screenshots of each page type are saved in the test's temp folder (``shots/``) for a person to look at.
"""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.browser import PageWatch, launch_chromium, require_browser
from tests.helpers.scores import synthetic_evaluation, write_scored
from tests.helpers.videos import index_frames, write_video
from vadpipe.report.build import build_report
from vadpipe.report.evaluation import write_evaluation_report

sync_playwright = require_browser()

FPS = 25.0
FRAMES = 100  # 4 s; T = 7 snippets
SCORES = {"cam/clip a": [0.1, 0.2, 0.9, 0.8, 0.1, 0.3, 0.2],  # one interval: frames [32, 64) = 1.28-2.56 s
          "old": [0.1, 0.1, 0.1, 0.1, 0.6, 0.7, 0.1],
          "<img src=x onerror=alert(1)>": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.4]}
HOSTILE = "<img src=x onerror=alert(1)>"
TRUTH = np.r_[np.zeros(40), np.ones(40), np.zeros(20)]  # "cam/clip a" as `score --gt` records it: 1.6-3.2 s


# Not the shared tiny_run: the page checks need score curves with known values and videos browsers play or
# not (H.264 and MPEG-4 Part 2), so the scores are written directly, without a model.
@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    frames = index_frames(FRAMES, height=48, width=64)
    videos = {"cam/clip a": write_video(root / "videos" / "cam" / "clip a.mp4", frames, fps=FPS,
                                        options={"preset": "ultrafast", "crf": "18"}),
              "old": write_video(root / "videos" / "old.avi", frames, fps=FPS, codec="mpeg4"),
              HOSTILE: write_video(root / "videos" / f"{HOSTILE}.mp4", frames, fps=FPS,
                                   options={"preset": "ultrafast", "crf": "18"})}
    out = root / "scores"
    for key, scores in SCORES.items():
        write_scored(out / Path(key).parent, Path(key).name, scores, frames=FRAMES, fps=FPS, video=videos[key],
                     truth=TRUTH if key == "cam/clip a" else None)
    # the score overlay of "cam/clip a", as `score --overlay` writes it beside the outputs (here the grey clip inverted)
    write_video(out / "cam" / "clip a.overlay.mp4", 255 - frames, fps=FPS, options={"preset": "ultrafast", "crf": "18"})
    report = build_report(out, failed=[f"{root / 'videos' / 'broken.mp4'}: FFmpeg cannot read this file"],
                          videos=[root / "videos"])
    (root / "shots").mkdir()
    return out, report, root / "shots"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, report_dir):
    out = report_dir[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.watch = PageWatch(pg, out)
    yield pg
    context.close()


def _open(page, path: Path):
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def _max_scores(page) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all("#videos tbody tr td:nth-child(3)",
                                                        "cells => cells.map(c => c.dataset.v)")]


def test_index_lists_every_video_sorts_and_shows_failures(page, report_dir):
    out, _, shots = report_dir
    _open(page, out / "report.html")
    assert _max_scores(page) == sorted(_max_scores(page), reverse=True)  # highest first
    page.click("#videos th:nth-child(3)")
    assert _max_scores(page) == pytest.approx([0.4, 0.7, 0.9], abs=1e-6)
    page.click("#videos th:nth-child(3)")
    assert _max_scores(page) == pytest.approx([0.9, 0.7, 0.4], abs=1e-6)
    page.click("#videos th:nth-child(1)")  # by name, case-insensitive
    names = page.eval_on_selector_all("#videos tbody td.name a", "links => links.map(a => a.textContent)")
    assert names == [f"{HOSTILE}.mp4", "clip a.mp4", "old.avi"]  # the hostile name is text, not an element
    assert page.locator("#videos img").count() == 0
    assert "broken.mp4: FFmpeg cannot read this file" in page.inner_text("#failed")
    page.screenshot(path=str(shots / "index.png"), full_page=True)
    page.click(f"text={HOSTILE}.mp4")  # the link opens the video's page
    page.wait_for_load_state("load")
    assert page.inner_text("header h1") == f"{HOSTILE}.mp4"
    page.screenshot(path=str(shots / "hostile-name.png"), full_page=True)
    page.watch.assert_clean()


def _wait_playing(page, beyond: float) -> float:
    page.evaluate("() => document.getElementById('player').play()")
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {beyond}", timeout=15000)
    page.evaluate("() => document.getElementById('player').pause()")
    return page.evaluate("() => document.getElementById('player').currentTime")


def _cursor_x(page) -> float:
    return float(page.get_attribute("#cursor", "x1"))


def _seeked(page, t: float) -> float:
    page.wait_for_function(f"() => {{ const v = document.getElementById('player');"
                           f" return !v.seeking && Math.abs(v.currentTime - {t}) < 0.5; }}", timeout=10000)
    return page.evaluate("() => document.getElementById('player').currentTime")


def test_video_page_plays_with_a_cursor_and_seeks_from_intervals_and_curve(page, report_dir):
    out, report, shots = report_dir
    assert report.media["cam/clip a"] == "original (hard link)"
    _open(page, out / "cam" / "clip a.report.html")
    assert _cursor_x(page) == pytest.approx(44)  # time 0: the plot's left edge
    played = _wait_playing(page, 0.5)
    assert played > 0.5  # the video really plays: its clock advanced
    assert _cursor_x(page) > 44 + 944 * 0.5 / 4 - 1  # and the cursor followed it
    page.click(".intervals button[data-seek]")  # interval #1 starts at frame 32 = 1.28 s
    assert _seeked(page, 1.28) == pytest.approx(1.28, abs=1 / FPS)
    assert "frame 32" in page.inner_text("#readout") and "ALARM" in page.inner_text("#readout")
    # Click the curve at t = 3.0 s: x in the SVG's own units (1000 wide), turned into the element's pixels.
    curve = page.locator("#curve")
    scale = curve.bounding_box()["width"] / 1000
    curve.click(position={"x": (44 + 944 * 3.0 / 4) * scale, "y": 100 * scale})
    assert _seeked(page, 3.0) == pytest.approx(3.0, abs=1 / FPS)
    assert _cursor_x(page) == pytest.approx(44 + 944 * 3.0 / 4, abs=1.5)
    page.screenshot(path=str(shots / "video-page.png"), full_page=True)
    page.watch.assert_clean()


def test_the_playing_label_follows_the_overlay_switch(page, report_dir):
    out, _, shots = report_dir
    _open(page, out / "cam" / "clip a.report.html")
    assert page.inner_text("#playing") == "playing: original (hard link)"
    page.click(".toggle button:has-text('score overlay')")
    page.wait_for_function("() => document.getElementById('player').src.endsWith('overlay.mp4')")
    assert page.inner_text("#playing") == "playing: the score overlay (clip a.overlay.mp4)"
    assert _wait_playing(page, 0.3) > 0.3  # the overlay plays where the original did
    page.screenshot(path=str(shots / "overlay-page.png"), full_page=True)
    page.click(".toggle button:has-text('video')")
    page.wait_for_function("() => document.getElementById('player').src.endsWith('clip%20a.play.mp4')")
    assert page.inner_text("#playing") == "playing: original (hard link)"
    page.watch.assert_clean()


def test_ground_truth_is_shaded_where_it_lies_on_the_page_and_in_the_index(page, report_dir):
    out, _, shots = report_dir
    _open(page, out / "cam" / "clip a.report.html")
    (band,) = page.locator("#curve rect.truth").all()
    curve = page.locator("#curve").bounding_box()
    box, scale = band.bounding_box(), curve["width"] / 1000  # drawn pixels per SVG unit
    assert (box["x"] - curve["x"]) / scale == pytest.approx(44 + 944 * 1.6 / 4, abs=1)  # from 1.6 s
    assert box["width"] / scale == pytest.approx(944 * 1.6 / 4, abs=1)  # to 3.2 s
    assert "1.6 s to 3.2 s (shaded grey; gt.txt)" in page.inner_text("dl.meta")
    page.screenshot(path=str(shots / "ground-truth-page.png"), full_page=True)
    _open(page, out / "old.report.html")
    assert page.locator("rect.truth").count() == 0 and "ground truth" not in page.inner_text("dl.meta")
    _open(page, out / "report.html")
    rows = page.eval_on_selector_all("#videos tbody tr", "rows => rows.map(r => [r.querySelector('td.name a')"
                                     ".textContent, r.querySelectorAll('svg rect.truth').length])")
    assert {name: marks > 0 for name, marks in rows} == {"clip a.mp4": True, "old.avi": False, f"{HOSTILE}.mp4": False}
    page.watch.assert_clean()


def test_a_video_browsers_cannot_play_is_transcoded_to_vp9_and_plays(page, report_dir):
    out, report, shots = report_dir
    assert report.media["old"].startswith("VP9 transcode")
    _open(page, out / "old.report.html")
    assert page.get_attribute("#player", "src") == "old.play.webm"
    assert _wait_playing(page, 0.3) > 0.3
    assert page.evaluate("() => document.getElementById('player').videoWidth") == 64
    page.screenshot(path=str(shots / "transcoded-page.png"), full_page=True)
    page.watch.assert_clean()


def test_every_page_keeps_its_requests_inside_the_folder(page, report_dir):
    out = report_dir[0]
    for html in sorted(out.rglob("*.html")):
        _open(page, html)
    page.watch.assert_clean()
    played = sorted(out.rglob("*.play.*"))
    assert len(played) == len(SCORES)  # each video's page has its one playable file
    assert all(p.is_file() for p in played)  # and none is a dangling link


def test_evaluate_page_shows_its_pictures_and_sorts(browser, report_dir):
    out, _, shots = report_dir
    html = write_evaluation_report(out / "evaluation", synthetic_evaluation(), model="runs/x", ground_truth="gt.txt",
                                   threshold=0.5)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = PageWatch(page, out)
    _open(page, html)
    widths = page.eval_on_selector_all("img.plot", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 3 and min(widths) > 400  # roc, pr and the grid all loaded
    page.click("#videos th:nth-child(8)")  # error, ascending
    names = page.eval_on_selector_all("#videos tbody td.name", "cells => cells.map(c => c.textContent)")
    assert names == ["good", "false alarm", "missed"]
    page.screenshot(path=str(shots / "evaluate.png"), full_page=True)
    watch.assert_clean()
    context.close()
