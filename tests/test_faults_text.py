"""Fault injection, issue 20: text inputs (lists, labels, annotations) in any encoding, or not text at all.

A list names files, and a name is bytes: a Latin-1 list still finds its files; a binary file in the place of
a text file, or a CSV field past csv's limit, is one line naming it.

Bounded: tiny files, untrained runs saved without training, one backbone built per process.
"""

import json
import os
import shutil

import pytest

from tests.helpers.faults import (  # noqa: F401 - world and _one_backbone are fixtures
    CPU,
    _one_backbone,
    errors_of,
    train_quickly,
    world,
)
from vadpipe.cli.app import main

LATIN1_NAME = os.fsdecode("caf\xe9".encode("latin-1"))  # a file name whose bytes are not UTF-8


def test_a_video_named_txt_fails_alone_and_a_latin1_list_finds_its_video(world, tmp_path, capsys):
    binary = tmp_path / "holiday.txt"
    binary.write_bytes(world["clip"].read_bytes())  # a video given under a list's extension
    named = tmp_path / (LATIN1_NAME + ".mp4")
    shutil.copy(world["clip"], named)
    listed = tmp_path / "videos.txt"
    listed.write_bytes((LATIN1_NAME + ".mp4\n").encode("utf-8", "surrogateescape"))  # the list in latin-1
    code = main(["score", str(binary), str(listed), "--model", str(world["video_run"]), "--out", str(tmp_path / "o"),
                 "--json", *CPU])
    captured = capsys.readouterr()
    (line,) = errors_of(captured.err)
    assert code == 1 and f"{binary}: holds binary data, not a list of videos" in line
    assert [v["video"] for v in json.loads(captured.out)["videos"]] == [str(named)]


def test_a_latin1_labels_csv_labels_its_videos(world, tmp_path, capsys):
    store = tmp_path / "train"
    shutil.copytree(world["train"], store)
    labels = tmp_path / "labels.csv"
    # every video named, each label flipped (the names in Latin-1 bytes, as a Windows tool writes them)
    rows = [f"{p.stem},{'normal' if p.stem.startswith('abnormal') else 'abnormal'}" for p in store.glob("*.npy")]
    labels.write_bytes(("video,label,note\n" + "\n".join(r + ",d\xe9j\xe0 vu" for r in rows) + "\n").encode("latin-1"))
    assert train_quickly(store, tmp_path / "run", "--labels", labels, "--json") == 0
    assert errors_of(capsys.readouterr().err) == []


def test_a_latin1_feature_list_finds_its_files(world, tmp_path, capsys):
    files = sorted(world["test"].glob("*.npy"))
    for f in files:
        shutil.copy(f, tmp_path / (f.stem + LATIN1_NAME + ".npy"))
    listed = tmp_path / "test.list"
    listed.write_bytes(b"".join((f.stem + LATIN1_NAME + ".npy\n").encode("utf-8", "surrogateescape") for f in files))
    gt = tmp_path / "gt.txt"
    gt.write_bytes(world["gt"].read_text().replace(".mp4", LATIN1_NAME + ".mp4").encode("utf-8", "surrogateescape"))
    assert main(["evaluate", str(listed), "--model", str(world["run"]), "--gt", str(gt), "--json", *CPU]) == 0
    assert json.loads(capsys.readouterr().out)["videos"] == 4


@pytest.mark.parametrize("what", ["labels", "feature list", "ground truth"])
def test_a_binary_file_in_place_of_a_text_file_is_one_line(world, tmp_path, capsys, what):
    binary = tmp_path / {"labels": "labels.csv", "feature list": "test.list", "ground truth": "gt.txt"}[what]
    binary.write_bytes(bytes(range(256)) * 8)
    if what == "labels":
        code = train_quickly(world["train"], tmp_path / "run", "--labels", binary)
    else:
        features, gt = (binary, world["gt"]) if what == "feature list" else (world["test"], binary)
        code = main(["evaluate", str(features), "--model", str(world["run"]), "--gt", str(gt), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{binary}: holds binary data" in line


def test_a_csv_field_of_200000_characters_is_one_line(world, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\n" + "x" * 200_000 + ",1\n")
    assert train_quickly(world["train"], tmp_path / "run", "--labels", labels) == 1
    (line,) = errors_of(capsys.readouterr().err)
    assert f"{labels}:2: not a `video,label` CSV row" in line
