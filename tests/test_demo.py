"""A reduced `vadpipe demo` runs end to end offline and writes its outputs."""

import json

from vadpipe.cli.app import main
from vadpipe.demo.run import DemoSettings, run_demo


def test_reduced_demo_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))  # no cached checkpoint
    settings = DemoSettings(train_normal=3, train_abnormal=3, test_normal=1, test_abnormal=1, frames=48,
                            height=40, width=48, resize_short=36, crop_size=32, epochs=2, batch_size=4)
    result = run_demo(tmp_path, settings, log=lambda _: None)
    assert result.random_init  # no checkpoint is cached in the test environment
    assert result.frame_auc is not None and 0 <= result.frame_auc <= 1
    report = json.loads(open(result.outputs["json"]).read())
    assert report["frames"] == 48 and report["model"]["features"]["random_init"] is True
    assert len(open(result.outputs["csv"]).read().splitlines()) == 1 + 48


def test_demo_cli_help_lists_its_options(capsys):
    assert main(["demo", "--help"]) == 0
    assert "--out" in capsys.readouterr().out
