"""Exit codes a pipeline can trust: 1 only for inputs of this command that could not be used."""

import json

import pytest

from tests.helpers.features import write_store, write_ucf_annotations
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
