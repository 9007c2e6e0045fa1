"""Ground truth parsing, per-video alignment and metrics against hand-computed values."""

import numpy as np
import pytest
import torch

from vadpipe.errors import InputError
from vadpipe.eval.evaluate import evaluate
from vadpipe.eval.groundtruth import load_ground_truth
from vadpipe.eval.metrics import best_f1_threshold, frame_metrics
from vadpipe.features.formats import FeatureVideo
from vadpipe.video.snippets import frame_scores


def test_frame_scores_repeat_each_snippet_16_times_and_fit_n():
    curve = frame_scores(np.array([0.1, 0.9]), 20)
    assert curve.shape == (20,)
    assert (curve[:16] == np.float32(0.1)).all() and (curve[16:] == np.float32(0.9)).all()
    assert frame_scores(np.array([0.1, 0.9])).shape == (32,)
    tail = frame_scores(np.array([0.1, 0.9]), 35)  # --tail drop left 3 frames without a snippet
    assert (tail[32:] == np.float32(0.9)).all()


def test_ucf_annotation_marks_inclusive_intervals_like_the_common_evaluation_code(tmp_path):
    path = tmp_path / "Temporal_Anomaly_Annotation.txt"
    # as published: a BOM, CRLF line ends, a trailing blank line
    text = "\ufeffAbuse028_x264.mp4  Abuse  3  6  10  12\r\nNormal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\r\n\r\n"
    path.write_bytes(text.encode("utf-8"))
    gt = load_ground_truth(path)
    assert gt.kind == "ucf"
    labels, note = gt.labels_for("Abuse028_x264", 16, 1)
    # frames 3..6 and 10..12, both ends included (RTFM make_gt_ucf.py: range(start, end + 1))
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0] and note is None
    labels, note = gt.labels_for("Abuse028_x264", 12, 1)
    assert labels[10:].tolist() == [1, 1] and "10-12 runs past the 12 scored frames" in note
    assert gt.labels_for("Normal_Videos_003_x264", 5, 0)[0].sum() == 0
    with pytest.raises(InputError, match="not annotated"):
        gt.labels_for("Other", 5, None)


def test_xd_annotations_treat_unlisted_videos_as_normal_and_report_clipping(tmp_path):
    path = tmp_path / "annotations.txt"
    path.write_text("Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6 2 4 30 40\n")
    gt = load_ground_truth(path)
    assert gt.kind == "xd"
    labels, note = gt.labels_for("Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6", 32, 1)
    assert labels.sum() == 2 + 2 and "clipped" in note
    assert gt.labels_for("x_label_A", 8, 0)[0].sum() == 0


def test_concatenated_gt_is_split_in_list_order_and_length_mismatch_is_explained(tmp_path):
    np.save(tmp_path / "gt.npy", np.array([0] * 16 + [1] * 16 + [0] * 16, dtype=np.float32))
    gt = load_ground_truth(tmp_path / "gt.npy", video_order=[("a", 16), ("b", 32)])
    assert gt.frames["a"].sum() == 0 and gt.frames["b"].tolist() == [1] * 16 + [0] * 16
    with pytest.raises(InputError, match="holds 48 frames but the test features imply 64"):
        load_ground_truth(tmp_path / "gt.npy", video_order=[("a", 32), ("b", 32)])


def test_frame_metrics_match_hand_values():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    m = frame_metrics(scores, labels)
    assert m["auc"] == pytest.approx(0.75)  # 3 of the 4 (pos, neg) pairs ordered right
    assert m["ap"] == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at each positive: 1, 2/3
    assert frame_metrics(scores, np.zeros(4))["auc"] is None


def test_best_f1_threshold():
    threshold, f1 = best_f1_threshold(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert threshold == pytest.approx(0.35) and f1 == pytest.approx(0.8)  # P = 2/3, R = 1


class _ConstantScorer(torch.nn.Module):
    """Scores are the first feature of each snippet: lets evaluate() be checked by hand."""

    cfg = type("cfg", (), {"feature_dim": 2})

    def score_video(self, feats):
        return feats[:, :, 0].mean(dim=1)


def test_evaluate_aligns_each_video_to_its_own_frame_count(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[[0.9, 0]], [[0.1, 0]]], dtype=np.float32))  # T=2, N=20 decoded
    np.save(tmp_path / "b.npy", np.array([[[0.2, 0]]], dtype=np.float32))  # T=1, N unknown -> 16
    videos = [FeatureVideo("a", [tmp_path / "a.npy"], 1, frames=20), FeatureVideo("b", [tmp_path / "b.npy"], 0)]
    (tmp_path / "gt.txt").write_text("a  Abuse  0  15  -1  -1\nb  Normal  -1  -1  -1  -1\nc  Abuse  1  2  -1  -1\n")
    result = evaluate(_ConstantScorer(), videos, load_ground_truth(tmp_path / "gt.txt"))
    assert result.frames == 36
    assert result.metrics["auc"] == pytest.approx(1.0)
    assert [v.frames for v in result.videos] == [20, 16]
    assert len(result.problems) == 1 and "names 1 video(s) with no features" in result.problems[0]


def _rtfm_concatenated_gt(entries: list[tuple[str, int, list[tuple[int, int]]]]) -> np.ndarray:
    """Built the way RTFM's list/make_gt_ucf.py builds gt-ucf.npy: in list order, 16*T frames per
    video, normal videos all 0, abnormal ones 1 on start..end inclusive, float64."""
    gt = []
    for name, snippets, intervals in entries:
        n = 16 * snippets
        vec = [0.0] * n
        if "Normal_" not in name:
            for start, end in intervals:
                for i in range(start, min(end + 1, n)):
                    vec[i] = 1.0
        gt.extend(vec)
    return np.array(gt, dtype=float)


def test_rtfm_concatenated_gt_agrees_with_the_annotation_txt_under_the_inclusive_convention(tmp_path):
    from vadpipe.features.formats import load_feature_set

    entries = [("Abuse028_x264", 3, [(5, 20)]), ("Arrest001_x264", 2, [(0, 3), (16, 31)]),
               ("Normal_Videos_003_x264", 2, [])]
    rng = np.random.default_rng(0)
    for name, t, _ in entries:
        np.save(tmp_path / f"{name}_i3d.npy", rng.random((t, 10, 2), dtype=np.float32))
    listing = tmp_path / "ucf-i3d-test.list"
    listing.write_text("".join(f"G:\\UCF_Test_ten_crop_i3d\\{n}_i3d.npy\r\n" for n, _, _ in entries))
    np.save(tmp_path / "gt-ucf.npy", _rtfm_concatenated_gt(entries))
    annotation = tmp_path / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"
    annotation.write_text("Abuse028_x264.mp4  Abuse  5  20  -1  -1\nArrest001_x264.mp4  Arrest  0  3  16  31\n"
                          "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n")

    videos, problems = load_feature_set(listing, abnormal_first=2)
    assert problems == [] and [v.id for v in videos] == [e[0] for e in entries]
    order = [(v.id, 16 * v.validate()[0]) for v in videos]
    from_npy = load_ground_truth(tmp_path / "gt-ucf.npy", video_order=order)
    from_txt = load_ground_truth(annotation)
    for (vid, n), v in zip(order, videos, strict=True):
        assert from_npy.labels_for(vid, n, v.label)[0].tolist() == from_txt.labels_for(vid, n, v.label)[0].tolist()
    a = evaluate(_ConstantScorer(), videos, from_npy).metrics
    b = evaluate(_ConstantScorer(), videos, from_txt).metrics
    assert a == pytest.approx(b) and a["auc"] is not None
