"""Interval detection on hand-made curves."""

import numpy as np
import pytest

from vadpipe.infer.intervals import detect_intervals, smooth_scores


def test_threshold_gives_half_open_frame_intervals_with_times_and_scores():
    curve = np.array([0.1, 0.6, 0.9, 0.2, 0.2, 0.7, 0.5, 0.1])
    got = detect_intervals(curve, fps=2.0, threshold=0.5)
    assert [(i.start_frame, i.end_frame) for i in got] == [(1, 3), (5, 7)]
    assert (got[0].start_s, got[0].end_s) == (0.5, 1.5)
    assert got[0].peak_score == pytest.approx(0.9) and got[0].mean_score == pytest.approx(0.75)
    assert got[1].peak_score == pytest.approx(0.7) and got[1].mean_score == pytest.approx(0.6)


def test_interval_touching_the_last_frame_is_closed():
    got = detect_intervals(np.array([0.0, 0.0, 1.0, 1.0]), fps=1.0, threshold=0.5)
    assert [(i.start_frame, i.end_frame) for i in got] == [(2, 4)]


def test_gaps_up_to_merge_gap_are_merged():
    curve = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 1], dtype=float)
    assert len(detect_intervals(curve, fps=1.0, threshold=0.5, merge_gap_s=1.0)) == 3
    merged = detect_intervals(curve, fps=1.0, threshold=0.5, merge_gap_s=2.0)
    assert [(i.start_frame, i.end_frame) for i in merged] == [(0, 6), (9, 10)]
    assert merged[0].mean_score == pytest.approx(4 / 6)  # the gap's frames count in the mean


def test_intervals_shorter_than_min_duration_are_dropped_after_merging():
    curve = np.array([1, 0, 1, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    got = detect_intervals(curve, fps=2.0, threshold=0.5, merge_gap_s=0.5, min_duration_s=1.6)
    # (0,1)+(2,3) merge into (0,3) = 1.5 s < 1.6 s: dropped; (6,10) = 2 s kept
    assert [(i.start_frame, i.end_frame) for i in got] == [(6, 10)]


def test_nothing_above_threshold_gives_no_interval():
    assert detect_intervals(np.full(10, 0.2), fps=25.0, threshold=0.5) == []


def test_smoothing_is_a_centred_moving_average_with_partial_edges():
    out = smooth_scores(np.array([0.0, 3.0, 0.0, 0.0]), 3)
    assert out.tolist() == pytest.approx([1.5, 1.0, 1.0, 0.0])
    assert smooth_scores(np.array([0.2, 0.4]), 1).tolist() == pytest.approx([0.2, 0.4])


def test_report_files_have_one_csv_row_per_frame_and_a_png(tmp_path):
    from vadpipe.infer.intervals import detect_intervals
    from vadpipe.infer.report import plot_curve, write_scores_csv

    curve = np.concatenate([np.full(40, 0.1), np.full(20, 0.8), np.full(13, 0.2)]).astype(np.float32)
    write_scores_csv(tmp_path / "v.scores.csv", curve, fps=25.0)
    rows = (tmp_path / "v.scores.csv").read_text().splitlines()
    assert rows[0] == "frame,time_s,score" and len(rows) == 1 + 73
    assert rows[41] == "40,1.600,0.800000"
    intervals = detect_intervals(curve, 25.0, threshold=0.5)
    plot_curve(tmp_path / "v.png", curve, 25.0, intervals, 0.5, title="v.mp4", truth=curve > 0.5)
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_interval_times_are_rounded_to_the_frame_without_float_noise():
    curve = np.zeros(130)
    curve[60:120] = 1.0
    (iv,) = detect_intervals(curve, fps=30000 / 1001, threshold=0.5)
    assert (iv.start_s, iv.end_s) == (2.002, 4.004)  # 120 / (30000/1001) is 4.0040000000000004 unrounded


def _config(threshold=None, source=None):
    from tests.helpers.scores import tiny_config

    config = tiny_config()
    config.threshold, config.threshold_source = threshold, source
    return config


def test_scored_curve_gives_the_curve_threshold_and_intervals_and_writes_nothing(tmp_path, monkeypatch):
    from vadpipe.infer.intervals import scored_curve
    from vadpipe.infer.options import IntervalOptions

    monkeypatch.chdir(tmp_path)
    got = scored_curve(np.array([0.1, 0.9, 0.2], dtype=np.float32), 37, 25.0, IntervalOptions(threshold=0.5),
                       _config(0.3, "validation"))
    assert got.curve.shape == (37,) and got.frames == 37 and got.smoothed is None
    assert got.curve[15] == pytest.approx(0.1) and got.curve[16] == pytest.approx(0.9)
    assert got.curve[36] == pytest.approx(0.2)  # the short last snippet: 5 frames
    assert (got.threshold, got.threshold_source) == (0.5, "--threshold")
    assert [(i.start_frame, i.end_frame, i.start_s, i.end_s) for i in got.intervals] == [(16, 32, 0.64, 1.28)]
    assert got.intervals[0].peak_score == pytest.approx(0.9)
    assert got.alarm().tolist() == [False] * 16 + [True] * 16 + [False] * 5
    assert list(tmp_path.iterdir()) == []


def test_scored_curve_decides_on_the_smoothed_curve_and_reports_the_raw_one():
    from vadpipe.infer.intervals import scored_curve
    from vadpipe.infer.options import IntervalOptions

    # smoothed over 3 snippets: [0.5, 0.4, 0.55]; the run's threshold 0.5 applies (none given)
    got = scored_curve(np.array([0.1, 0.9, 0.2]), 48, 16.0, IntervalOptions(smooth=3), _config(0.5, "validation"))
    assert got.smoothed.tolist() == pytest.approx([0.5] * 16 + [0.4] * 16 + [0.55] * 16)
    assert (got.threshold, got.threshold_source) == (0.5, "validation")
    assert [(i.start_frame, i.end_frame) for i in got.intervals] == [(0, 16), (32, 48)]
    assert [i.peak_score for i in got.intervals] == pytest.approx([0.1, 0.2])  # from the raw curve
    merged = scored_curve(np.array([0.1, 0.9, 0.2]), 48, 16.0, IntervalOptions(smooth=3, merge_gap_s=1.0),
                          _config())
    assert (merged.threshold_source, [(i.start_frame, i.end_frame) for i in merged.intervals]) == \
        ("default 0.5 (the run stores no threshold)", [(0, 48)])
