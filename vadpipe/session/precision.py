"""Forward-pass precision: the ``--precision`` choices, their autocast, and how far bf16 strays from fp32.

(``int8`` is not an autocast: it runs a quantized model on OpenVINO, set up by the backbone session
with :mod:`vadpipe.engines.quantize`, and has its own check against fp32, ``INT8_MIN_COSINE``.)

``auto`` is bf16 autocast on CUDA (fp16 on a GPU without native bf16) and fp32 on a CPU.
bf16 and fp16 can also be asked for on a CPU explicitly (bf16 is quick where the CPU has
bf16 instructions; fp16 3-D convolutions are many times slower than fp32 on most CPUs).
Features are always returned as float32 (``--dtype`` decides what is stored).

How :data:`BF16_MIN_COSINE` was chosen (CPU, torch 2.14, the three random-init backbones,
crop 64, ``python bench/extract.py --precision bf16 --backbone NAME --resize-short 72
--crop-size 64 --crops 5``, 30 clips each):

- bf16 vs fp32 features of the same clips: min cosine 0.999990 (resnet3d), 0.999994
  (i3d_r50), 0.999979 (inception_i3d), so 1 - cos <= 2.1e-5;
- fp32 features of *different* clips (crops and snippets of one scene): cosine 0.978 to
  0.99997, because globally pooled ReLU features share a large positive mean. A threshold
  like 0.99 would pass the features of the wrong clip.

0.9999 leaves 5x the worst bf16 error measured and fails most wrong clips (though not a
near-identical crop of the same snippet). Trained weights may stray further than random
ones: run the bench with real weights before trusting bf16 features for a new backbone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from vadpipe.core.forward import PRECISION_NAMES as PRECISIONS
from vadpipe.errors import UsageError

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Lowest per-clip cosine between bf16-autocast and fp32 features that counts as agreement (module docstring).
BF16_MIN_COSINE = 0.9999


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """The precision a run uses: ``auto`` becomes bf16 on CUDA (fp16 without bf16 support), fp32 elsewhere.

    Raises:
        UsageError: not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise UsageError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}", param="precision")
    if precision != "auto":
        return precision
    if torch.device(device).type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def autocast(precision: str, device: str | torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved precision (a no-op for fp32 and int8)."""
    if precision in ("fp32", "int8"):
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=AUTOCAST_DTYPES[precision])


@dataclass(frozen=True)
class PrecisionCheck:
    """How features at one precision agree with fp32 features of the same clips."""

    precision: str
    cosines: torch.Tensor  # (N,) one per clip, float64 on the CPU

    @property
    def min(self) -> float:
        return float(self.cosines.min())

    @property
    def mean(self) -> float:
        return float(self.cosines.mean())

    @property
    def ok(self) -> bool:
        """Whether every clip clears :data:`BF16_MIN_COSINE`."""
        return self.min >= BF16_MIN_COSINE


def compare_to_fp32(backbone: nn.Module, clips: torch.Tensor, precision: str = "bf16") -> PrecisionCheck:
    """Per-clip cosine similarity between features at ``precision`` and at fp32, on the same clips.

    Args:
        backbone: a module mapping ``(N, 3, 16, h, w)`` to ``(N, D)``; its device is used.
        clips: preprocessed clips ``(N, 3, 16, h, w)``, or snippets ``(S, C, 3, 16, h, w)``
            (then N = S * C: one cosine per snippet and crop).
        precision: ``bf16`` or ``fp16``.

    Returns:
        A :class:`PrecisionCheck`; ``check.ok`` compares its minimum with :data:`BF16_MIN_COSINE`.
    """
    if precision not in AUTOCAST_DTYPES:
        raise ValueError(f"precision must be one of {', '.join(AUTOCAST_DTYPES)}, got {precision!r}")
    device = next(backbone.parameters()).device
    x = (clips.flatten(0, 1) if clips.ndim == 6 else clips).to(device)  # (N, 3, 16, h, w)
    with torch.inference_mode():
        reference = backbone(x).double()  # (N, D)
        with autocast(precision, device):
            reduced = backbone(x).double()  # (N, D)
    cosines = torch.nn.functional.cosine_similarity(reduced, reference, dim=1)  # (N,)
    return PrecisionCheck(precision, cosines.cpu())
