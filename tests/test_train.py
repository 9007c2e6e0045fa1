"""Training on a synthetic weakly-labelled task, resume after a kill, and the run folder."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.helpers.features import write_store, write_ucf_annotations
from vadpipe.cli.app import main
from vadpipe.eval.evaluate import evaluate
from vadpipe.eval.groundtruth import load_ground_truth
from vadpipe.features.formats import load_feature_set
from vadpipe.model.checkpoint import RunConfig, load_run
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig
from vadpipe.observers import Collector, Observer
from vadpipe.train.data import BagSet, epoch_batches, uniform_sample_indices
from vadpipe.train.loop import train
from vadpipe.train.run import TrainRequest, train_run

SMALL = dict(feature_dim=32, heads=4, hidden_dim=16, mlp_dims=(32, 16), sigma=4.0, conv_kernel=3)


# Not the shared tiny_run: the AUC floors below need a task a small scorer learns from few epochs (48 training
# bags with a planted event direction, 16 held out), which four random-init clips are not.
@pytest.fixture(scope="module")
def task(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    write_store(root / "train", n_abnormal=24, n_normal=24, seed=1)
    events = write_store(root / "test", n_abnormal=8, n_normal=8, seed=2)
    write_ucf_annotations(root / "test_gt.txt", events)
    return root


def _config(epochs=12, **switches) -> RunConfig:
    scorer = ScorerConfig(**SMALL, use_prior=switches.get("use_prior", True))
    loss = LossConfig(use_dr=switches.get("use_dr", True), use_da=switches.get("use_da", True))
    return RunConfig(scorer=scorer, loss=loss, train=TrainConfig(epochs=epochs, batch_size=16, lr=2e-3, seq_len=64),
                     features=None)


def _held_out_auc(run_dir, task) -> float:
    model, _ = load_run(run_dir)
    videos, _ = load_feature_set(task / "test")
    return evaluate(model, videos, load_ground_truth(task / "test_gt.txt")).metrics["auc"]


def test_uniform_sampling_takes_one_snippet_per_segment():
    idx = uniform_sample_indices(10, 5, None)
    assert idx.tolist() == [0, 2, 4, 6, 8]
    rng_idx = uniform_sample_indices(1000, 200, np.random.default_rng(0))
    assert (np.diff(rng_idx) > 0).all() and (rng_idx // 5 == np.arange(200)).all()
    assert uniform_sample_indices(7, 200, None).tolist() == list(range(7))


def test_balanced_batches_hold_both_classes_and_cover_the_larger_one():
    labels = np.array([1] * 5 + [0] * 11)
    batches = epoch_batches(labels, 4, seed=0, balanced=True)
    assert len(batches) == 6  # ceil(11 / 2)
    for batch in batches:
        assert sorted(labels[[i for i, _ in batch]].tolist()) == [0, 0, 1, 1]
    seen_normal = {i for b in batches for i, _ in b if labels[i] == 0}
    assert seen_normal == set(range(5, 16))
    assert batches == epoch_batches(labels, 4, seed=0, balanced=True)  # deterministic


def test_bag_set_zero_pads_short_bags_and_masks_them(task):
    videos, _ = load_feature_set(task / "train")
    bags = BagSet(videos, seq_len=200)
    assert len(bags) == 2 * len(videos)  # every crop is a bag
    feats, length, label = bags[(0, 7)]
    t = videos[0].validate()[0]
    assert feats.shape == (200, 32) and length == t and label == 1
    assert not feats[t:].any()
    np.testing.assert_array_equal(feats[:t], np.load(videos[0].files[0])[:, 0])


def test_training_reaches_high_frame_auc_on_held_out_bags(task, tmp_path):
    videos, _ = load_feature_set(task / "train")
    train(tmp_path / "run", _config(), BagSet(videos, 64))
    auc = _held_out_auc(tmp_path / "run", task)
    assert auc > 0.9, auc


@pytest.mark.parametrize("switch", ["use_prior", "use_dr", "use_da"])
def test_each_ablation_still_beats_chance_by_far(task, tmp_path, switch):
    videos, _ = load_feature_set(task / "train")
    train(tmp_path / "run", _config(**{switch: False}), BagSet(videos, 64))
    auc = _held_out_auc(tmp_path / "run", task)
    assert auc > 0.8, (switch, auc)


def test_resume_after_kill_reproduces_the_uninterrupted_run(task, tmp_path):
    videos, _ = load_feature_set(task / "train")
    bags = BagSet(videos, 64)
    train(tmp_path / "full", _config(epochs=3), bags)

    class KillAfterSecondEpoch(Observer):
        def event(self, kind, data):
            if kind == "epoch" and data["epoch"] == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", _config(epochs=3), bags, observer=KillAfterSecondEpoch())
    assert json.loads((tmp_path / "killed" / "config.json").read_text())["epochs_done"] == 2
    train(tmp_path / "killed", _config(epochs=3), bags, resume=True)
    full = load_file(tmp_path / "full" / "model.safetensors")
    resumed = load_file(tmp_path / "killed" / "model.safetensors")
    for key in full:
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0)
    lines = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3]


def test_cli_train_then_evaluate_with_validation(task, tmp_path, capsys, monkeypatch):
    from vadpipe.train import loop

    run, seen, real = tmp_path / "run", [], loop.plot_training
    monkeypatch.setattr(loop, "plot_training",  # training.png is redrawn as the run goes, and after the last epoch
                        lambda run, history, best: seen.append(len(history)) or real(run, history, best))
    code = main(["train", str(task / "train"), "--out", str(run), "--epochs", "8", "--batch-size", "16",
                 "--seq-len", "64", "--hidden-dim", "16", "--sigma", "4", "--conv-kernel", "3", "--lr", "2e-3",
                 "--val", str(task / "test"), "--val-gt", str(task / "test_gt.txt"), "--device", "cpu",
                 "--json", "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 8 and 1 <= summary["best_epoch"] <= 8
    config = json.loads((run / "config.json").read_text())
    assert config["scorer"]["feature_dim"] == 32 and config["features"]["crops"] == 2
    assert config["features"]["backbone"] == "synthetic"
    assert 0 < config["threshold"] < 1 and "validation" in config["threshold_source"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 8
    assert (run / "training.png").read_bytes()[:4] == b"\x89PNG" and seen[0] == 1 and seen[-1] == 8
    code = main(["evaluate", str(task / "test"), "--model", str(run), "--gt", str(task / "test_gt.txt"),
                 "--per-video", str(tmp_path / "pv.csv"), "--plots", str(tmp_path / "plots"), "--json",
                 "--device", "cpu"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["auc"] == pytest.approx(summary["best_metric"], abs=1e-6)
    assert result["videos"] == 16 and result["failed"] == 0
    assert len((tmp_path / "pv.csv").read_text().splitlines()) == 17
    assert result["plots"] == str(tmp_path / "plots" / "evaluate.html")
    for name in ("roc.png", "pr.png", "videos.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    assert f"{100 * result['auc']:.2f}%" in (tmp_path / "plots" / "evaluate.html").read_text()


def test_cli_train_refuses_to_overwrite_a_run(task, tmp_path, capsys):
    args = ["train", str(task / "train"), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16",
            "--seq-len", "32", "--hidden-dim", "16", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err


def test_train_run_from_python_writes_a_whole_run_folder_and_prints_nothing(task, tmp_path, capsys):
    request = TrainRequest(task / "train", tmp_path / "run", preset="ucf", device="cpu", settings=dict(
        epochs=3, batch_size=16, seq_len=32, hidden_dim=16, sigma=4.0, conv_kernel=3, lr=2e-3))
    observer = Collector()
    result = train_run(request, observer)
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "config.json", "last.ckpt", "metrics.jsonl", "model.safetensors", "training.png"]
    assert result.summary()["epochs"] == 3 and result.bags == 2 * 48 and result.problems == ()
    assert result.config.scorer.feature_dim == 32 and result.config.features.backbone == "synthetic"
    kinds = [kind for kind, _ in observer.events]
    assert kinds == ["training", "epoch", "epoch", "epoch"]
    training = observer.events[0][1]
    assert (training["videos"], training["abnormal"], training["normal"]) == (48, 48, 48)
    assert [data["metrics"]["epoch"] for _, data in observer.events[1:]] == [1, 2, 3]
    assert observer.warnings == ["features are 32-d; the ucf preset was tuned for 2048-d features"]


def test_train_request_refuses_validation_without_its_ground_truth(task, tmp_path):
    from vadpipe.errors import UsageError

    with pytest.raises(UsageError, match="val and val_gt go together"):
        TrainRequest(task / "train", tmp_path / "run", val=task / "test")
    with pytest.raises(UsageError, match="lamda_dr is not a setting"):
        TrainRequest(task / "train", tmp_path / "run", settings={"lamda_dr": 1.0})
