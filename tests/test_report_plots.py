"""Pictures of evaluate (ROC, PR, per-video curves, evaluate.html) and train (training.png per epoch)."""

import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers.scores import synthetic_evaluation
from vadpipe.eval.metrics import frame_metrics
from vadpipe.report.evaluation import split_videos, write_evaluation_report
from vadpipe.train.plot import plot_training


def test_evaluation_curves_are_cut_back_per_video():
    ev = synthetic_evaluation()
    parts = split_videos(ev)
    assert [len(p.scores) for p in parts] == [64, 48, 32]
    assert parts[2].labels.sum() == 32 and parts[1].labels.sum() == 0
    assert parts[2].error == pytest.approx(np.mean(np.abs(ev.scores[112:] - 1)))


def test_evaluate_plots_write_roc_pr_grid_and_a_page_worst_first(tmp_path):
    ev = synthetic_evaluation()
    page = write_evaluation_report(tmp_path / "plots", ev, model="runs/x", ground_truth="gt.txt", threshold=0.5)
    for name in ("roc.png", "pr.png", "videos.png"):
        assert Image.open(tmp_path / "plots" / name).size[0] > 400
    html = page.read_text()
    names = re.findall(r'<td data-v="[^"]*" class="name">([^<]*)</td>', html)
    assert names == ["missed", "false alarm", "good"]  # largest mean |score - label| first
    assert f"{100 * ev.metrics['auc']:.2f}%" in html and "note: a note" in html
    assert re.findall(r'<img class="plot" src="([^"]*)"', html) == ["roc.png", "pr.png", "videos.png"]


def test_one_class_evaluation_draws_the_grid_and_says_why_there_is_no_roc(tmp_path):
    ev = synthetic_evaluation()
    ev.labels = np.zeros_like(ev.labels)
    ev.metrics = frame_metrics(ev.scores, ev.labels)
    page = write_evaluation_report(tmp_path, ev, model="m", ground_truth="g")
    assert not (tmp_path / "roc.png").exists() and (tmp_path / "videos.png").is_file()
    assert "need both normal and abnormal frames" in page.read_text()


def _history(epochs: int, val: bool) -> list[dict]:
    return [{"epoch": e, "loss_mil": 1 / e, "loss_dr": 0.5 / e, "loss_da": 0.2, "loss_total": 1.7 / e,
             **({"val_auc": 0.5 + e / 20, "val_ap": 0.4 + e / 20, "val_pr_auc": 0.4} if val else {})}
            for e in range(1, epochs + 1)]


def test_training_plot_has_a_validation_panel_only_when_the_run_validates(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wide = Image.open(plot_training(tmp_path / "a", _history(3, val=True))).size
    narrow = Image.open(plot_training(tmp_path / "b", _history(3, val=False))).size
    assert wide[0] > 1.5 * narrow[0] and wide[1] == narrow[1]
