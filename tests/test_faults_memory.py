"""Fault injection, issue 20: memory bounded in bytes. A huge feature file, a huge batch, weights that do not fit
their config and a long pre-roll of large frames are refused or bounded before anything is allocated; a
feature set of mixed widths trains on its common width.

Bounded: tiny files, untrained runs saved without training, one backbone built per process.
"""

import shutil

import numpy as np
import pytest
import torch

from tests.helpers.faults import (  # noqa: F401 - world and _one_backbone are fixtures
    CPU,
    _one_backbone,
    edit_json,
    errors_of,
    sparse_npy,
    train_quickly,
    world,
)
from vadpipe.cli.app import main


def test_a_sparse_32_gib_feature_file_is_refused_before_it_is_read(world, tmp_path, capsys, monkeypatch):
    import vadpipe.devices

    monkeypatch.setattr(vadpipe.devices, "available_memory", lambda: 8 * 2**30)
    npy = sparse_npy(tmp_path / "huge.npy", (2**27, 2, 32))  # 32 GiB of float32
    code = main(["score", "--features", str(npy), "--model", str(world["run"]), "--out", str(tmp_path / "o"), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and f"{npy}: scoring its features of shape (134217728, 2, 32) needs about" in line
    assert "more than the 8.0 GiB available" in line


@pytest.mark.parametrize("command", ["extract", "score"])
def test_a_batch_of_65536_snippets_is_refused_before_the_backbone(world, tmp_path, capsys, monkeypatch, command):
    import vadpipe.backbones.registry as registry

    monkeypatch.setattr(registry, "build_backbone", lambda *a, **k: pytest.fail("the backbone was built"))
    if command == "extract":
        args = ["extract", str(world["clip"]), "--out", str(tmp_path / "f"), "--backbone", "inception_i3d",
                "--random-init", "--crops", "1", "--resize-short", "36", "--crop-size", "32"]
    else:
        args = ["score", str(world["clip"]), "--model", str(world["video_run"]), "--out", str(tmp_path / "o")]
    assert main([*args, "--batch-size", "65536", *CPU]) == 2
    (line,) = errors_of(capsys.readouterr().err)
    assert "--batch-size 65536: 65536 snippets of 1 crop(s) at 32 px" in line and "give at most" in line


def test_train_on_mixed_widths_leaves_out_the_odd_files_and_trains(world, tmp_path, capsys):
    store = tmp_path / "train"
    shutil.copytree(world["train"], store)
    odd = store / "normal_005.npy"
    np.save(odd, np.zeros(np.load(odd).shape[:2] + (16,), np.float32))
    assert train_quickly(store, tmp_path / "run") == 1
    line, summary = errors_of(capsys.readouterr().err)
    assert f"{odd}: features are 16-d but the other files of the set are 32-d" in line and "1 input(s)" in summary
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_weights_that_do_not_fit_the_config_are_refused_before_the_model_is_built(world, tmp_path, capsys,
                                                                                   monkeypatch):
    import vadpipe.model.checkpoint as checkpoint

    built = []
    real = checkpoint.AnomalyScorer

    def scorer(cfg):
        built.append(torch.get_default_device().type)
        return real(cfg)

    monkeypatch.setattr(checkpoint, "AnomalyScorer", scorer)
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    # in range, and 16 GiB of parameters: only the weights file's header is read to refuse it
    edit_json(run / "config.json", lambda c: c["scorer"].update(feature_dim=65536, hidden_dim=65536,
                                                                mlp_dims=[65536, 65536]))
    code = main(["score", "--features", str(world["test"] / "normal_002.npy"), "--model", str(run),
                 "--out", str(tmp_path / "o"), *CPU])
    (line,) = errors_of(capsys.readouterr().err)
    assert code == 1 and "model.safetensors: tensor " in line and "config.json's scorer needs" in line
    assert built == ["meta"]


def test_decoded_batches_hold_fewer_snippets_as_frames_grow():
    from vadpipe.video.snippets import iter_snippet_batches

    small = [np.zeros((24, 32, 3), np.uint8)] * 64  # 36 KiB a snippet: batches of 4
    large = [np.zeros((300, 400, 3), np.uint8)] * 64  # 5.5 MiB a snippet
    budget = 12 * 2**20
    assert [len(b) for b in iter_snippet_batches(small, batch_size=4, max_bytes=budget)] == [4]
    assert [len(b) for b in iter_snippet_batches(large, batch_size=4, max_bytes=budget)] == [2, 2]
    assert [len(b) for b in iter_snippet_batches(large, batch_size=4, max_bytes=1)] == [1, 1, 1, 1]


def test_extraction_gives_the_same_features_when_memory_is_tight(world, monkeypatch):
    import vadpipe.backbones.preprocess as preprocess
    import vadpipe.features.extract as extract
    from tests.helpers.faults import SIZE
    from vadpipe.backbones.registry import build_backbone
    from vadpipe.core.feature_spec import FeatureSpec
    from vadpipe.session.backbone import BackboneSession

    net = build_backbone("inception_i3d", random_init=True, seed=0)
    session = BackboneSession.from_module(net, FeatureSpec.resolve("inception_i3d", crops=1, random_init=True,
                                                                   **SIZE))
    roomy, _ = extract.extract_video(world["clip"], session)
    seen = []
    real = preprocess._resize
    monkeypatch.setattr(preprocess, "_resize", lambda x, *a: seen.append(len(x)) or real(x, *a))
    monkeypatch.setattr(extract, "DECODE_BATCH_BYTES", 1)  # one snippet per decoded batch
    monkeypatch.setattr(preprocess, "RESIZE_BYTES", 3 * 40 * 48 * 4 * 5)  # five frames resized at a time
    tight, _ = extract.extract_video(world["clip"], session)
    assert max(seen) == 5 and len(seen) == 8  # 2 snippets of 16 frames, each in 5 + 5 + 5 + 1
    np.testing.assert_array_equal(tight, roomy)


def test_the_default_batch_fits_the_forward_budget():
    from vadpipe.core.feature_spec import FeatureSpec
    from vadpipe.features.extract import FORWARD_BATCH_BYTES, clip_bytes, default_batch_size

    spec = FeatureSpec.resolve("inception_i3d", crops=10, resize_short=1024, crop_size=1024)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert default_batch_size(10, cuda, spec) * clip_bytes(spec) <= FORWARD_BATCH_BYTES
    assert default_batch_size(10, cuda, spec) == 2 and default_batch_size(1, cpu) == 4  # 224 px: as before


def test_the_pre_roll_ring_is_bounded_in_bytes(tmp_path, monkeypatch):
    import vadpipe.live.recording as recording

    monkeypatch.setattr(recording, "RING_BYTES", 10 * 16 * 1080 * 1920 * 3)  # ten 1080p snippets
    recorder = recording.EventRecorder(tmp_path, pre_s=600, post_s=1, spare=3, write_files=lambda *a: None)
    frames = np.zeros((16, 1080, 1920, 3), np.uint8)
    recorder.receive([recording.Received(i, frames, 16, i * 0.64, 25.0) for i in range(40)])
    assert recorder.ring.maxlen == 10 and len(recorder.ring) == 10  # --pre 600 asked for 938
