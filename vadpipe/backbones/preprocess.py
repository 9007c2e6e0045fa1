"""Snippets of uint8 frames -> normalised multi-crop backbone input.

Crop order (fixed; the features' crop axis follows it):

- ``crops=1``: 0 centre
- ``crops=5``: 0 centre, 1 top-left, 2 top-right, 3 bottom-left, 4 bottom-right (XD-Violence
  ``__0`` ... ``__4``: centre first)
- ``crops=10``: those five, then 5-9 = the same five crops flipped horizontally (5 is the
  flipped centre, 6 the flipped top-left crop, ...)
"""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF

from vadpipe.backbones.registry import Preprocessing
from vadpipe.errors import UsageError

CROP_COUNTS = (1, 5, 10)


def crop_boxes(height: int, width: int, size: int, crops: int) -> list[tuple[int, int]]:
    """(top, left) of each crop in the order documented in this module (flips excluded)."""
    centre = (int(round((height - size) / 2.0)), int(round((width - size) / 2.0)))  # as torchvision's center_crop
    corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size)]
    return [centre] if crops == 1 else [centre, *corners]


def preprocess_snippets(
    frames: torch.Tensor, prep: Preprocessing, crops: int, *, resize_short: int | None = None,
    crop_size: int | None = None,
) -> torch.Tensor:
    """Resize, normalise and crop snippets for a backbone.

    Each frame's shorter side is resized to ``resize_short`` (bilinear, antialiased; small
    frames are scaled up), values become ``(v * scale + offset - mean) / std``, and
    ``crops`` square crops are cut (order in the module docstring). Works on the device
    the frames are on.

    Args:
        frames: uint8 ``(S, 16, H, W, 3)`` RGB snippets.
        prep: the backbone's :class:`Preprocessing`.
        crops: 1, 5 or 10.
        resize_short, crop_size: override ``prep`` (e.g. 128 / 112 for a quick demo).

    Returns:
        float32 ``(S, crops, 3, 16, crop, crop)``.
    """
    if crops not in CROP_COUNTS:
        raise UsageError(f"--crops {crops}: must be one of {', '.join(map(str, CROP_COUNTS))}")
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames (S, T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    short = resize_short or prep.resize_short
    size = crop_size or prep.crop_size
    if size > short:
        raise UsageError(f"crop size {size} is larger than the resized shorter side {short}")
    s, t, h, w, _ = frames.shape
    x = frames.permute(0, 1, 4, 2, 3).reshape(s * t, 3, h, w)  # (S*T, 3, H, W)
    x = TF.resize(x, [short], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)  # (S*T, 3, h, w)
    height, width = x.shape[-2:]
    boxes = crop_boxes(height, width, size, crops)
    # Only the region the crops cover is normalised (the centre crop alone is ~60 % of a 4:3 frame).
    top0, left0 = min(t for t, _ in boxes), min(left for _, left in boxes)
    bottom, right = max(t for t, _ in boxes) + size, max(left for _, left in boxes) + size
    x = x[..., top0:bottom, left0:right]
    boxes = [(top - top0, left - left0) for top, left in boxes]
    height, width = bottom - top0, right - left0
    # One affine per channel: (v * scale + offset - mean) / std.
    std = torch.tensor(prep.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    mean = torch.tensor(prep.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    x = x.float().mul_(prep.scale / std).add_((prep.offset - mean) / std)
    x = x.view(s, t, 3, height, width).transpose(1, 2)  # (S, 3, T, h', w'): the covered region
    out = torch.empty(s, crops, 3, t, size, size, dtype=torch.float32, device=x.device)
    for i, (top, left) in enumerate(boxes):
        out[:, i] = x[..., top:top + size, left:left + size]
    if crops == 10:
        out[:, 5:] = out[:, :5].flip(-1)
    return out
