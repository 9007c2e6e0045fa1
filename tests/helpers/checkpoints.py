"""Synthetic backbone checkpoints in the exact layouts of the public files, from random-init models.

- pytorchvideo ``I3D_8x8_R50.pyth``: ``{"model_state": state_dict, ...}`` of the hub model itself;
- RTFM / pytorch-resnet3d ``i3d_r50_kinetics.pth``: a plain state dict with ``fc.*`` and no
  ``num_batches_tracked`` (its converter only maps weight/bias/running stats), legacy format;
- piergiaj ``rgb_imagenet.pt``: a plain state dict without ``num_batches_tracked`` (PyTorch 0.3
  era), legacy (non-zip) serialization.

Batch-norm statistics and affine parameters are randomised so that a checkpoint whose
BN buffers were not loaded gives different features.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


def randomise_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=gen)
            m.bias.data = 0.1 * torch.randn(n, generator=gen)
            m.running_mean = 0.1 * torch.randn(n, generator=gen)
            m.running_var = 0.5 + torch.rand(n, generator=gen)
    return model.eval()


def _without_num_batches_tracked(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def write_pytorchvideo_i3d_r50(path: Path, seed: int = 1) -> nn.Module:
    """``{"model_state": ...}`` of pytorchvideo's own hub ``i3d_r50``; returns that hub model (eval)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pytorchvideo.models.hub import i3d_r50
    torch.manual_seed(seed)
    model = randomise_batchnorm(i3d_r50(pretrained=False), seed)
    torch.save({"model_state": model.state_dict(), "epoch": 196, "cfg": "TRAIN:\n  DATASET: kinetics\n"}, path)
    return model


def write_rtfm_resnet3d(path: Path, seed: int = 2) -> nn.Module:
    """Plain state dict like pytorch-resnet3d's ``i3d_r50_kinetics.pth``; returns the source model (eval)."""
    from vadpipe.backbones.resnet3d import ResNet3D50

    torch.manual_seed(seed)
    model = randomise_batchnorm(ResNet3D50(), seed)
    torch.save(_without_num_batches_tracked(model), path, _use_new_zipfile_serialization=False)
    return model


def write_piergiaj_inception(path: Path, seed: int = 3) -> nn.Module:
    """Plain state dict like piergiaj's ``rgb_imagenet.pt``; returns the source model (eval)."""
    from vadpipe.backbones.inception_i3d import InceptionI3D

    torch.manual_seed(seed)
    model = randomise_batchnorm(InceptionI3D(), seed)
    torch.save(_without_num_batches_tracked(model), path, _use_new_zipfile_serialization=False)
    return model


WRITERS = {
    "i3d_r50": ("I3D_8x8_R50.pyth", write_pytorchvideo_i3d_r50),
    "resnet3d": ("i3d_r50_kinetics.pth", write_rtfm_resnet3d),
    "inception_i3d": ("rgb_imagenet.pt", write_piergiaj_inception),
}


def source_features(backbone: str, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Features of the source model: for the pytorchvideo hub model, its blocks before the head, globally pooled."""
    with torch.inference_mode():
        if backbone == "i3d_r50":
            for block in model.blocks[:-1]:
                x = block(x)
            return x.mean(dim=(2, 3, 4))
        return model(x)
