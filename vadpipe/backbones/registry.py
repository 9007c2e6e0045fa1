"""Building the I3D backbones that :mod:`vadpipe.core.backbone_facts` describes, with their weights loaded."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vadpipe.core.backbone_facts import BackboneSpec, get_spec
from vadpipe.errors import UsageError, VadpipeError

if TYPE_CHECKING:  # torch is imported when a backbone is built, not when its facts are read (`--help`)
    import torch
    from torch import nn


def build_module(spec: BackboneSpec) -> nn.Module:
    """A fresh module of ``spec``'s architecture (random weights); its module is imported only now."""
    module, cls = spec.constructor.split(":")
    return getattr(importlib.import_module(module), cls)()


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
        model = build_module(spec)
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
