"""Reading foreign checkpoints safely and loading them strictly into a backbone.

Foreign files (.pth / .pyth / .pt) go through ``torch.load(weights_only=True)`` and Caffe2
``.pkl`` files through an unpickler that admits numpy arrays only (:mod:`vadpipe.weights.caffe2`),
so no code in a checkpoint ever runs; own files are ``.safetensors``.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from vadpipe.atomic import atomic_path
from vadpipe.errors import VadpipeError

CHECKPOINT_SUFFIXES = (".pth", ".pyth", ".pt", ".safetensors", ".pkl")  # .pkl: Caffe2 non-local zoo
WRAPPER_KEYS = ("model_state", "state_dict")  # pytorchvideo / PySlowFast, Lightning-style
_SHOWN = 3  # offending keys named in an error line
_NONLOCAL_KEY = re.compile(r"^(layer\d\.\d+)\.nl\.")  # pytorch-resnet3d's I3Res50(use_nl=True)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict in a checkpoint file, unwrapped from ``model_state`` / ``state_dict`` and
    with DataParallel's ``module.`` prefixes stripped.

    Raises:
        VadpipeError: missing or unreadable file, a pickle that needs code to load, or no tensors inside.
    """
    path = Path(path)
    if not path.is_file():
        raise VadpipeError(f"{path}: checkpoint file not found")
    if path.suffix == ".pkl":
        from vadpipe.weights.caffe2 import caffe2_state_dict

        return caffe2_state_dict(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj = load_file(path, device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise VadpipeError(f"{path}: not a readable .safetensors file ({exc}); import it again") from exc
    else:
        obj = _torch_load(path)
    while isinstance(obj, Mapping) and any(isinstance(obj.get(k), Mapping) for k in WRAPPER_KEYS):
        obj = next(obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping))
    if not isinstance(obj, Mapping) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise VadpipeError(f"{path}: holds no state dict of tensors (looked under {', '.join(WRAPPER_KEYS)} too)")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
    refuse_nonlocal(path, {m[1] for m in map(_NONLOCAL_KEY.match, state) if m})
    return state


def refuse_nonlocal(path: str | os.PathLike, blocks: set[str]) -> None:
    """Raise one line when a checkpoint holds non-local blocks (``blocks``: their names, e.g. ``res3_1``).

    The I3D ResNet-50 *non-local* network of video-nonlocal-net (``i3d_nonlocal_32x2_IN_pretrain_400k.pkl``,
    pytorch-resnet3d's ``i3d_r50_nl_kinetics.pth``) shares every other key with the baseline that the
    ``resnet3d`` backbone is, so without this check it would load as that baseline minus its blocks.
    """
    if blocks:
        raise VadpipeError(
            f"{path}: an I3D ResNet-50 non-local checkpoint ({len(blocks)} non-local blocks: "
            f"{_names(sorted(blocks))}); no vadpipe backbone has non-local blocks, and resnet3d is the baseline "
            "without them (the RTFM features' network): use i3d_baseline_32x2_IN_pretrain_400k.pkl "
            "(`vadpipe weights download resnet3d_i3d_r50_kinetics`)"
        )


def _torch_load(path: Path):
    """``torch.load(weights_only=True)`` with every failure as one line (no torch warnings, no error codes)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head.startswith((b"PK", b"\x80")):  # neither torch.save's zip nor a pickle
        raise VadpipeError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle); "
                           "check that this is the checkpoint file you meant")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise VadpipeError(f"{path}: not a PyTorch checkpoint ({_first_sentence(exc)}); "
                               "check that this is the checkpoint file you meant") from None
        raise VadpipeError(
            f"{path}: refused: unpickling it would run arbitrary code (torch.load weights_only=True rejected it); "
            "only plain dicts of tensors are loaded, re-save it as torch.save(model.state_dict()) or .safetensors"
        ) from None
    except Exception as exc:  # truncated zip, ...
        raise VadpipeError(f"{path}: not a readable PyTorch checkpoint ({_first_sentence(exc)}); "
                           "download it again") from None


def _first_sentence(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"\s*\(\d+\)", "", text)  # miniz / zip error codes such as "(101)" say nothing to a user
    return text.split(". ")[0].rstrip(".")


def _names(keys: list[str]) -> str:
    more = f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def check_fits(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str | os.PathLike, backbone: str
) -> None:
    """Raise one line naming the first offending keys unless ``state`` fits ``model`` key for key, shape for shape.

    ``num_batches_tracked`` may be absent (the piergiaj and pytorch-resnet3d files have none).
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        f"{label}: {_names(keys)}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
        if keys
    ]
    if problems:
        raise VadpipeError(
            f"{source} does not fit backbone {backbone}: {'; '.join(problems)}; "
            "is it the right checkpoint for this backbone? (`vadpipe weights list`)"
        )


def load_into(model: nn.Module, path: str | os.PathLike, *, backbone: str) -> None:
    """Load a checkpoint file into ``model``, strictly (see :func:`check_fits`)."""
    state = read_state_dict(path)
    check_fits(model, state, source=path, backbone=backbone)
    model.load_state_dict(state, strict=False)  # strictness checked above, minus num_batches_tracked


def save_safetensors(model: nn.Module, path: str | os.PathLike, metadata: dict[str, str]) -> Path:
    """Write ``model``'s state dict as ``.safetensors`` atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata stored in a ``.safetensors`` file (source file name and sha256 for cached weights)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})
