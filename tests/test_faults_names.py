"""Fault injection, issue 20: file names that are not UTF-8, hold `$...$` or Rich markup (`[/x]`, `[bold red]`)
are drawn and printed as they are, never parsed.

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
    world,
)
from vadpipe.cli.app import main

LATIN1_NAME = os.fsdecode("caf\xe9".encode("latin-1"))  # a file name whose bytes are not UTF-8


@pytest.mark.parametrize("name", [LATIN1_NAME, "a$\\foo$b", "[bold red]z"], ids=["latin1", "mathtext", "markup"])
def test_a_name_is_drawn_and_printed_as_it_is(world, tmp_path, capsys, name):
    npy = tmp_path / f"{name}.npy"
    shutil.copy(world["test"] / "abnormal_000.npy", npy)
    assert main(["score", "--features", str(npy), "--model", str(world["run"]), "--out", str(tmp_path / "o"),
                 *CPU]) == 0
    captured = capsys.readouterr()
    assert errors_of(captured.err) == []
    assert (tmp_path / "o" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    if name.startswith("["):
        assert "[bold red]z.npy" in captured.out  # the table shows the name, not red text


@pytest.mark.parametrize("name", [LATIN1_NAME, "a$\\foo$b"], ids=["latin1", "mathtext"])
def test_evaluate_plots_draw_any_video_name(world, tmp_path, capsys, name):
    store = tmp_path / "test"
    shutil.copytree(world["test"], store)
    (store / "abnormal_000.npy").rename(store / f"{name}.npy")
    index = [json.loads(line) for line in (store / "index.jsonl").read_text().splitlines()]
    index[0].update(id=name, video=f"{name}.mp4", features=f"{name}.npy")
    (store / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index))
    gt = tmp_path / "gt.txt"
    gt.write_bytes(world["gt"].read_text().replace("abnormal_000", name).encode("utf-8", "surrogateescape"))
    assert main(["evaluate", str(store), "--model", str(world["run"]), "--gt", str(gt), "--plots",
                 str(tmp_path / "plots"), *CPU]) == 0
    assert errors_of(capsys.readouterr().err) == []
    assert (tmp_path / "plots" / "evaluate.html").is_file()


def test_brackets_in_output_folders_print_as_written(world, tmp_path, capsys):
    out = tmp_path / "o [/x]" / "[bold]"
    assert main(["score", "--features", str(world["test"] / "abnormal_000.npy"), "--model", str(world["run"]),
                 "--out", str(out), *CPU]) == 0
    assert f"outputs in {out}" in " ".join(capsys.readouterr().out.split("\n"))
    run = tmp_path / "r [/x]"
    assert main(["train", str(world["train"]), "--out", str(run), "--epochs", "1", "--batch-size", "4",
                 "--seq-len", "8", "--hidden-dim", "16", *CPU]) == 0
    err = " ".join(capsys.readouterr().err.split())  # the banner wraps at the console's width
    assert "Traceback" not in err and ("[/x]" in err or "MarkupError" not in err)  # printed as written, never eaten


def test_watch_prints_a_source_and_out_with_brackets(world, tmp_path, capsys):
    source = tmp_path / "cam [/x]" / "clip.mp4"
    source.parent.mkdir(parents=True)
    shutil.copy(world["clip"], source)
    out = tmp_path / "live [/y]"
    code = main(["watch", str(source), "--model", str(world["video_run"]), "--out", str(out), "--pre", "0", "--post",
                 "0", *CPU])
    captured = capsys.readouterr()
    assert code == 0 and errors_of(captured.err) == [] and "clip" in captured.out
