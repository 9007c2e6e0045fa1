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
are admitted, anything else is refused. The admitted numpy constructors are wrapped so
that a malformed file cannot make numpy allocate more than the file holds or build
object arrays (numpy 2 crashes on some): such files are one line, like a truncated one.
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
_CORE = getattr(np, "_core", None) or np.core  # numpy 2 moved numpy.core to numpy._core


class _Refused(pickle.UnpicklingError):
    """A global the file asks for that is not admitted."""


class _Malformed(pickle.UnpicklingError):
    """An admitted constructor called in a way numpy's own pickles never do."""


class _BlobArray(np.ndarray):
    """The array a pickle fills: its state is checked before numpy's ``__setstate__`` sees it."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Malformed("an array state that is not numpy's")
        shape, dtype, _, data = state[-4:]
        if not isinstance(dtype, np.dtype) or dtype.hasobject or dtype.kind not in "biuf":  # strings: no weights
            raise _Malformed(f"an array of dtype {dtype}; only numeric blobs are read")
        if not isinstance(data, (bytes, str)):  # str: Python 2's, read as latin-1
            raise _Malformed("an array whose data is not a byte string")
        super().__setstate__(state)  # numpy checks that the data is as long as the shape says


def _reconstruct(subtype, shape, dtype):
    # numpy's pickles ask for an empty array here and fill it in __setstate__; another shape would be
    # allocated first (10**13 elements: MemoryError) from a few bytes of file
    if subtype is not np.ndarray or not isinstance(shape, (tuple, list)) or list(shape) != [0]:
        raise _Malformed(f"an array reconstructed with shape {shape!r}, where numpy's own pickles ask for (0,)")
    return _CORE.multiarray._reconstruct(_BlobArray, (0,), dtype)


def _scalar(dtype, *data):
    if len(data) != 1:  # without its data numpy allocates the dtype's size (up to 2 GiB) from nothing
        raise _Malformed("a numpy scalar without its data")
    return _CORE.multiarray.scalar(dtype, *data)


def _latin1_bytes(text, encoding="latin1"):
    # how Python 3 writes bytes in protocol 2; any other codec would be a lookup the file chooses
    if not isinstance(encoding, str) or encoding.lower().replace("-", "").replace("_", "") not in ("latin1",
                                                                                                  "iso88591"):
        raise _Malformed(f"_codecs.encode with codec {encoding!r}, where pickles of bytes use 'latin1'")
    return codecs.encode(text, "latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    allowed = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # Python 2 files name the first
        allowed[(module, "_reconstruct")] = _reconstruct
        allowed[(module, "scalar")] = _scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _latin1_bytes
    return allowed


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
    except _Malformed as exc:
        raise VadpipeError(f"{path}: not a readable Caffe2 .pkl (it asks for {exc}); download it again") from None
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, LookupError, MemoryError, OverflowError, RecursionError) as exc:  # truncated or foreign
        raise VadpipeError(f"{path}: not a readable Caffe2 .pkl ({type(exc).__name__}); download it again") from None
    blobs = obj.get("blobs") if isinstance(obj, dict) else None
    if not isinstance(blobs, dict) or not any(isinstance(v, np.ndarray) for v in blobs.values()):
        raise VadpipeError(f"{path}: no 'blobs' dict of arrays in this .pkl; is it a video-nonlocal-net checkpoint?")
    return {k: v.view(np.ndarray) if isinstance(v, _BlobArray) else v for k, v in blobs.items()}


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
