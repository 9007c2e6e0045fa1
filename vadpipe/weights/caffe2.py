"""Caffe2 ``.pkl`` checkpoints of the video non-local network model zoo -> the ``resnet3d`` state dict.

The RTFM UCF-Crime features come from ``i3d_baseline_32x2_IN_pretrain_400k.pkl``
(facebookresearch/video-nonlocal-net), ported to PyTorch by pytorch-resnet3d's
``utils/convert_weights.py``. This module does the same port itself, so the file can be
downloaded and used directly. Facts of the public layout it relies on:

- the pickle is Python 2's: ``{"blobs": {name: numpy array, ...}, ...}``, read with
  ``encoding="latin1"``; ``*_momentum`` blobs are optimiser state and are skipped;
- ``conv1_w`` and ``res_conv1_bn_{s,b,rm,riv}`` are the stem conv and its BN
  (``s`` scale -> weight, ``b`` -> bias, ``rm`` -> running_mean, ``riv`` -> running_var);
- ``res{L}_{B}_branch2{a,b,c}_w`` / ``_bn_*`` are ``layer{L-1}.{B}.conv{1,2,3}`` / ``bn{1,2,3}``;
- ``res{L}_{B}_branch1_w`` / ``_bn_*`` are ``layer{L-1}.{B}.downsample.0`` / ``downsample.1``;
- ``pred_w`` / ``pred_b`` are the Kinetics classifier ``fc``;
- arrays already have PyTorch's shapes (no transposes);
- the *non-local* variant (``i3d_nonlocal_32x2_IN_pretrain_400k.pkl``) adds
  ``nonlocal_conv{3,4}_{B}_{theta,phi,g,out}_{w,b}`` and ``_bn_*`` blobs (video-nonlocal-net's
  ``lib/models/nonlocal_helper.py``): a different network, refused rather than loaded without them.

Unpickling runs no code from the file: only numpy arrays, dtypes and plain containers
are admitted, anything else is refused.
"""

from __future__ import annotations

import codecs
import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from vadpipe.errors import VadpipeError
from vadpipe.weights.checkpoint import refuse_nonlocal

_BN_SUFFIX = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_STEM = {"conv1_w": "conv1.weight", "pred_w": "fc.weight", "pred_b": "fc.bias",
         **{f"res_conv1_bn_{k}": f"bn1.{v}" for k, v in _BN_SUFFIX.items()}}
_BRANCH2 = re.compile(r"^res(\d)_(\d+)_branch2([abc])_(w|bn_(?:s|b|rm|riv))$")
_BRANCH1 = re.compile(r"^res(\d)_(\d+)_branch1_(w|bn_(?:s|b|rm|riv))$")
_NONLOCAL_BLOB = re.compile(r"^nonlocal_conv(\d)_(\d+)_")


def _numpy_globals() -> dict[tuple[str, str], object]:
    core = getattr(np, "_core", None) or np.core  # numpy 2 moved numpy.core to numpy._core
    allowed = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # Python 2 files name the first
        allowed[(module, "_reconstruct")] = core.multiarray._reconstruct
        allowed[(module, "scalar")] = core.multiarray.scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = codecs.encode  # how Python 3 writes bytes in protocol 2: str -> bytes only
    return allowed


class _Refused(pickle.UnpicklingError):
    """A global the file asks for that is not admitted."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays, dtypes, scalars and plain containers; any other global is refused."""

    _allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


def caffe2_key(blob: str) -> str | None:
    """The pytorch-resnet3d key of a Caffe2 blob name, or None for blobs the backbone has no place for."""
    if blob in _STEM:
        return _STEM[blob]
    if m := _BRANCH2.match(blob):
        layer, block, branch, kind = m.groups()
        conv = "abc".index(branch) + 1
        tail = f"conv{conv}.weight" if kind == "w" else f"bn{conv}.{_BN_SUFFIX[kind[3:]]}"
        return f"layer{int(layer) - 1}.{int(block)}.{tail}"
    if m := _BRANCH1.match(blob):
        layer, block, kind = m.groups()
        tail = "downsample.0.weight" if kind == "w" else f"downsample.1.{_BN_SUFFIX[kind[3:]]}"
        return f"layer{int(layer) - 1}.{int(block)}.{tail}"
    return None


def read_caffe2_blobs(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The ``blobs`` dict of a Caffe2 ``.pkl``, unpickled without running any code from it.

    Raises:
        VadpipeError: unreadable file, a pickle that needs anything but arrays and containers,
            or no ``blobs`` dict of arrays inside.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    except _Refused as exc:
        raise VadpipeError(f"{path}: refused: unpickling it would call {exc}, which is neither a numpy array "
                           "nor a plain container; only Caffe2 blob files (arrays in dicts) are read") from None
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError) as exc:  # a truncated or foreign file
        raise VadpipeError(f"{path}: not a readable Caffe2 .pkl ({type(exc).__name__}); download it again") from None
    blobs = obj.get("blobs") if isinstance(obj, dict) else None
    if not isinstance(blobs, dict) or not any(isinstance(v, np.ndarray) for v in blobs.values()):
        raise VadpipeError(f"{path}: no 'blobs' dict of arrays in this .pkl; is it a video-nonlocal-net checkpoint?")
    return blobs


def caffe2_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``resnet3d`` state dict (pytorch-resnet3d keys) of a non-local model zoo ``.pkl``.

    Blobs with no place in the backbone (``*_momentum``, iteration counters) are left out;
    whether every backbone key is present is checked when it is loaded.

    Raises:
        VadpipeError: see :func:`read_caffe2_blobs`; also a checkpoint of the I3D *non-local* network,
            whose blocks the backbone has no place for (loading it without them is another network).
    """
    blobs = read_caffe2_blobs(path)
    refuse_nonlocal(path, {f"res{m[1]}_{m[2]}" for m in map(_NONLOCAL_BLOB.match, blobs) if m})
    state = {}
    for blob, value in blobs.items():
        key = None if "momentum" in blob else caffe2_key(blob)
        if key is not None and isinstance(value, np.ndarray):
            state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return state
