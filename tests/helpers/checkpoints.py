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

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
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


_BN_CAFFE2 = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}


def caffe2_blob_name(key: str) -> str:
    """The video-nonlocal-net blob name of a pytorch-resnet3d key (the inverse of its converter's map)."""
    parts = key.split(".")
    if parts[0] in ("conv1", "bn1", "fc"):
        return {"conv1": "conv1_w", "fc": f"pred_{parts[1][0]}"}.get(parts[0]) or f"res_conv1_bn_{_BN_CAFFE2[parts[1]]}"
    layer, block, module = int(parts[0].removeprefix("layer")) + 1, int(parts[1]), parts[2]
    if module == "downsample":
        return f"res{layer}_{block}_branch1_" + ("w" if parts[3] == "0" else f"bn_{_BN_CAFFE2[parts[4]]}")
    branch = "abc"[int(module[-1]) - 1]
    return f"res{layer}_{block}_branch2{branch}_" + ("w" if module.startswith("conv") else f"bn_{_BN_CAFFE2[parts[3]]}")


class _Python2StylePickler(pickle.Pickler):
    """Pickles numpy arrays the way Python 2 did: dtype char and raw data as (latin-1) str, not bytes."""

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            core = getattr(np, "_core", None) or np.core
            state = (1, obj.shape, obj.dtype, False, obj.tobytes().decode("latin1"))
            return core.multiarray._reconstruct, (np.ndarray, (0,), "b"), state
        return NotImplemented


def _caffe2_blobs(model: nn.Module) -> dict[str, np.ndarray]:
    blobs = {}
    for key, value in _without_num_batches_tracked(model).items():
        name = caffe2_blob_name(key)
        blobs[name] = value.numpy().astype(np.float32)
        if key.endswith("weight") or key.endswith("bias"):
            blobs[f"{name}_momentum"] = np.zeros_like(blobs[name])
    blobs["model_iter"] = np.array([400000], dtype=np.int64)
    return blobs


def _write_python2_pickle(path: Path, obj) -> None:
    buffer = io.BytesIO()
    _Python2StylePickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


def write_caffe2_nonlocal_pkl(path: Path, seed: int = 4) -> nn.Module:
    """``{"blobs": {...}}`` like video-nonlocal-net's ``i3d_baseline_32x2_IN_pretrain_400k.pkl`` (Python 2
    protocol-2 pickle naming ``numpy.core.multiarray``, with ``*_momentum`` blobs and an iteration counter);
    returns the source model (eval)."""
    from vadpipe.backbones.resnet3d import ResNet3D50

    torch.manual_seed(seed)
    model = randomise_batchnorm(ResNet3D50(), seed)
    _write_python2_pickle(path, {"blobs": _caffe2_blobs(model)})
    return model


# video-nonlocal-net's I3D non-local network (NONLOCAL.LAYER_MOD 2, CONV3/CONV4_NONLOCAL): a block after
# every second bottleneck of res3 and res4, inner width half the stage's (lib/models/resnet_helper.py)
NONLOCAL_BLOCKS = {"res3_1": 512, "res3_3": 512, "res4_1": 1024, "res4_3": 1024, "res4_5": 1024}


def nonlocal_blobs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The blobs ``nonlocal_helper.spacetime_nonlocal`` adds (``{prefix}_{theta,phi,g,out}_{w,b}``,
    ``{prefix}_bn_{s,b,rm,riv}``), with their momenta, for :data:`NONLOCAL_BLOCKS`."""
    blobs = {}
    for block, dim in NONLOCAL_BLOCKS.items():
        prefix, inner = f"nonlocal_conv{block[3:]}", dim // 2
        shapes = {f"{p}_w": (inner, dim, 1, 1, 1) for p in ("theta", "phi", "g")} | {"out_w": (dim, inner, 1, 1, 1)}
        shapes |= {f"{p}_b": (inner,) for p in ("theta", "phi", "g")} | {"out_b": (dim,)}
        shapes |= {f"bn_{s}": (dim,) for s in ("s", "b", "rm", "riv")}
        for name, shape in shapes.items():
            blobs[f"{prefix}_{name}"] = rng.normal(size=shape).astype(np.float32)
            if not name.endswith(("rm", "riv")):
                blobs[f"{prefix}_{name}_momentum"] = np.zeros(shape, dtype=np.float32)
    return blobs


def write_caffe2_i3d_nonlocal_pkl(path: Path, seed: int = 5) -> None:
    """Like video-nonlocal-net's ``i3d_nonlocal_32x2_IN_pretrain_400k.pkl``: the baseline's blobs plus the
    non-local blocks' (the network the ``resnet3d`` backbone is not)."""
    from vadpipe.backbones.resnet3d import ResNet3D50

    torch.manual_seed(seed)
    blobs = _caffe2_blobs(ResNet3D50()) | nonlocal_blobs(np.random.default_rng(seed))
    _write_python2_pickle(path, {"blobs": blobs})


def write_resnet3d_nonlocal_pth(path: Path, seed: int = 6) -> None:
    """Like pytorch-resnet3d's ``i3d_r50_nl_kinetics.pth`` (its convert_weights.py on the non-local .pkl):
    the baseline's keys plus ``layer{2,3}.{B}.nl.{theta,phi,g,out,bn}.*``."""
    from vadpipe.backbones.resnet3d import ResNet3D50

    torch.manual_seed(seed)
    state = _without_num_batches_tracked(ResNet3D50())
    suffix = {"w": "weight", "b": "bias", "s": "weight", "rm": "running_mean", "riv": "running_var"}
    for blob, value in nonlocal_blobs(np.random.default_rng(seed)).items():
        if "momentum" in blob:
            continue
        stage, block, module, kind = blob.removeprefix("nonlocal_conv").split("_", 3)  # "3", "1", "bn", "riv"
        state[f"layer{int(stage) - 1}.{block}.nl.{module}.{suffix[kind]}"] = torch.from_numpy(value)
    torch.save(state, path, _use_new_zipfile_serialization=False)


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
