"""`--help` shows what the code wrote: help texts as written (no Rich markup eaten) and plain metavars."""

import re

import pytest

from vadpipe.cli.app import main

COMMANDS = [[], ["extract"], ["train"], ["evaluate"], ["score"], ["watch"], ["report"], ["demo"], ["weights"],
            ["weights", "list"], ["weights", "download"], ["weights", "import"]]


def _help(argv: list[str], capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*argv, "--help"]) == 0
    text = re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out)  # the panels' frames
    return " ".join(text.split())  # help wrapped at any width reads as one line


@pytest.mark.parametrize("command", [["extract"], ["score"], ["watch"]])
def test_engine_help_keeps_the_extras_in_its_pip_commands(command, capsys, monkeypatch):
    text = _help(command, capsys, monkeypatch)
    assert "pip install 'vadpipe[onnx]'" in text and "pip install 'vadpipe[openvino]'" in text
    assert "'vadpipe')" not in text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "vadpipe")
def test_help_shows_plain_metavars_and_no_type_for_a_flag(command, capsys, monkeypatch):
    text = _help(command, capsys, monkeypatch)
    assert not re.search(r"<(bool|str|int|float|Path|list\[[^\]]*\])>", text), text
    assert re.search(r"--help -h Show this message", text)  # a flag: nothing between its names and its help


def test_help_metavars_name_the_kind_of_value(capsys, monkeypatch):
    text = _help(["score"], capsys, monkeypatch)
    assert "INPUTS PATH... Videos, folders of videos" in text
    assert "--model -m PATH Run folder" in text and "--threshold 0<=FLOAT<=1 Decision threshold" in text
    assert "--device TEXT auto (GPU" in text and "--overlay Also write <stem>.overlay.mp4" in text
