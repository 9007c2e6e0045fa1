"""Bad inputs end as one line on stderr and the documented exit code, never a traceback."""

import json

import numpy as np
import pytest

from tests.helpers.features import write_store, write_ucf_annotations
from vadpipe.cli.app import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_store(root / "train", n_abnormal=4, n_normal=4, seed=3, t_range=(20, 40))
    events = write_store(root / "test", n_abnormal=2, n_normal=2, seed=4, t_range=(20, 40))
    write_ucf_annotations(root / "gt.txt", events)
    assert main(["train", str(root / "train"), "--out", str(root / "run"), "--epochs", "1", "--batch-size", "4",
                 "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--quiet"]) == 0
    return root


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def test_version_names_the_libraries(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "vadpipe 0.1.0" in out and "torch" in out and "PyAV" in out


def test_evaluate_without_model_file(trained, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text((trained / "run" / "config.json").read_text())
    code = main(["evaluate", str(trained / "test"), "--model", str(tmp_path / "run"), "--gt", str(trained / "gt.txt")])
    assert code == 1
    assert "model.safetensors: missing" in _one_line_error(capsys)


def test_evaluate_with_config_from_a_newer_version(trained, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    config = json.loads((trained / "run" / "config.json").read_text())
    config["format_version"] = 99
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(trained / "test"), "--model", str(run), "--gt", str(trained / "gt.txt")]) == 1
    assert "upgrade vadpipe" in _one_line_error(capsys)


def test_evaluate_skips_a_wrong_dim_video_and_exits_1(trained, tmp_path, capsys):
    import shutil

    shutil.copytree(trained / "test", tmp_path / "test")
    np.save(tmp_path / "test" / "normal_003.npy", np.zeros((5, 2, 7), np.float32))
    code = main(["evaluate", str(tmp_path / "test"), "--model", str(trained / "run"), "--gt", str(trained / "gt.txt"),
                 "--json"])
    assert code == 1
    captured = capsys.readouterr()
    assert "normal_003.npy: features are 7-d but the model expects 32-d" in captured.err
    assert json.loads(captured.out)["videos"] == 3  # the others were still evaluated


def test_train_with_missing_features_folder(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 1
    assert "no such feature folder or list file" in _one_line_error(capsys)


def test_train_with_only_one_class(tmp_path, capsys):
    write_store(tmp_path / "feats", n_abnormal=3, n_normal=0, t_range=(20, 30))
    code = main(["train", str(tmp_path / "feats"), "--out", str(tmp_path / "run"), "--quiet", "--device", "cpu"])
    assert code == 1
    assert "needs both abnormal" in _one_line_error(capsys)


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "r"), "--preset", "nope"]) == 2
    assert "unknown preset" in _one_line_error(capsys)
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "r"), "--val", str(tmp_path)]) == 2
    assert main(["evaluate"]) == 2
