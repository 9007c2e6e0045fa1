"""Backbones: public key layouts, strict loading through the real path, refusals, missing-weights message."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.helpers.checkpoints import WRITERS, source_features
from vadpipe.backbones.registry import build_backbone
from vadpipe.core.backbone_facts import BACKBONES, get_spec
from vadpipe.errors import UsageError, VadpipeError


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Backbone name -> (checkpoint path in the public layout, source model), written once."""
    out = {}
    for name, (file_name, write) in WRITERS.items():
        path = tmp_path_factory.mktemp(name) / file_name
        out[name] = (path, write(path))
    return out


@pytest.fixture(scope="module")
def inception_file(checkpoints):
    return checkpoints["inception_i3d"][0]


@pytest.fixture(autouse=True)
def _empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))


def test_get_spec_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="i3d_r50, resnet3d, inception_i3d"):
        get_spec("c3d")
    assert get_spec("resnet3d").feature_dim == 2048 and get_spec("inception_i3d").feature_dim == 1024


@pytest.mark.parametrize("name", list(WRITERS))
def test_reload_consumes_every_key_and_reproduces_the_source_features(checkpoints, name):
    path, source = checkpoints[name]
    model = build_backbone(name, weights=path)
    assert model.random_init is False and model.spec is BACKBONES[name]
    x = torch.randn(2, 3, 16, 32, 32)
    with torch.inference_mode():
        got = model(x)
    want = source_features(name, source, x)
    assert got.shape == (2, BACKBONES[name].feature_dim)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # every tensor of the file landed in the model (the classifier too, although unused)
    file_state = torch.load(path, weights_only=True)
    file_state = file_state.get("model_state", file_state)
    model_state = model.state_dict()
    for key, value in file_state.items():
        torch.testing.assert_close(model_state[key], value, rtol=0, atol=0)
    missing = [k for k in model_state if k not in file_state and not k.endswith("num_batches_tracked")]
    assert missing == []


@pytest.mark.parametrize("name", list(WRITERS))
def test_features_for_non_square_inputs(name):
    model = build_backbone(name, allow_random=True)
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 16, 40, 56))
    assert out.shape == (1, BACKBONES[name].feature_dim) and torch.isfinite(out).all()


def test_i3d_r50_matches_pytorchvideo_hub_layout_exactly(checkpoints):
    _, source = checkpoints["i3d_r50"]
    ours = build_backbone("i3d_r50", allow_random=True).state_dict()
    hub = source.state_dict()
    assert list(ours) == list(hub)
    assert all(ours[k].shape == hub[k].shape for k in hub)
    assert hub["blocks.0.conv.weight"].shape == (64, 3, 5, 7, 7) and hub["blocks.6.proj.weight"].shape == (400, 2048)


def test_resnet3d_layout_inflates_the_nonlocal_blocks():
    state = build_backbone("resnet3d", allow_random=True).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["conv1.weight"] == (64, 3, 5, 7, 7)
    assert shapes["layer1.0.downsample.0.weight"] == (256, 64, 1, 1, 1)
    assert shapes["layer1.2.conv1.weight"] == (64, 256, 3, 1, 1)  # layer1: all temporal
    assert [shapes[f"layer2.{i}.conv1.weight"][2] for i in range(4)] == [3, 1, 3, 1]
    assert [shapes[f"layer3.{i}.conv1.weight"][2] for i in range(6)] == [3, 1, 3, 1, 3, 1]
    assert [shapes[f"layer4.{i}.conv1.weight"][2] for i in range(3)] == [1, 3, 1]
    assert shapes["layer4.2.conv3.weight"] == (2048, 512, 1, 1, 1) and shapes["fc.weight"] == (400, 2048)
    assert not any(k.startswith("layer1.1.downsample") for k in shapes)


def test_inception_layout_matches_piergiaj_names():
    model = build_backbone("inception_i3d", allow_random=True)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["Mixed_3b.b0.conv3d.weight"] == (64, 192, 1, 1, 1)
    assert shapes["Mixed_5c.b3b.bn.running_var"] == (128,)
    assert shapes["logits.conv3d.weight"] == (400, 1024, 1, 1, 1) and shapes["logits.conv3d.bias"] == (400,)
    bn = model.Conv3d_2c_3x3.bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)
    assert not any(".b3a." in k for k in shapes)  # max-pools hold no tensors


def _resave(state: dict, path):
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s: s.update({"Mixed_9z.b0.conv3d.weight": torch.zeros(1)}),
         "unexpected keys: Mixed_9z.b0.conv3d.weight"),
        (lambda s: s.pop("Mixed_4d.b1b.bn.running_mean"), "missing keys: Mixed_4d.b1b.bn.running_mean"),
        (lambda s: s.update({"logits.conv3d.weight": torch.zeros(101, 1024, 1, 1, 1)}),
         "wrong shapes: logits.conv3d.weight (file (101, 1024, 1, 1, 1), model (400, 1024, 1, 1, 1))"),
    ],
    ids=["extra", "missing", "shape"],
)
def test_checkpoint_that_does_not_fit_is_refused_naming_the_key(inception_file, tmp_path, edit, expected):
    state = torch.load(inception_file, weights_only=True)
    edit(state)
    bad = _resave(state, tmp_path / "bad.pt")
    with pytest.raises(VadpipeError) as info:
        build_backbone("inception_i3d", weights=bad)
    message = str(info.value)
    assert expected in message and str(bad) in message and "\n" not in message


def test_checkpoint_for_another_backbone_is_refused(inception_file):
    expected = r"does not fit backbone resnet3d: missing keys: conv1.weight, .*\(\+\d+ more\)"
    with pytest.raises(VadpipeError, match=expected):
        build_backbone("resnet3d", weights=inception_file)


def test_pickle_that_needs_code_is_refused(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(nn.Linear(2, 2), path)  # pickles the class: loading would have to import and run code
    with pytest.raises(VadpipeError, match="refused: unpickling it would run arbitrary code") as info:
        build_backbone("inception_i3d", weights=path)
    assert "\n" not in str(info.value)


def test_state_dict_wrapper_and_module_prefix_are_unwrapped(inception_file, tmp_path):
    state = torch.load(inception_file, weights_only=True)
    wrapped = _resave({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "w.pth")
    model = build_backbone("inception_i3d", weights=wrapped)
    torch.testing.assert_close(model.state_dict()["Mixed_5c.b3b.bn.running_var"], state["Mixed_5c.b3b.bn.running_var"])


def test_missing_weights_message_names_backbone_url_and_commands():
    with pytest.raises(VadpipeError) as info:
        build_backbone("i3d_r50")
    message = str(info.value)
    assert "\n" not in message
    assert "backbone i3d_r50" in message
    assert "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth" in message
    assert "`vadpipe weights download i3d_r50_kinetics400`" in message
    assert "`vadpipe weights import i3d_r50_kinetics400 FILE`" in message


def test_missing_resnet3d_weights_name_the_nonlocal_pkl_and_the_download():
    with pytest.raises(VadpipeError) as info:
        build_backbone("resnet3d")
    message = str(info.value)
    assert "https://dl.fbaipublicfiles.com/video-nonlocal/i3d_baseline_32x2_IN_pretrain_400k.pkl" in message
    assert "`vadpipe weights download resnet3d_i3d_r50_kinetics`" in message


def test_missing_weights_without_public_url_says_import(monkeypatch):
    import dataclasses

    import vadpipe.weights.registry as weights_registry

    entry = dataclasses.replace(weights_registry.get_entry("resnet3d_i3d_r50_kinetics"), urls=())
    patched = {**weights_registry.entries(), entry.name: entry}
    monkeypatch.setattr(weights_registry, "entries", lambda: patched)
    with pytest.raises(VadpipeError, match="no public URL for i3d_baseline_32x2_IN_pretrain_400k.pkl") as info:
        build_backbone("resnet3d")
    assert "`vadpipe weights import resnet3d_i3d_r50_kinetics FILE`" in str(info.value)


def test_allow_random_is_seeded_flagged_and_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    a = build_backbone("inception_i3d", allow_random=True, seed=0)
    b = build_backbone("inception_i3d", allow_random=True, seed=0)
    c = build_backbone("inception_i3d", allow_random=True, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert a.random_init and not a.training
    w = "Mixed_4b.b1b.conv3d.weight"
    assert torch.equal(a.state_dict()[w], b.state_dict()[w]) and not torch.equal(a.state_dict()[w], c.state_dict()[w])
    assert not any(p.requires_grad for p in a.parameters())


def test_random_init_ignores_available_weights_to_rebuild_a_random_backbone(inception_file):
    trained_on_random = build_backbone("inception_i3d", allow_random=True, seed=3)
    rebuilt = build_backbone("inception_i3d", weights=inception_file, random_init=True, seed=3)
    assert rebuilt.random_init
    w = "Mixed_4b.b1b.conv3d.weight"
    assert torch.equal(rebuilt.state_dict()[w], trained_on_random.state_dict()[w])
