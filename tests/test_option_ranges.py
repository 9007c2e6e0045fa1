"""Every numeric and path option of every command, found in the Typer app itself and walked through bad
values in-process: one line, the documented exit code, never a traceback, nothing written."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vadpipe.cli.app import app
from vadpipe.ranges import Range

ROOT = typer.main.get_command(app)
RUNNER = CliRunner()


def _commands(group=ROOT, prefix=()):
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*prefix, name))
        else:
            yield (*prefix, name), sub


def _base(param) -> type:
    """int / float / Path / str / bool: the type of one value of the parameter (list[Path] -> Path)."""
    annotation = param.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def _parser(param):
    return param.type_descriptor.parameter_info.parser


def _params(kind):
    for path, command in _commands():
        for param in command.params:
            if _base(param) in kind:
                yield pytest.param(path, param, id=f"{' '.join(path)} {param.opts[0]}")


NUMERIC = list(_params((int, float)))
PATHS = list(_params((Path,)))


def _run(args: list[str]) -> tuple[int, str]:
    result = RUNNER.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    return result.exit_code, result.stderr


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _required(command, tmp_path: Path, empty=None) -> list[str]:
    """The command's required parameters, each naming something that is not there (``empty``: that
    parameter given as the empty string instead)."""
    args = []
    for param in command.params:
        if param is empty:
            value = ""
        elif param.required:
            value = str(tmp_path / "not-there") if _base(param) is Path else "not-there"
        else:
            continue
        args += [param.opts[0], value] if param.param_type_name == "option" else [value]
    return args


def _name(param) -> str:
    return param.opts[0] if param.param_type_name == "option" else param.metavar


def test_the_walk_finds_the_options_of_every_command():
    found = {(" ".join(p.values[0]), p.values[1].opts[0]) for p in NUMERIC}
    assert {("train", "--lr"), ("train", "--heads"), ("score", "--smooth"), ("watch", "--hold"),
            ("evaluate", "--window"), ("extract", "--fps"), ("demo", "--epochs")} <= found
    assert {" ".join(p.values[0]) for p in PATHS} >= {"extract", "train", "evaluate", "score", "watch", "report",
                                                      "demo", "weights import"}


@pytest.mark.parametrize(("path", "param"), NUMERIC)
def test_every_numeric_option_declares_its_range_and_shows_it(path, param):
    rng = getattr(_parser(param), "range", None)
    assert isinstance(rng, Range), "a numeric option without a declared range lets NaN, inf or -1 through"
    assert rng.kind is _base(param) and param.metavar == rng.text()


@pytest.mark.parametrize(("path", "param"), PATHS)
def test_every_path_parameter_refuses_the_empty_string(path, param, tmp_path):
    code, err = _run([*path, *_required(dict(_commands())[path], tmp_path, empty=param)])
    assert code == 2 and _one_line(err).startswith(f"vadpipe: error: {_name(param)} '': an empty path")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("path", sorted({p.values[0] for p in PATHS} - {("demo",)}))
def test_a_path_that_is_not_there_is_one_line_and_exit_1_or_2(path, tmp_path):
    code, err = _run([*path, *_required(dict(_commands())[path], tmp_path)])
    assert code in (1, 2) and _one_line(err).startswith("vadpipe: error:") and "not-there" in err


ALWAYS_BAD = ["-1", "-0.5", "nan", "inf", "-inf", "1e400", "", "abc", "1,5"]


@pytest.mark.parametrize(("path", "param"), NUMERIC)
def test_bad_numbers_are_one_line_usage_errors_before_any_work(path, param, tmp_path):
    base = [*path, *_required(dict(_commands())[path], tmp_path)]
    flag = param.opts[0]
    for value in ALWAYS_BAD:
        code, err = _run([*base, flag, value])
        assert code == 2, (flag, value, err)
        line = _one_line(err)
        assert line.startswith(f"vadpipe: error: {flag} "), line
        assert param.metavar in line or "choose one of" in line, line
    if param.type_descriptor.annotation is int or _base(param) is int:
        code, err = _run([*base, flag, "1.5"])
        assert code == 2 and "is not a whole number" in _one_line(err)
    assert not any(tmp_path.iterdir()), "a refused command wrote something"


@pytest.mark.parametrize(("path", "param"), NUMERIC)
def test_zero_and_huge_numbers_are_refused_or_reach_the_missing_input(path, param, tmp_path):
    rng = _parser(param).range
    base = [*path, *_required(dict(_commands())[path], tmp_path)]
    for value in ["0", "1e300", "99999999999999999999"]:
        try:
            rng.parse(value)
        except ValueError:
            code, err = _run([*base, param.opts[0], value])
            assert code == 2 and _one_line(err).startswith(f"vadpipe: error: {param.opts[0]} {value}"), err
            continue
        if path == ("demo",):
            continue  # a valid value would run the whole demo
        code, err = _run([*base, param.opts[0], value])
        assert code in (1, 2) and _one_line(err).startswith("vadpipe: error:"), (value, err)


# The cases of issue 11, each reproduced before the ranges: a traceback, a wrong culprit, or a silent run.
TRAIN_CASES = [
    (["--lr", "-1"], "--lr -1 must be 0<FLOAT<=10"),
    (["--weight-decay", "-1"], "--weight-decay -1 must be 0<=FLOAT<=10"),
    (["--heads", "3"], "--heads 3 must divide the attention width --hidden-dim 512"),
    (["--heads", "0"], "--heads 0 must be 1<=INT<="),
    (["--dropout", "2"], "--dropout 2 must be 0<=FLOAT<1"),
    (["--sigma", "-5"], "--sigma -5 must be 0<FLOAT<="),
    (["--sigma", "0"], "--sigma 0 must be 0<FLOAT<="),
    (["--workers", "-1"], "--workers -1 must be 0<=INT<=256"),
    (["--hidden-dim", "0"], "--hidden-dim 0 must be 1<=INT<="),
    (["--lambda-dr", "-1"], "--lambda-dr -1 must be 0<=FLOAT<=1000"),
    (["--window", "4", "--lookahead", "-2"], "--lookahead -2 must be 0<=INT<="),
    (["--lookahead", "2"], "--lookahead needs a --window"),
]


@pytest.fixture
def store(tiny_run):
    return tiny_run.features  # the shared tiny store (tests/helpers/pipeline.py): train gets past reading it


@pytest.mark.parametrize(("extra", "message"), TRAIN_CASES, ids=[" ".join(c[0]) for c in TRAIN_CASES])
def test_train_refuses_a_bad_setting_in_one_line_and_leaves_no_run_folder(store, tmp_path, extra, message):
    run = tmp_path / "run"
    code, err = _run(["train", str(store), "--out", str(run), "--epochs", "1", "--batch-size", "4",
                      "--seq-len", "8", "--device", "cpu", "--quiet", *extra])
    assert code == 2 and message in _one_line(err)
    assert not run.exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--smooth", "-1"], "--smooth -1 must be 0<=INT<="),
    (["--min-duration", "-1"], "--min-duration -1 must be FLOAT>=0"),
    (["--merge-gap", "-3"], "--merge-gap -3 must be FLOAT>=0"),
    (["--threshold", "1.5"], "--threshold 1.5 must be 0<=FLOAT<=1"),
])
def test_score_refuses_bad_interval_settings_before_reading_the_run(tmp_path, extra, message):
    code, err = _run(["score", str(tmp_path / "v.mp4"), "--model", str(tmp_path / "no-run"), *extra])
    assert code == 2 and message in _one_line(err)


@pytest.mark.parametrize(("extra", "message"), [
    (["--threshold", "0.5", "--release", "0.6"], "--release 0.6 must not exceed --threshold 0.5"),
    (["--every-snippet"], "--every-snippet goes with --json"),
    (["--hold", "-1"], "--hold -1 must be 0<=FLOAT<="),
    (["--timeout", "0"], "--timeout 0 must be 0<FLOAT<="),
    (["--queue", "0"], "--queue 0 must be 1<=INT<="),
])
def test_watch_checks_its_options_and_their_constraints_before_loading_the_run(tmp_path, extra, message):
    code, err = _run(["watch", str(tmp_path / "v.mp4"), "--model", str(tmp_path / "no-run"), *extra])
    assert code == 2 and message in _one_line(err)


def test_help_shows_each_range():
    out = RUNNER.invoke(app, ["train", "--help"]).stdout
    for text in ("0<FLOAT<=10", "0<=FLOAT<1", "1<=INT<=1024", "0<=FLOAT<=1000"):
        assert text in out
    assert "1|5|10" in RUNNER.invoke(app, ["extract", "--help"]).stdout
    assert "FLOAT>=0" in RUNNER.invoke(app, ["score", "--help"]).stdout  # --min-duration, --merge-gap


def test_a_run_that_fails_before_writing_leaves_no_empty_run_folder(store, tmp_path, monkeypatch):
    import torch.utils.data

    from vadpipe.errors import InputError

    def no_loader(*args, **kwargs):
        raise InputError("the features could not be read")

    monkeypatch.setattr(torch.utils.data, "DataLoader", no_loader)
    run = tmp_path / "run"
    code, err = _run(["train", str(store), "--out", str(run), "--epochs", "1", "--batch-size", "4",
                      "--seq-len", "8", "--hidden-dim", "8", "--device", "cpu", "--quiet"])
    assert code == 1 and "the features could not be read" in err
    assert not run.exists()


def test_a_run_config_out_of_range_is_that_files_problem(tmp_path):
    import json

    from vadpipe.model.checkpoint import CONFIG_NAME, RunConfig
    from vadpipe.model.config import get_preset

    preset = get_preset("ucf")
    config = RunConfig(scorer=preset.scorer, loss=preset.loss, train=preset.train, features=None)
    data = json.loads(json.dumps(config.to_dict()))
    data["scorer"]["dropout"] = 2.0
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CONFIG_NAME).write_text(json.dumps(data))
    code, err = _run(["score", str(tmp_path / "v.mp4"), "--model", str(tmp_path / "run")])
    line = _one_line(err)
    assert code == 1 and CONFIG_NAME in line and "scorer.dropout: 2.0 must be 0<=FLOAT<1" in line
