"""Fault injection, issue 20: hand-edited or corrupted files (a run's config.json, a store's index.jsonl, a
scored video's <stem>.json, a Caffe2 .pkl, ground truth) are checked, and each bad one is one line naming the
file and the field; the rest of the batch goes on.

Bounded: tiny files, untrained runs saved without training, one backbone built per process.
"""

import json
import shutil

import numpy as np
import pytest

from tests.helpers.faults import (  # noqa: F401 - world and _one_backbone are fixtures
    CPU,
    _one_backbone,
    edit_json,
    errors_of,
    train_quickly,
    world,
)
from tests.helpers.scores import write_scored
from vadpipe.cli.app import main

CONFIG_EDITS = {
    "mlp_dims [-1]": (lambda c: c["scorer"].update(mlp_dims=[-1]), "scorer.mlp_dims"),
    "mlp_dims [1e9, 1e9]": (lambda c: c["scorer"].update(mlp_dims=[1e9, 1e9]), "scorer.mlp_dims"),
    "threshold abc": (lambda c: c.update(threshold="abc"), "threshold"),
    "format_version '3'": (lambda c: c.update(format_version="3"), "format_version"),
    "use_prior 'no'": (lambda c: c["scorer"].update(use_prior="no"), "scorer.use_prior"),
    "scorer not an object": (lambda c: c.update(scorer=[1, 2]), "scorer"),
    "features.crops 'x'": (lambda c: c["features"].update(crops="x"), "features.crops"),
}


@pytest.mark.parametrize("edit", [*CONFIG_EDITS, "200k-deep JSON"])
def test_a_hand_edited_config_json_names_the_file_and_field(world, tmp_path, capsys, edit):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    if edit == "200k-deep JSON":
        (run / "config.json").write_text("[" * 200_000 + "]" * 200_000)
        field = "nested too deeply"
    else:
        change, field = CONFIG_EDITS[edit]
        edit_json(run / "config.json", change)
    code = main(["score", "--features", str(world["test"] / "abnormal_000.npy"), "--model", str(run),
                 "--out", str(tmp_path / "o"), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{run / 'config.json'}: " in line and field in line and " --" not in line


INDEX_EDITS = {"frames -5": ("frames", -5), "frames 'abc'": ("frames", "abc"), "frames 1e12": ("frames", 1e12),
               "fps 'abc'": ("fps", "abc"), "files 5": ("files", 5)}


@pytest.mark.parametrize("edit", INDEX_EDITS)
def test_a_hand_edited_index_line_leaves_out_its_video_alone(world, tmp_path, capsys, edit):
    store = tmp_path / "test"
    shutil.copytree(world["test"], store)
    key, value = INDEX_EDITS[edit]
    index = [json.loads(line) for line in (store / "index.jsonl").read_text().splitlines()]
    index[0][key] = value
    (store / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index))
    code = main(["evaluate", str(store), "--model", str(world["run"]), "--gt", str(world["gt"]), "--json", *CPU])
    captured = capsys.readouterr()
    lines = errors_of(captured.err)
    assert code == 1 and json.loads(captured.out)["videos"] == 3  # the other three were evaluated
    assert any(index[0]["id"] in line and key in line for line in lines)


def test_a_label_word_in_the_index_is_its_label(world, tmp_path, capsys):
    store = tmp_path / "train"
    shutil.copytree(world["train"], store)
    index = [json.loads(line) for line in (store / "index.jsonl").read_text().splitlines()]
    for record in index:
        record["label"] = "abnormal" if record["label"] else "normal"
    (store / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index))
    assert train_quickly(store, tmp_path / "run", "--json") == 0
    assert json.loads(capsys.readouterr().out)["bags"] > 0


STEM_EDITS = {
    "not an object": lambda r: [1, 2],
    "frames 'abc'": lambda r: {**r, "frames": "abc"},
    "fps 0": lambda r: {**r, "fps": 0},
    "threshold NaN": lambda r: {**r, "threshold": float("nan")},
    "intervals 'x'": lambda r: {**r, "intervals": "x"},
    "an interval without its peak": lambda r: {**r, "intervals": [{"start_s": 0, "end_s": 1}]},
    "ground truth spans of text": lambda r: {**r, "ground_truth": {"intervals": [{"start_frame": "a"}]}},
    "model a string": lambda r: {**r, "model": "x"},
}


@pytest.mark.parametrize("edit", [*STEM_EDITS, "a curve of NaN"])
def test_report_leaves_out_a_hand_edited_stem_json_alone(tmp_path, capsys, edit):
    for stem in ("good", "bad"):
        write_scored(tmp_path, stem, [0.1, 0.9], frames=32)
    if edit == "a curve of NaN":
        csv = tmp_path / "bad.scores.csv"
        csv.write_text(csv.read_text().replace("0.100000", "nan"))
    else:
        record = json.loads((tmp_path / "bad.json").read_text())
        (tmp_path / "bad.json").write_text(json.dumps(STEM_EDITS[edit](record)))
    assert main(["report", str(tmp_path), "--video", "none"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "bad." in captured.err
    assert (tmp_path / "good.report.html").is_file() and not (tmp_path / "bad.report.html").exists()


def test_a_caffe2_pkl_of_string_arrays_is_one_line(tmp_path):
    from tests.helpers.checkpoints import _write_python2_pickle
    from vadpipe.errors import VadpipeError
    from vadpipe.weights.caffe2 import caffe2_state_dict

    pkl = tmp_path / "i3d.pkl"
    _write_python2_pickle(pkl, {"blobs": {"conv1_w": np.array(["abc", "de"]), "pred_b": np.zeros(3, np.float32)}})
    with pytest.raises(VadpipeError, match=r"i3d\.pkl: not a readable Caffe2 \.pkl .*dtype <U3"):
        caffe2_state_dict(pkl)


@pytest.mark.parametrize("truth", ["superscript frame", "object array", "end before start"])
def test_a_broken_ground_truth_is_one_line(world, tmp_path, capsys, truth):
    if truth == "object array":
        gt = tmp_path / "gt.npy"
        np.save(gt, np.array([1, "a", None], dtype=object), allow_pickle=True)
    else:
        gt = tmp_path / "gt.txt"
        gt.write_text("abnormal_000.mp4 Abuse " + ("\u00b2 20" if truth == "superscript frame" else "50 20")
                      + " -1 -1\n")
    code = main(["evaluate", str(world["test"]), "--model", str(world["run"]), "--gt", str(gt), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and str(gt) in line
    assert {"superscript frame": "integer frames", "object array": "Object arrays",
            "end before start": "ends before it starts"}[truth] in line


@pytest.mark.parametrize("threshold", [5, -1, float("nan")])
def test_a_threshold_outside_0_1_in_config_json_is_refused(world, tmp_path, capsys, threshold):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    edit_json(run / "config.json", lambda c: c.update(threshold=threshold))
    code = main(["score", "--features", str(world["test"] / "normal_002.npy"), "--model", str(run),
                 "--out", str(tmp_path / "o"), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{run / 'config.json'}: threshold: " in line and "0<=FLOAT<=1" in line
