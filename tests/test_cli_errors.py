"""Bad inputs end as one line on stderr and the documented exit code, never a traceback."""

import json

import numpy as np

from tests.helpers.features import write_store
from vadpipe.cli.app import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def test_version_names_the_libraries(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "vadpipe 0.1.0" in out and "torch" in out and "PyAV" in out


def test_evaluate_without_model_file(tiny_run, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text((tiny_run.run / "config.json").read_text())
    code = main(["evaluate", str(tiny_run.features), "--model", str(tmp_path / "run"), "--gt", str(tiny_run.gt)])
    assert code == 1
    assert "model.safetensors: missing" in _one_line_error(capsys)


def test_evaluate_with_config_from_a_newer_version(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    config = json.loads((tiny_run.run / "config.json").read_text())
    config["format_version"] = 99
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(tiny_run.features), "--model", str(run), "--gt", str(tiny_run.gt)]) == 1
    assert "upgrade vadpipe" in _one_line_error(capsys)


def test_evaluate_skips_a_wrong_dim_video_and_exits_1(tiny_run, tmp_path, capsys):
    import shutil

    shutil.copytree(tiny_run.features, tmp_path / "test")
    wrong = tmp_path / "test" / tiny_run.feature_file(3).relative_to(tiny_run.features)
    np.save(wrong, np.zeros((5, 1, 7), np.float32))
    code = main(["evaluate", str(tmp_path / "test"), "--model", str(tiny_run.run), "--gt", str(tiny_run.gt),
                 "--json"])
    assert code == 1
    captured = capsys.readouterr()
    assert f"{wrong.name}: features are 7-d but the model expects 1024-d" in captured.err
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
