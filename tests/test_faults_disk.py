"""Fault injection, issue 20: a full or read-only disk, and a name too long for the file system, end as one line
naming the file and what to do; a name too long fails its input alone, and no curve is left without its record.

Bounded: tiny files, untrained runs saved without training, one backbone built per process.
"""

import errno
import json
import os
import shutil

import pytest

from tests.helpers.faults import (  # noqa: F401 - world and _one_backbone are fixtures
    CPU,
    _one_backbone,
    errors_of,
    failing_disk,
    train_quickly,
    world,
)
from tests.helpers.scores import write_scored
from vadpipe.cli.app import main


def test_a_name_too_long_for_its_outputs_fails_alone_and_one_that_fits_is_scored(world, tmp_path, capsys):
    long = tmp_path / ("n" * 246 + ".npy")  # 250 bytes: <name>.scores.csv cannot exist
    fits = tmp_path / ("f" * 240 + ".npy")  # its outputs fit, their temp files did not
    for npy in (long, fits):
        shutil.copy(world["test"] / "abnormal_000.npy", npy)
    code = main(["score", "--features", str(long), "--features", str(fits), "--model", str(world["run"]),
                 "--out", str(tmp_path / "o"), "--json", *CPU])
    captured = capsys.readouterr()
    (line,) = errors_of(captured.err)
    assert code == 1 and "File name too long" in line and f"cannot write the outputs of {long}" in line
    assert [v["video"] for v in json.loads(captured.out)["videos"]] == [str(fits)]
    assert (tmp_path / "o" / ("f" * 240 + ".json")).is_file()


@pytest.mark.parametrize("where", ["features", "index", "lock"])
def test_extract_on_a_full_or_read_only_disk_is_one_line(world, tmp_path, capsys, monkeypatch, where):
    out = tmp_path / "feats"
    if where == "features":
        failing_disk(monkeypatch, out / "clip.npy", "ENOSPC")
    elif where == "index":
        failing_disk(monkeypatch, out / "index.part", "ENOSPC")
    else:
        failing_disk(monkeypatch, out / ".index", "EROFS")
    code = main(["extract", str(world["clip"]), "--out", str(out), "--backbone", "inception_i3d", "--random-init",
                 "--crops", "1", "--resize-short", "36", "--crop-size", "32", "--quiet", *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{out}" in line
    assert ("No space left on device" if where != "lock" else "Read-only file system") in line


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_train_on_a_full_or_read_only_disk_is_one_line(world, tmp_path, capsys, monkeypatch, code):
    failing_disk(monkeypatch, tmp_path / "run", code)
    assert train_quickly(world["train"], tmp_path / "run") == 1
    (line,) = errors_of(capsys.readouterr().err)
    assert str(tmp_path / "run") in line and os.strerror(getattr(errno, code)) in line


def test_score_on_a_full_disk_leaves_no_curve_without_its_record(world, tmp_path, capsys, monkeypatch):
    import vadpipe.infer.outputs as outputs

    out = tmp_path / "o"
    failing_disk(monkeypatch, out / "abnormal_000.json")
    code = main(["score", "--features", str(world["test"] / "abnormal_000.npy"), "--features",
                 str(world["test"] / "normal_002.npy"), "--model", str(world["run"]), "--out", str(out), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and "abnormal_000.json: cannot write the outputs of " in line and "No space left" in line
    assert sorted(p.name for p in out.iterdir()) == ["normal_002.json", "normal_002.png", "normal_002.scores.csv"]
    assert outputs.find_scored(out) == [out / "normal_002.scores.csv"]


@pytest.mark.parametrize("command", ["report", "score --report", "evaluate --plots"])
def test_pages_on_a_full_disk_are_one_line(world, tmp_path, capsys, monkeypatch, command):
    out = tmp_path / "o"
    if command == "report":
        write_scored(out, "a", [0.1, 0.9], frames=32)
    failing_disk(monkeypatch, out / ("report.html" if command != "evaluate --plots" else "evaluate.html"))
    if command == "evaluate --plots":
        args = ["evaluate", str(world["test"]), "--model", str(world["run"]), "--gt", str(world["gt"]), "--plots",
                str(out), *CPU]
    elif command == "report":
        args = ["report", str(out), "--video", "none"]
    else:
        args = ["score", "--features", str(world["test"] / "abnormal_000.npy"), "--model", str(world["run"]),
                "--out", str(out), "--report", *CPU]
    assert main(args) == 1
    (line,) = errors_of(capsys.readouterr().err)
    assert "No space left on device" in line and "free some space" in line
