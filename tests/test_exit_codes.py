"""Exit codes a pipeline can trust: 1 only for inputs of this command that could not be used."""

import json
import shutil

import pytest

from tests.helpers.videos import bad_truncated, random_frames, write_video
from vadpipe.cli.app import main

TRAIN = ["--epochs", "1", "--batch-size", "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def stores(tiny_run, tmp_path_factory):
    """The shared tiny store (tests/helpers/pipeline.py) copied as a train and a test store, each with one more
    video whose extraction failed."""
    root = tmp_path_factory.mktemp("exit")
    for store in ("train", "test"):
        shutil.copytree(tiny_run.features, root / store)
        with open(root / store / "index.jsonl", "a") as index:
            index.write(json.dumps({"video": "bad.mp4", "id": "bad", "features": "bad.npy", "status": "failed",
                                    "error": "bad.mp4: not a video (invalid data); re-encode it"}) + "\n")
    shutil.copy(tiny_run.gt, root / "gt.txt")
    return root


def test_train_and_evaluate_leave_failed_extractions_out_with_one_line_and_exit_0(stores, capsys):
    assert main(["train", str(stores / "train"), "--out", str(stores / "run"), *TRAIN]) == 0
    err = capsys.readouterr().err
    assert "1 video(s) whose extraction failed are left out" in err
    assert "not a video" not in err and "input(s) were left out" not in err
    code = main(["evaluate", str(stores / "test"), "--model", str(stores / "run"), "--gt", str(stores / "gt.txt"),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert len([ln for ln in captured.err.splitlines() if "extraction failed" in ln]) == 1
    assert "not a video" not in captured.err


def test_evaluate_names_each_rejected_file_and_counts_it_failed(stores, tiny_run, tmp_path, capsys):
    import numpy as np

    test = tmp_path / "test"
    shutil.copytree(stores / "test", test)
    nan_file, seven, nine = (test / tiny_run.feature_file(i).relative_to(tiny_run.features) for i in (2, 3, 0))
    nan = np.load(nan_file)
    nan[1, 0, 3] = np.nan
    np.save(nan_file, nan)
    np.save(seven, np.zeros((5, 1, 7), np.float32))
    np.save(nine, np.zeros((5, 1, 9), np.float32))
    capsys.readouterr()
    code = main(["evaluate", str(test), "--model", str(tiny_run.run), "--gt", str(stores / "gt.txt"), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and summary["failed"] == 3 and summary["videos"] == 1
    assert any(nan_file.name in p and "NaN" in p for p in summary["problems"])
    assert any(seven.name in p for p in summary["problems"])
    assert any(nine.name in p for p in summary["problems"])
    dim_lines = [ln for ln in captured.err.splitlines() if "model expects" in ln]
    assert len(dim_lines) == 1 and "2 feature files (e.g." in dim_lines[0] and "are 7-d, 9-d" in dim_lines[0]
    assert "--feature-dim" not in captured.err and "--preset" not in captured.err
    assert "vadpipe: error: " + str(nan_file) in captured.err
    assert "no features here" not in captured.err  # the ground truth naming a rejected video is no news


def test_resume_of_a_run_killed_before_its_first_epoch_starts_it_and_says_so(stores, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()  # what a run killed during its first epoch leaves: the folder, nothing saved in it
    assert main(["train", str(stores / "train"), "--out", str(run), *TRAIN, "--resume"]) == 0
    assert "stopped before its first epoch ended" in capsys.readouterr().err
    assert (run / "config.json").is_file() and (run / "model.safetensors").is_file()
    assert main(["train", str(stores / "train"), "--out", str(run), *TRAIN, "--resume"]) == 0  # a real resume
    assert "stopped before" not in capsys.readouterr().err
    assert main(["train", str(stores / "train"), "--out", str(tmp_path / "never"), *TRAIN, "--resume"]) == 2
    assert "no run here to resume" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_train_on_a_store_smaller_than_the_batch_says_what_the_batch_costs(stores, tmp_path, capsys):
    from vadpipe.cli.train import small_store_note
    from vadpipe.model.config import TrainConfig

    note = small_store_note(TrainConfig(batch_size=128), 3, 5)
    assert "one batch of 128 bags" in note and "3 abnormal and 5 normal" in note
    assert "--batch-size 10 " in note and "12.8x less work" in note
    assert small_store_note(TrainConfig(batch_size=10), 3, 5) is None
    assert small_store_note(TrainConfig(batch_size=128, balanced=False), 3, 5) is None
    args = [a for a in TRAIN if a != "--quiet"]
    args[args.index("--batch-size") + 1] = "32"
    assert main(["train", str(stores / "train"), "--out", str(tmp_path / "run"), *args]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "note: batch 32 is more than this store's bags" in err and "--batch-size 4 " in err  # 2 + 2 bags


EXTRACT = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet", "--json"]


def test_extract_with_a_missing_path_extracts_the_others_and_exits_1(tmp_path, capsys):
    write_video(tmp_path / "in" / "a.mp4", random_frames(20, seed=1))
    code = main(["extract", str(tmp_path / "in" / "a.mp4"), str(tmp_path / "missing.mp4"), "--out",
                 str(tmp_path / "s"), *EXTRACT])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and (summary["done"], summary["failed"]) == (1, 1)
    assert "vadpipe: error: " + str(tmp_path / "missing.mp4") + ": no such file or folder" in captured.err
    assert summary["failures"][0]["video"] == str(tmp_path / "missing.mp4")
    index = (tmp_path / "s" / "index.jsonl").read_text()
    assert "missing.mp4" not in index  # a mistyped path is not recorded as a failed video of the store
    assert (tmp_path / "s" / "a.npy").is_file()


def test_extract_of_only_missing_paths_exits_1_and_writes_no_record(tmp_path, capsys):
    code = main(["extract", str(tmp_path / "gone.mp4"), "--out", str(tmp_path / "s"), *EXTRACT])
    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["failed"] == 1
    assert not (tmp_path / "s" / "index.jsonl").exists() or "gone" not in (tmp_path / "s" / "index.jsonl").read_text()


def test_extract_summary_counts_only_snippets_of_videos_that_succeeded(tmp_path, capsys):
    write_video(tmp_path / "in" / "a.mp4", random_frames(20, seed=1))
    bad_truncated(tmp_path / "in" / "cut.mkv", n=200)  # decodes a few snippets, then fails
    code = main(["extract", str(tmp_path / "in"), "--out", str(tmp_path / "s"), *EXTRACT])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and (summary["done"], summary["failed"]) == (1, 1)
    assert summary["snippets"] == 2  # a.mp4: 20 frames, the tail padded; none of the truncated video's


def test_extract_json_reports_the_random_init_asked_when_nothing_was_extracted(tmp_path, capsys):
    write_video(tmp_path / "in" / "a.mp4", random_frames(20, seed=1))
    assert main(["extract", str(tmp_path / "in"), "--out", str(tmp_path / "s"), *EXTRACT]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["extract", str(tmp_path / "in"), "--out", str(tmp_path / "s"), *EXTRACT]) == 0
    again = json.loads(capsys.readouterr().out)
    assert first["random_init"] is True and (again["skipped"], again["random_init"]) == (1, True)
