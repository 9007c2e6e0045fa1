"""How commands fail: one line that says what happened, a JSON document for --json, and no empty folder left."""

import json

import numpy as np
import pytest

from tests.helpers.features import write_store, write_ucf_annotations
from tests.helpers.videos import random_frames, write_video
from vadpipe.cli.app import main
from vadpipe.engines import runtimes

TRAIN = ["--epochs", "1", "--batch-size", "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("failures")
    write_store(root / "train", n_abnormal=4, n_normal=4, seed=3, t_range=(20, 40))
    events = write_store(root / "test", n_abnormal=2, n_normal=2, seed=4, t_range=(20, 40))
    write_ucf_annotations(root / "gt.txt", events)
    assert main(["train", str(root / "train"), "--out", str(root / "run"), *TRAIN]) == 0
    return root


def _error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("model, words", [
    ("nosuchrun", "nosuchrun: no such folder"),
    ("demo", "demo: not a run folder, but {root}/demo/run is one; give that"),  # the demo's run is <out>/run
    ("gt.txt", "gt.txt: a file, not a run folder"),
    ("train", "train: no config.json, so not a run folder"),
])
def test_a_model_that_is_not_a_run_folder_is_named_for_what_it_is(trained, tmp_path, capsys, model, words):
    (tmp_path / "demo" / "run").mkdir(parents=True)
    (tmp_path / "demo" / "run" / "config.json").write_text((trained / "run" / "config.json").read_text())
    where = tmp_path if model == "demo" else trained
    for command in (["score", "--features", str(trained / "test" / "normal_002.npy")],
                    ["evaluate", str(trained / "test"), "--gt", str(trained / "gt.txt")]):
        assert main([*command, "--model", str(where / model), "--out" if command[0] == "score" else "--device",
                     str(tmp_path / "scores") if command[0] == "score" else "cpu"]) == 1
        line = _error_line(capsys)
        assert str(where) + "/" + words.format(root=where) in line and "config.json:" not in line, line


def test_report_of_a_file_says_it_is_a_file(tmp_path, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert main(["report", str(tmp_path / "clip.mp4")]) == 1
    assert "clip.mp4: a file, not a folder" in _error_line(capsys)


def _refused_engine(monkeypatch):
    monkeypatch.setattr(runtimes, "missing_modules", lambda engine: [engine])


@pytest.mark.parametrize("case", ["extract without weights", "score of a missing path", "score of bad features only",
                                  "score refused once its folder is made", "score of a folder without videos",
                                  "extract of a folder without videos", "score with an engine not installed"])
def test_a_failed_command_leaves_no_empty_output_folder(trained, tmp_path, capsys, monkeypatch, case):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))  # no weights cached
    (tmp_path / "empty").mkdir()
    write_video(tmp_path / "videos" / "a.mp4", random_frames(20, seed=1))
    np.save(tmp_path / "wrong.npy", np.zeros((5, 2, 7), np.float32))
    (tmp_path / "notes.mp4").write_text("not a video")
    out = tmp_path / "out" / "nested"  # neither it nor its parent exists
    run = ["--model", str(trained / "run"), "--out", str(out)]
    args, code = {
        "extract without weights": (["extract", str(tmp_path / "videos"), "--out", str(out)], 1),
        "score of a missing path": (["score", str(tmp_path / "gone.mp4"), *run], 1),
        "score of bad features only": (["score", "--features", str(tmp_path / "wrong.npy"), *run], 1),
        "score refused once its folder is made": (["score", str(tmp_path / "notes.mp4"), *run], 1),  # the run's config
        "score of a folder without videos": (["score", str(tmp_path / "empty"), *run], 2),
        "extract of a folder without videos": (["extract", str(tmp_path / "empty"), "--out", str(out)], 2),
        "score with an engine not installed": (["score", str(tmp_path / "videos"), *run, "--engine", "openvino"], 2),
    }[case]
    if "engine" in case:
        _refused_engine(monkeypatch)
    assert main(args) == code
    assert not (tmp_path / "out").exists(), sorted(p.name for p in (tmp_path / "out").rglob("*"))


def test_a_folder_that_existed_before_stays(trained, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    assert main(["score", "--features", str(trained / "test" / "normal_002.npy"), "--model", str(trained / "train"),
                 "--out", str(tmp_path / "out")]) == 1
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize("args, code, words", [
    (["score", "v.mp4", "--model", "{root}/nosuchrun"], 1, "no such folder"),
    (["score", "--model", "{root}/run", "--crops", "7"], 2, "--crops 7: choose one of"),
    (["extract", "{root}/test", "--out", "{tmp}/o", "--backbone", "nope"], 2, "--backbone 'nope' is unknown"),
    (["train", "{root}/nothing", "--out", "{tmp}/r"], 1, "no such feature folder"),
    (["evaluate", "{root}/test", "--model", "{root}/run", "--gt", "{root}/train/index.jsonl"], 1,
     "expected `name [class] start end ...`"),
])
def test_json_that_fails_is_still_one_json_document_on_stdout(trained, tmp_path, capsys, args, code, words):
    assert main([a.format(root=trained, tmp=tmp_path) for a in args] + ["--json"]) == code
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["exit_code"] == code and words in doc["error"] and doc["type"] == "error"
    assert doc["error"] in captured.err  # the same line as on stderr


def test_evaluate_whose_ground_truth_names_none_of_the_videos_says_so(trained, tmp_path, capsys):
    write_ucf_annotations(tmp_path / "other.txt", {"Abuse028_x264": (10, 20), "Normal_Videos_003_x264": None})
    assert main(["evaluate", str(trained / "test"), "--model", str(trained / "run"), "--gt",
                 str(tmp_path / "other.txt"), "--device", "cpu"]) == 1
    line = _error_line(capsys)
    assert f"{tmp_path / 'other.txt'} names none of the 4 test videos" in line
    assert "Abuse028_x264" in line and "abnormal_000" in line and "see the lines above" not in line


@pytest.mark.parametrize("command", ["evaluate", "score"])
def test_a_video_label_csv_given_as_ground_truth_is_refused_naming_the_formats(trained, tmp_path, capsys, command):
    (tmp_path / "labels.csv").write_text("video,label\nabnormal_000,1\nnormal_002,0\n")
    args = (["evaluate", str(trained / "test")] if command == "evaluate" else
            ["score", "--features", str(trained / "test" / "normal_002.npy"), "--out", str(tmp_path / "s")])
    assert main([*args, "--model", str(trained / "run"), "--gt", str(tmp_path / "labels.csv")]) == 1
    line = _error_line(capsys)
    assert "labels.csv: a CSV (video-level labels" in line and "--labels" in line
    assert "UCF-Crime Temporal_Anomaly_Annotation .txt" in line and "XD-Violence annotations.txt" in line
