"""A reduced `vadpipe demo` runs end to end offline and writes its outputs."""

import dataclasses
import functools
import json

import pytest

from vadpipe.cli.app import main
from vadpipe.demo import run as demo_run
from vadpipe.demo.run import DemoSettings, run_demo
from vadpipe.observers import Collector

TINY = dict(train_normal=2, train_abnormal=2, test_normal=1, test_abnormal=1, frames=40, height=32, width=32,
            resize_short=32, crop_size=32, epochs=2, batch_size=4, seed=0)
RUN_FOLDER = ["config.json", "last.ckpt", "metrics.jsonl", "model.safetensors", "training.png"]


def test_tiny_demo_runs_every_stage_and_scores_raw_held_out_videos(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    observer = Collector()
    result = run_demo(tmp_path, DemoSettings(**TINY), observer=observer)
    assert capsys.readouterr() == ("", "")  # everything went to the observer
    assert [data["stage"] for kind, data in observer.events if kind == "stage"] == [1, 2, 3, 4]
    assert [data["epoch"] for kind, data in observer.events if kind == "epoch"] == [1, 2]
    assert any("RANDOM-INITIALISED" in note for note in observer.notes)
    assert result.random_init and result.frame_auc is not None
    assert set(result.seconds) == {"render", "extract", "train", "score"}
    report = json.loads(open(result.outputs["json"]).read())
    assert report["frames"] == 40 and report["model"]["features"]["crop_size"] == 32
    assert len(open(result.outputs["csv"]).read().splitlines()) == 1 + 40
    truth = report["ground_truth"]  # the demo's own events, drawn on its PNG as `score --gt` draws them
    assert truth["file"].endswith("test_annotations.txt") and len(truth["intervals"]) == 1


def test_demo_extracts_and_scores_with_the_forward_options_given(tmp_path, monkeypatch):
    from vadpipe.core.forward import ForwardOptions
    from vadpipe.features import extract_job

    class Scored(Exception):
        """Raised in place of scoring: what it was asked to do is all this test needs."""

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    seen = {}
    real_extract = extract_job.run_extract

    def extract(*args, **kwargs):
        seen["extract"] = kwargs["options"]
        return real_extract(*args, **kwargs)

    def score(inputs, run, options, **kwargs):
        seen["score"] = options.forward
        raise Scored

    monkeypatch.setattr(extract_job, "run_extract", extract)
    monkeypatch.setattr(demo_run, "score_inputs", score)
    forward = ForwardOptions(engine="torch", precision="fp32", batch_size=3)
    with pytest.raises(Scored):
        run_demo(tmp_path, DemoSettings(**TINY), forward=forward)
    assert seen == {"extract": dataclasses.replace(forward, device="cpu"),  # auto: the demo's device
                    "score": dataclasses.replace(forward, device="cpu")}


def test_demo_int8_calibrates_extract_and_score_on_the_training_videos(tmp_path):
    from vadpipe.core.forward import ForwardOptions

    train = tmp_path / "videos" / "train"
    int8 = demo_run.demo_forward(ForwardOptions(engine="openvino", precision="int8"), "cpu", train)
    assert int8 == ForwardOptions(device="cpu", engine="openvino", precision="int8", calibrate=(str(train),))
    given = ForwardOptions(device="cpu", precision="int8", calibrate=("elsewhere",))
    assert demo_run.demo_forward(given, "cuda", train) == given  # its own device and calibration kept
    assert demo_run.demo_forward(None, "cpu", train) == ForwardOptions(device="cpu")  # the demo's default


@pytest.mark.slow
def test_reduced_demo_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))  # no cached checkpoint
    # 24 short training clips (6 snippets each) at 32x32: about 15 s on 2 cores. The held-out
    # frame AUC is 0.96 with seed 0 (0.80 and 0.79 with seeds 1 and 2); chance is 0.5.
    settings = DemoSettings(train_normal=12, train_abnormal=12, test_normal=3, test_abnormal=3, frames=96,
                            height=48, width=64, resize_short=40, crop_size=32, epochs=60, seed=0)
    result = run_demo(tmp_path, settings)
    assert result.random_init  # no checkpoint is cached in the test environment
    assert result.frame_auc is not None and result.frame_auc >= 0.75, result.frame_auc
    report = json.loads(open(result.outputs["json"]).read())
    assert report["frames"] == 96 and report["model"]["features"]["random_init"] is True
    assert len(open(result.outputs["csv"]).read().splitlines()) == 1 + 96


@pytest.fixture
def tiny_cli_demo(tmp_path, monkeypatch):
    """`vadpipe demo` at TINY's sizes: the command's smallest (--videos 1 --epochs 1) still score ten 160-frame
    clips, about 100 s on 2 cores; its other sizes are DemoSettings' fields, shrunk here."""
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(demo_run, "DemoSettings", functools.partial(DemoSettings, **{
        k: v for k, v in TINY.items() if k not in ("train_normal", "train_abnormal", "epochs", "seed")}))


def test_demo_cli_leaves_a_whole_run_folder(tiny_cli_demo, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--videos", "2", "--epochs", "3", "--device", "cpu",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["random_init"] is True and set(result["seconds"]) == {"render", "extract", "train", "score"}
    run = tmp_path / "demo" / "run"
    assert result["run"] == str(run)  # where its model is, for `vadpipe score --model`
    assert sorted(p.name for p in run.iterdir()) == RUN_FOLDER  # as `vadpipe train` writes it
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert (run / "training.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((run / "config.json").read_text())["features"]["crop_size"] == 32


def test_demo_cli_prints_the_frame_auc_of_the_scores_it_writes(tiny_cli_demo, tmp_path, capsys):
    import csv
    import re

    import numpy as np
    from sklearn.metrics import roc_auc_score

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--videos", "1", "--epochs", "1", "--device", "cpu"]) == 0
    printed = re.search(r"held-out frame AUC: (\d+\.\d)%", capsys.readouterr().out)
    assert printed, "no AUC line"
    # The held-out events as the demo wrote them (UCF-Crime style, inclusive ends), and its scores, frame by frame.
    events = {}
    for line in (out / "videos" / "test_annotations.txt").read_text().splitlines():
        name, kind, start, end, *_ = line.split()
        events[name.removesuffix(".mp4")] = None if kind == "Normal" else (int(start), int(end) + 1)
    assert sorted(e is None for e in events.values()) == [False, True]  # one clip with an event, one without
    scores, truth = [], []
    for stem, event in events.items():
        folder = out / "scores" / ("normal" if event is None else "abnormal")
        saved = json.loads((folder / f"{stem}.json").read_text())
        with open(folder / f"{stem}.scores.csv") as f:
            curve = np.array([float(row["score"]) for row in csv.DictReader(f)])
        assert saved["frames"] == len(curve) == 40 and np.all((curve >= 0) & (curve <= 1))
        assert (folder / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        labels = np.zeros(len(curve), dtype=int)
        if event is not None:
            labels[event[0] : event[1]] = 1
        scores.append(curve)
        truth.append(labels)
    auc = 100 * roc_auc_score(np.concatenate(truth), np.concatenate(scores))
    assert abs(auc - float(printed.group(1))) <= 0.05 + 1e-6, (auc, printed.group(0))  # printed to 0.1 %


def test_demo_cli_help_lists_its_options(capsys):
    assert main(["demo", "--help"]) == 0
    assert "--out" in capsys.readouterr().out


def test_demo_videos_are_the_same_bytes_on_every_run(tmp_path):
    # With crf, x264 gave some of these 96x72 clips different bytes (and pixels) from run to run.
    import hashlib

    import numpy as np

    from vadpipe.demo.scenes import make_specs, render_scene, write_mp4

    specs = make_specs(20, 20, 160, np.random.default_rng(0), "train")
    for i in (0, 8, 13):
        frames = render_scene(specs[i], height=72, width=96, seed=i, camera_seed=0)
        digests = set()
        for k in range(6):
            write_mp4(tmp_path / f"{i}-{k}.mp4", frames)
            digests.add(hashlib.sha256((tmp_path / f"{i}-{k}.mp4").read_bytes()).hexdigest())
        assert len(digests) == 1, specs[i].name


def test_demo_says_where_its_run_is_and_score_takes_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(demo_run, "DemoSettings", functools.partial(DemoSettings, **{
        k: v for k, v in TINY.items() if k not in ("train_normal", "train_abnormal", "epochs", "seed")}))
    assert main(["demo", "--out", str(tmp_path / "demo"), "--videos", "2", "--epochs", "2", "--device", "cpu"]) == 0
    run = tmp_path / "demo" / "run"
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("run folder: ")]
    assert said == [f"run folder: {run} (score a video with it: vadpipe score VIDEO --model {run})"]
    video = next((tmp_path / "demo" / "videos" / "test").rglob("*.mp4"))
    assert main(["score", str(video), "--model", str(run), "--out", str(tmp_path / "s"), "--device", "cpu"]) == 0
    assert main(["score", str(video), "--model", str(tmp_path / "demo"), "--out", str(tmp_path / "s")]) == 1
    assert f"{tmp_path / 'demo'}: not a run folder, but {run} is one" in capsys.readouterr().err
