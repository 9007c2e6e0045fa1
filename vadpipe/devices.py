"""Choosing the torch device from a `--device auto|cpu|cuda[:i]` option."""

from __future__ import annotations

import torch

from vadpipe.errors import UsageError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is the GPU of ``LOCAL_RANK`` (torchrun) or cuda:0 when CUDA is available, else the CPU."""
    import os

    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device
