"""Snippets of uint8 frames -> normalised multi-crop backbone input.

Crop orders (the features' crop axis follows one of them; the name is recorded with the features):

- ``center`` (1 crop): the centre crop.
- ``center_first`` (5 crops): centre, top-left, top-right, bottom-left, bottom-right -- torchvision's
  ``FiveCrop`` with its centre moved first, as the XD-Violence features ``__0`` (centre) ... ``__4``.
- ``tencrop`` (10 crops): torchvision's ``TenCrop`` exactly -- top-left, top-right, bottom-left,
  bottom-right, centre, then the same five cut from the horizontally flipped frame (so crop 5
  is the flipped frame's top-left, i.e. the mirrored top-right region). The RTFM UCF-Crime order.
- ``vadpipe_v1`` (10 crops): the order of vadpipe stores made before ``crop_order`` was
  recorded -- centre, corners, then each of those five crops mirrored. Kept so that such
  stores and the runs trained on them are rebuilt exactly.

Resize modes (a backbone fact, see :class:`vadpipe.core.backbone_facts.Preprocessing`):

- ``short_side``: shorter side to ``resize_short`` with antialiased bilinear (PIL-like), the
  output size rounded -- what the backbone repos' own transforms do.
- ``opencv_linear``: OpenCV ``cv2.resize(img, None, fx=s, fy=s)`` (INTER_LINEAR) on uint8 with
  ``s = resize_short / short``, as the XD-Violence features were made: OpenCV's own fixed-point
  arithmetic, value for value (:func:`resize_opencv_linear`).
- ``scale_factor``: the same geometry in float arithmetic rounded half to even, within one level
  of OpenCV (vadpipe 0.1.0 and earlier made ``inception_i3d`` features so: kept, so that their
  stores and the runs trained on them are extracted exactly as they were made).
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from vadpipe.core.backbone_facts import Preprocessing
from vadpipe.core.feature_spec import CROP_COUNTS, CROP_ORDERS, RESIZE_MODES, resolve_crop_order
from vadpipe.errors import UsageError


def _center(height: int, width: int, size: int) -> tuple[int, int]:
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))  # as torchvision's center_crop


def crop_plan(height: int, width: int, size: int, crop_order: str) -> list[tuple[int, int, bool]]:
    """``(top, left, mirrored)`` of each crop in the frame, in ``crop_order``.

    A mirrored crop is the region at ``(top, left)`` of the original frame, flipped
    horizontally; a crop cut at ``(t, l)`` of the flipped frame is the original region at
    ``(t, width - size - l)``, mirrored.
    """
    bottom, right = height - size, width - size
    center = _center(height, width, size)
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right)]
    if crop_order == "center":
        return [(*center, False)]
    if crop_order == "center_first":
        return [(t, left, False) for t, left in [center, *corners]]
    if crop_order == "vadpipe_v1":
        five = [center, *corners]
        return [(t, left, False) for t, left in five] + [(t, left, True) for t, left in five]
    if crop_order == "tencrop":
        five = [*corners, center]  # torchvision's five_crop order
        return [(t, left, False) for t, left in five] + [(t, right - left, True) for t, left in five]
    raise UsageError(f"crop_order {crop_order!r}: choose one of {', '.join(CROP_ORDERS)}", param="crop_order")


def crop_boxes(height: int, width: int, size: int, crops: int) -> list[tuple[int, int]]:
    """(top, left) of the unmirrored crops of the default order for ``crops`` (centre first for 1 and 5)."""
    plan = crop_plan(height, width, size, resolve_crop_order(crops))
    return [(t, left) for t, left, mirrored in plan if not mirrored]


_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: bilinear weights of 8-bit images are multiples of 1/2048
_ONE = 1 << _COEF_BITS


def resize_scale_factor(x: torch.Tensor, short: int) -> torch.Tensor:
    """The ``scale_factor`` resize of older stores: :func:`resize_opencv_linear`'s geometry in float, rounded to
    uint8 levels half to even (ATen's bilinear kernel given the scales next to the output size).

    Args:
        x: ``(N, 3, H, W)`` uint8 or float on the 0-255 scale.

    Returns:
        float32 ``(N, 3, round(H*s), round(W*s))`` holding whole numbers in 0..255.
    """
    h, w = x.shape[-2:]
    scale = short / min(h, w)
    out_h, out_w = round(h * scale), round(w * scale)
    out = torch.ops.aten.upsample_bilinear2d(x.float(), [out_h, out_w], False, scale, scale)
    return out.round_().clamp_(0, 255)


def resize_opencv_linear(x: torch.Tensor, short: int) -> torch.Tensor:
    """``cv2.resize(x, None, fx=s, fy=s)`` (INTER_LINEAR, uint8) with ``s = short / min(H, W)``, value for value.

    OpenCV (``modules/imgproc/src/resize.cpp``, ``hal::resize``) does this on 8-bit images:

    - the output size is ``cvRound(H * s) x cvRound(W * s)`` (half to even), but the source is
      stepped by ``1 / s`` itself, not by the ratio of the rounded sizes: output pixel ``x``
      reads source position ``(x + 0.5) / s - 0.5`` (computed in double, kept as float),
      clamped at the borders, two taps, no antialiasing;
    - each tap's weight is quantised to 11 bits (``cvRound(w * 2048)``) and a row is
      interpolated in integers (``h = a0 * p0 + a1 * p1``); the vertical pass is
      ``VResizeLinearVec_32s8u``'s: ``(((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2``,
      which keeps halves rounding up but drops low bits first (it differs from the exact
      ``(sum + 2**21) >> 22`` of its scalar code, and of INTER_LINEAR_EXACT, in about one value
      in eight; cv2 4.14 gives this formula for every pixel, tails of rows included);
    - at ``s = 0.5`` exactly it switches to INTER_AREA: each output is the mean of its 2x2
      block, ``(a + b + c + d + 2) >> 2``, and an odd last row or column averages the pixels
      there are, rounded half to even (:func:`_halve_like_opencv`).

    Args:
        x: ``(N, 3, H, W)`` uint8 (or float holding uint8 levels).

    Returns:
        float32 ``(N, 3, round(H*s), round(W*s))`` holding whole numbers in 0..255.
    """
    h, w = x.shape[-2:]
    scale = short / min(h, w)  # OpenCV's inv_scale (fx = fy)
    out_h, out_w = round(h * scale), round(w * scale)  # cvRound: half to even, like Python's round
    x = x.to(torch.uint8)  # levels already; gathers on 1 byte per value, arithmetic on the gathered ones
    if abs(1.0 / scale - 2.0) < np.finfo(np.float64).eps:
        return _halve_like_opencv(x, out_h, out_w).float()
    rows, row_weights = _taps(h, out_h, scale, clamp_weights=False, device=x.device)  # (out_h, 2) each
    cols, col_weights = _taps(w, out_w, scale, clamp_weights=True, device=x.device)  # (out_w, 2) each
    x = x.contiguous()  # gathers along W and H of a channels-last view are strided and slow
    # Every step is exact integer arithmetic, so the order of the passes is free: each source row is
    # interpolated across once (columns first) unless the rows read are far fewer than the rows there are.
    if h <= 2 * out_h:
        horizontal = _horizontal(x, cols, col_weights)  # (N, 3, H, out_w): h >> 4 of every source row
        out = horizontal.index_select(-2, rows[:, 0]).mul_(row_weights[:, 0, None]).bitwise_right_shift_(16)
        out.add_(horizontal.index_select(-2, rows[:, 1]).mul_(row_weights[:, 1, None]).bitwise_right_shift_(16))
    else:  # a strong reduction: only the rows the taps read
        out = None
        for k in range(2):
            part = _horizontal(x.index_select(-2, rows[:, k]), cols, col_weights)  # (N, 3, out_h, out_w)
            part.mul_(row_weights[:, k, None]).bitwise_right_shift_(16)  # int16 x int16, high half
            out = part if out is None else out.add_(part)
    return out.add_(2).bitwise_right_shift_(2).clamp_(0, 255).float()


def _horizontal(x: torch.Tensor, cols: torch.Tensor, col_weights: torch.Tensor) -> torch.Tensor:
    """OpenCV's horizontal pass on uint8 ``(..., W)`` rows, then ``>> 4`` (``VResizeLinearVec_32s8u``'s
    first step): ``(a0 * p0 + a1 * p1) >> 4`` as int32 ``(..., out_w)``."""
    horizontal = x.index_select(-1, cols[:, 0]).to(torch.int32).mul_(col_weights[:, 0])
    horizontal.add_(x.index_select(-1, cols[:, 1]).to(torch.int32).mul_(col_weights[:, 1]))
    return horizontal.bitwise_right_shift_(4)


def _taps(size: int, out_size: int, scale: float, *, clamp_weights: bool, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Source indices and 11-bit weights of OpenCV's two taps per output position along one axis.

    Horizontally OpenCV clamps position and weights at the borders; vertically it keeps the
    weights and clamps the rows read (``clamp_weights=False``), which is the same save for a
    weight pair that does not add up to 2048.
    """
    d = np.arange(out_size, dtype=np.float64)
    f = ((d + 0.5) * (1.0 / scale) - 0.5).astype(np.float32)  # (float)((dx + 0.5) * scale_x - 0.5)
    i = np.floor(f).astype(np.int64)
    f = f - i.astype(np.float32)
    if clamp_weights:
        low, high = i < 0, i >= size - 1
        f[low | high] = 0.0
        i = np.where(low, 0, np.where(high, size - 1, i))
    one = np.float32(_ONE)
    weights = np.stack([np.rint((np.float32(1.0) - f) * one), np.rint(f * one)], axis=1)  # cvRound of float
    index = np.clip(np.stack([i, i + 1], axis=1), 0, size - 1)
    return (torch.from_numpy(index).to(device), torch.from_numpy(weights.astype(np.int32)).to(device))


def _halve_like_opencv(x: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """OpenCV's INTER_AREA for a factor of exactly 2 on uint8 (``resizeAreaFast_``), as int16.

    Each full 2x2 block gives ``(a + b + c + d + 2) >> 2``; where an odd last row or column cuts
    the block, the mean of the pixels there, rounded half to even (``saturate_cast<uchar>((float)sum / count)``).
    """
    h, w = x.shape[-2:]
    full_h, full_w = h // 2, w // 2
    x = x.to(torch.int16)  # sums of four levels fit
    out = torch.empty(*x.shape[:-2], out_h, out_w, dtype=torch.int16, device=x.device)
    top, bottom = x[..., 0 : 2 * full_h : 2, :], x[..., 1 : 2 * full_h : 2, :]  # (N, 3, full_h, W) each
    pairs = top + bottom  # (N, 3, full_h, W): column sums of the full blocks
    out[..., :full_h, :full_w] = (pairs[..., 0 : 2 * full_w : 2] + pairs[..., 1 : 2 * full_w : 2] + 2) >> 2
    if out_w > full_w:  # odd W rounded up: the last column reads the last source column only
        out[..., :full_h, full_w] = torch.round(pairs[..., 2 * full_w].float() / 2).to(torch.int16)
    if out_h > full_h:  # odd H rounded up: the last row reads the last source row only
        last = x[..., 2 * full_h, :]  # (N, 3, W)
        out[..., full_h, :full_w] = torch.round((last[..., 0 : 2 * full_w : 2] + last[..., 1 : 2 * full_w : 2]).float()
                                                / 2).to(torch.int16)
        if out_w > full_w:
            out[..., full_h, full_w] = last[..., 2 * full_w]
    return out


def _resize(x: torch.Tensor, short: int, mode: str) -> torch.Tensor:
    if mode == "short_side":
        return TF.resize(x, [short], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    if mode == "opencv_linear":
        return resize_opencv_linear(x, short)
    if mode == "scale_factor":
        return resize_scale_factor(x, short)
    raise UsageError(f"resize_mode {mode!r}: choose one of {', '.join(RESIZE_MODES)}", param="resize_mode")


RESIZE_BYTES = 512 * 2**20  # float copies of full-size frames resized at once


def preprocess_snippets(
    frames: torch.Tensor, prep: Preprocessing, crops: int, *, resize_short: int | None = None,
    crop_size: int | None = None, crop_order: str | None = None, resize_mode: str | None = None,
) -> torch.Tensor:
    """Resize, normalise and crop snippets for a backbone.

    Each frame's shorter side is resized to ``resize_short`` (``prep.resize_mode``; small
    frames are scaled up), values become ``(v * scale + offset - mean) / std``, and
    ``crops`` square crops are cut in ``crop_order`` (see the module docstring). Works on
    the device the frames are on.

    Args:
        frames: uint8 ``(S, 16, H, W, 3)`` RGB snippets.
        prep: the backbone's :class:`Preprocessing`.
        crops: 1, 5 or 10.
        resize_short, crop_size: override ``prep`` (e.g. 128 / 112 for a quick demo).
        crop_order: one of :data:`CROP_ORDERS` with ``crops`` crops (``None``: the default for ``crops``).
        resize_mode: override ``prep.resize_mode``.

    Returns:
        float32 ``(S, crops, 3, 16, crop, crop)``.
    """
    if crops not in CROP_COUNTS:
        raise UsageError(f"crops {crops}: must be one of {', '.join(map(str, CROP_COUNTS))}", param="crops")
    order = resolve_crop_order(crops, crop_order)
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames (S, T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    short = resize_short or prep.resize_short
    size = crop_size or prep.crop_size
    if size > short:
        raise UsageError(f"crop_size {size} is larger than the resized shorter side {short}", param="crop_size")
    s, t, h, w, _ = frames.shape
    x = frames.permute(0, 1, 4, 2, 3).reshape(s * t, 3, h, w)  # (S*T, 3, H, W)
    # Frames are resized a few at a time when they are large, so that their float copies stay within
    # RESIZE_BYTES (a 4000x3000 frame is 144 MB as floats); each frame is resized on its own either way.
    step = max(1, RESIZE_BYTES // (3 * h * w * 4))
    mode = resize_mode or prep.resize_mode
    x = _resize(x, short, mode) if step >= s * t else torch.cat([_resize(c, short, mode) for c in x.split(step)])
    height, width = x.shape[-2:]
    plan = crop_plan(height, width, size, order)
    # The crops are copied out of the resized frames (still uint8 after an antialiased resize) straight into
    # the contiguous float output, and normalised there: one strided pass instead of a float copy of the
    # covered region, its normalisation in the frames' channels-last layout and a second, transposing copy
    # (38 -> 21 ms per 320x240 snippet on one core; the same float operations, so the same values).
    top0, left0 = min(p[0] for p in plan), min(p[1] for p in plan)
    bottom, right = max(p[0] for p in plan) + size, max(p[1] for p in plan) + size
    x = x[..., top0:bottom, left0:right]
    x = x.view(s, t, 3, bottom - top0, right - left0).transpose(1, 2)  # (S, 3, T, h', w'): the covered region
    out = torch.empty(s, crops, 3, t, size, size, dtype=torch.float32, device=x.device)
    for i, (top, left, mirrored) in enumerate(plan):
        crop = x[..., top - top0:top - top0 + size, left - left0:left - left0 + size]
        out[:, i].copy_(crop.flip(-1) if mirrored else crop)
    # One affine per channel: (v * scale + offset - mean) / std.
    std = torch.tensor(prep.std, dtype=torch.float32, device=x.device).view(1, 1, 3, 1, 1, 1)
    mean = torch.tensor(prep.mean, dtype=torch.float32, device=x.device).view(1, 1, 3, 1, 1, 1)
    return out.mul_(prep.scale / std).add_((prep.offset - mean) / std)
