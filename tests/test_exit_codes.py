"""Exit codes a pipeline can trust: 1 only for inputs of this command that could not be used."""

import json

import pytest

from tests.helpers.features import write_store, write_ucf_annotations
from tests.helpers.videos import bad_truncated, random_frames, write_video
from vadpipe.cli.app import main

TRAIN = ["--epochs", "1", "--batch-size", "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A train and a test store, each holding one video whose extraction failed."""
    root = tmp_path_factory.mktemp("exit")
    write_store(root / "train", n_abnormal=4, n_normal=4, seed=3, t_range=(20, 40))
    events = write_store(root / "test", n_abnormal=2, n_normal=2, seed=4, t_range=(20, 40))
    write_ucf_annotations(root / "gt.txt", events)
    for store in ("train", "test"):
        with open(root / store / "index.jsonl", "a") as index:
            index.write(json.dumps({"video": "bad.mp4", "id": "bad", "features": "bad.npy", "status": "failed",
                                    "error": "bad.mp4: not a video (invalid data); re-encode it"}) + "\n")
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


def test_evaluate_names_each_rejected_file_and_counts_it_failed(stores, tmp_path, capsys):
    import shutil

    import numpy as np

    if not (stores / "run").exists():
        assert main(["train", str(stores / "train"), "--out", str(stores / "run"), *TRAIN]) == 0
    test = tmp_path / "test"
    shutil.copytree(stores / "test", test)
    nan = np.load(test / "normal_002.npy")
    nan[1, 0, 3] = np.nan
    np.save(test / "normal_002.npy", nan)
    np.save(test / "normal_003.npy", np.zeros((5, 2, 7), np.float32))
    np.save(test / "abnormal_000.npy", np.zeros((5, 2, 9), np.float32))
    capsys.readouterr()
    code = main(["evaluate", str(test), "--model", str(stores / "run"), "--gt", str(stores / "gt.txt"), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and summary["failed"] == 3 and summary["videos"] == 1
    assert any("normal_002.npy" in p and "NaN" in p for p in summary["problems"])
    assert any("normal_003.npy" in p for p in summary["problems"])
    assert any("abnormal_000.npy" in p for p in summary["problems"])
    dim_lines = [ln for ln in captured.err.splitlines() if "model expects" in ln]
    assert len(dim_lines) == 1 and "2 feature files (e.g." in dim_lines[0] and "are 7-d, 9-d" in dim_lines[0]
    assert "--feature-dim" not in captured.err and "--preset" not in captured.err
    assert "vadpipe: error: " + str(test / "normal_002.npy") in captured.err
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
    assert "note: batch 32 is more than this store's bags" in err and "--batch-size 16 " in err  # 8 + 8 bags


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
