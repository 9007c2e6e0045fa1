"""Output that people read and pipe: in a pipe or a log file nothing is cut or wrapped, and help fits 80 columns.

Under pytest stdout and stderr are not terminals, as in a pipe.
"""

import json
import re
import shutil

import numpy as np
import pytest

from tests.helpers.features import write_store, write_ucf_annotations
from vadpipe.cli import watch as watch_cli
from vadpipe.cli.app import main
from vadpipe.weights.registry import entries

LONG = "a_camera_name_long_enough_to_be_cut_" * 3  # 108 characters


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("output")
    write_store(root / "train", n_abnormal=4, n_normal=4, seed=3, t_range=(20, 40))
    events = write_store(root / "test", n_abnormal=2, n_normal=2, seed=4, t_range=(20, 40))
    write_ucf_annotations(root / "gt.txt", events)
    return root


def test_an_epoch_line_with_validation_is_one_line(stores, tmp_path, capsys):
    assert main(["train", str(stores / "train"), "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size",
                 "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--val", str(stores / "test"),
                 "--val-gt", str(stores / "gt.txt")]) == 0
    err = capsys.readouterr().err
    epochs = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and all(re.search(r"val ap \d\.\d{4} .* lr \S+ +\d+\.\ds$", line) for line in epochs), err
    done = err.strip().splitlines()[-1]  # what the run kept, by the preset's metric (AUC for ucf)
    assert re.fullmatch(rf"done: {tmp_path / 'run'} written \(config.json, model.safetensors\): kept epoch [12] of "
                        r"2 \(val auc \d\.\d{4}\); threshold \d\.\d{4} \(max frame F1 \(\d\.\d{3}\) on validation, "
                        r"epoch [12]\)", done), done


def test_train_without_validation_says_it_kept_the_last_epoch_and_no_threshold(stores, tmp_path, capsys):
    assert main(["train", str(stores / "train"), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size",
                 "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu"]) == 0
    done = capsys.readouterr().err.strip().splitlines()[-1]
    assert done == (f"done: {tmp_path / 'run'} written (config.json, model.safetensors): kept the last epoch, 1 (no "
                    "--val to choose one by); no threshold chosen (--val picks one; score and watch use 0.5 or "
                    "--threshold)")


def test_the_score_table_keeps_a_long_name_whole_on_its_row(stores, tmp_path, capsys):
    assert main(["train", str(stores / "train"), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size",
                 "4", "--seq-len", "16", "--hidden-dim", "16", "--device", "cpu", "--quiet"]) == 0
    np.save(tmp_path / f"{LONG}.npy", np.load(stores / "test" / "abnormal_000.npy"))
    assert main(["score", "--features", str(tmp_path / f"{LONG}.npy"), "--model", str(tmp_path / "run"), "--out",
                 str(tmp_path / "scores")]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if f"{LONG}.npy" in line], out
    assert "…" not in out


def test_the_watch_summary_headers_and_streams_are_whole(capsys):
    stream = {"stream": f"rtsp://{LONG}", "status": "ended", "snippets_scored": 12, "snippets_per_s": 3.2,
              "real_time_factor": 1.4, "latency_ms_p50": 30.0, "latency_ms_p99": 80.0, "events": 1,
              "dropped_snippets": 0, "reconnects": 2, "lookahead_s": 0.64}
    watch_cli._print_summary({"stopped": "ended", "seconds": 4.0, "streams": [stream]})
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "stream" in line and "status" in line)
    for name in ("snippets", "snippets/s", "real-time factor", "latency p50/p99 ms", "dropped", "reconnects"):
        assert name in header, header
    assert f"rtsp://{LONG}" in out and "…" not in out


def test_weights_list_shows_every_url(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for entry in entries().values():
        assert (entry.url or "vadpipe weights import") in out, entry.name
    assert "…" not in out


@pytest.mark.parametrize("command", ["extract", "score", "train", "watch"])
def test_help_at_80_columns_cuts_no_option_and_keeps_the_help_readable(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert shutil.get_terminal_size().columns == 80
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and max(map(len, out.splitlines())) <= 80
    assert len(out.splitlines()) < 120, len(out.splitlines())  # extract's was 211 lines in an 18-column help
    if command == "extract":
        assert "--channels-last / --no-channels-last" in out


@pytest.mark.parametrize("command, recorded", [("extract", "Recorded in the index."),
                                               ("score", "Recorded in each <stem>.json and in --json."),
                                               ("watch", "Recorded in each event's JSON and in the summary.")])
def test_engine_help_says_where_each_command_records_the_engine(command, recorded, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert recorded in text
    if command != "extract":
        assert "in the index" not in text


def test_a_store_of_one_class_is_refused_before_anything_about_the_training_is_said(tmp_path, capsys):
    write_store(tmp_path / "normals", n_abnormal=0, n_normal=3, t_range=(20, 30))
    assert main(["train", str(tmp_path / "normals"), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "training needs both abnormal (label 1) and normal (label 0) videos" in lines[0], lines
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("given", [None, "100"])
def test_bags_of_a_store_of_short_videos_are_not_padded_to_the_presets_length(stores, tmp_path, capsys, given):
    longest = max(np.load(p, mmap_mode="r").shape[0] for p in (stores / "train").glob("*.npy"))
    args = ["train", str(stores / "train"), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16",
            "--hidden-dim", "16", "--device", "cpu"]
    assert main(args + (["--seq-len", given] if given else [])) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    if given is None:  # every video is shorter than the ucf preset's 200 snippets: bags as long as the longest
        assert config["train"]["seq_len"] == longest
        assert notes == [f"note: every training video is at most {longest} snippets, fewer than the preset's "
                         f"--seq-len 200: bags are {longest} snippets long, whole and unpadded (padded to 200, each "
                         f"would cost about {200 / longest:.0f}x the work for the same bags); --seq-len sets another "
                         "length"]
    else:
        assert config["train"]["seq_len"] == 100
        assert notes == [f"note: --seq-len 100 is more than the longest training video ({longest} snippets): every "
                         f"bag is zero-padded to 100, about {100 / longest:.0f}x the work of --seq-len {longest} for "
                         "the same bags"]
