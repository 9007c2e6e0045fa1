"""Fault injection, issue 20: scores that are not numbers are refused and every JSON stays strict; a run's own
config is blamed as its file and field, never as a flag; a folder scored into itself leaves its own outputs out.

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
    world,
)
from vadpipe.cli.app import main


def _no_nan(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_features_that_overflow_the_scorer_are_refused_and_json_stays_strict(world, tmp_path, capsys):
    big = tmp_path / "big.npy"
    np.save(big, np.full((20, 2, 32), 1e20, np.float32))
    code = main(["score", "--features", str(big), "--features", str(world["test"] / "normal_002.npy"), "--model",
                 str(world["run"]), "--out", str(tmp_path / "o"), "--json", *CPU])
    captured = capsys.readouterr()
    (line,) = errors_of(captured.err)
    assert code == 1 and f"{big}: its scores are not numbers: features up to 1e+20 overflow" in line
    result = _no_nan(captured.out)
    assert [v["video"] for v in result["videos"]] == ["normal_002.mp4"]
    assert not (tmp_path / "o" / "big.scores.csv").exists()


def test_a_run_whose_weights_hold_nan_is_refused(world, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    state = load_file(run / "model.safetensors")
    state["causal_conv.weight"][:] = float("nan")
    save_file(state, str(run / "model.safetensors"))
    code = main(["score", "--features", str(world["test"] / "normal_002.npy"), "--model", str(run),
                 "--out", str(tmp_path / "o"), "--json", *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{run / 'model.safetensors'}: causal_conv.weight holds NaN or Inf" in line


def test_training_on_overflowing_features_blames_the_features_not_the_rate(world, tmp_path, capsys):
    store = tmp_path / "train"
    shutil.copytree(world["train"], store)
    for npy in store.glob("*.npy"):
        np.save(npy, np.full(np.load(npy).shape, 1e20, np.float32))
    assert main(["train", str(store), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "4",
                 "--seq-len", "8", "--hidden-dim", "16", "--quiet", *CPU]) == 1
    (line,) = errors_of(capsys.readouterr().err)
    assert "the features reach 1e+20" in line and "--lr" not in line


def test_json_written_or_printed_is_strict():
    from vadpipe.atomic import strict_json

    assert strict_json({"max_score": float("nan"), "x": [float("inf"), 1.5], "t": (float("-inf"),)}) == \
        '{"max_score": null, "x": [null, 1.5], "t": [null]}'


@pytest.mark.parametrize("edit", ["crops 7", "a backbone vadpipe cannot run", "a backbone of another width"])
def test_a_run_config_that_cannot_extract_names_its_file_and_field_not_a_flag(world, tmp_path, capsys, monkeypatch,
                                                                                edit):
    import vadpipe.backbones.registry as registry

    monkeypatch.setattr(registry, "build_backbone", lambda *a, **k: pytest.fail("the backbone was built"))
    run = tmp_path / "run"
    shutil.copytree(world["video_run"], run)
    change = {"crops 7": {"crops": 7}, "a backbone vadpipe cannot run": {"backbone": "synthetic"},
              "a backbone of another width": {"backbone": "i3d_r50"}}[edit]
    edit_json(run / "config.json", lambda c: c["features"].update(change))
    code = main(["score", str(world["clip"]), "--model", str(run), "--out", str(tmp_path / "o"), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{run / 'config.json'}: features." in line
    assert "--crops" not in line and "--backbone" not in line.split("give")[0] and "None-d" not in line


def test_scoring_a_folder_into_itself_leaves_its_own_outputs_out(world, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(world["clip"], folder / "clip.mp4")
    for own in ("clip.overlay.mp4", "clip.play.mp4", "clip.play.webm"):  # what --overlay and the report leave
        shutil.copy(world["clip"], folder / own)
    code = main(["score", str(folder), "--model", str(world["video_run"]), "--out", str(folder), *CPU])
    captured = capsys.readouterr()
    assert code == 0 and "left out 3 of vadpipe's own outputs" in " ".join(captured.err.split())
    assert sorted(p.name for p in folder.glob("*.scores.csv")) == ["clip.scores.csv"]
    # named on purpose, an overlay is still scored
    assert main(["score", str(folder / "clip.overlay.mp4"), "--model", str(world["video_run"]), "--out",
                 str(tmp_path / "o"), "--json", *CPU]) == 0
    assert len(_no_nan(capsys.readouterr().out)["videos"]) == 1
