"""preprocess_snippets: crop order, flips, per-backbone value ranges, odd frame sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from vadpipe.backbones.preprocess import (
    crop_boxes,
    preprocess_snippets,
    resize_opencv_linear,
    resize_scale_factor,
    resolve_crop_order,
)
from vadpipe.core.backbone_facts import BACKBONES, Preprocessing
from vadpipe.errors import UsageError

IDENTITY = Preprocessing(64, 32, 1.0, 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
# Crop centres in the 32x48 source frame (resized x2 to 64x96, crops of 32), in the documented order.
CENTRES = {
    "centre": (16, 24), "top-left": (8, 8), "top-right": (8, 40), "bottom-left": (24, 8), "bottom-right": (24, 40),
}
COLOURS = {
    "centre": (250, 10, 10), "top-left": (10, 250, 10), "top-right": (10, 10, 250),
    "bottom-left": (250, 250, 10), "bottom-right": (10, 250, 250),
}


def _marked_snippet() -> torch.Tensor:
    """(1, 16, 32, 48, 3) uint8: grey background 10*t at time t, a coloured 8x8 patch where each crop is centred."""
    frames = torch.zeros(1, 16, 32, 48, 3, dtype=torch.uint8)
    for t in range(16):
        frames[0, t] = 10 * t
    for name, (r, c) in CENTRES.items():
        frames[0, :, r - 4 : r + 4, c - 4 : c + 4] = torch.tensor(COLOURS[name], dtype=torch.uint8)
    return frames


@pytest.mark.parametrize("crops", [1, 5])
def test_crop_order_is_centre_then_corners(crops):
    out = preprocess_snippets(_marked_snippet(), IDENTITY, crops)
    assert out.shape == (1, crops, 3, 16, 32, 32) and out.dtype == torch.float32
    names = list(CENTRES)[: 1 if crops == 1 else 5]
    for i, name in enumerate(names):
        centre_pixel = out[0, i, :, 7, 16, 16]  # (3,) RGB at the crop's own centre
        assert centre_pixel.tolist() == pytest.approx(COLOURS[name]), name
    # time order is kept: the background of frame t is 10 * t
    assert out[0, 0, 0, :, 0, 0].tolist() == pytest.approx([10.0 * t for t in range(16)])


def test_ten_crops_follow_torchvision_tencrop_order():
    out = preprocess_snippets(_marked_snippet(), IDENTITY, 10)
    # TenCrop: tl, tr, bl, br, centre, then the same five of the flipped frame (whose top-left is the top-right)
    expected = ["top-left", "top-right", "bottom-left", "bottom-right", "centre",
                "top-right", "top-left", "bottom-right", "bottom-left", "centre"]
    for i, name in enumerate(expected):
        assert out[0, i, :, 7, 16, 16].tolist() == pytest.approx(COLOURS[name]), (i, name)


def _reference_crops(frames: torch.Tensor, short: int, size: int, ten: bool) -> torch.Tensor:
    """torchvision's own resize + TenCrop / FiveCrop(centre first) on (S, 16, H, W, 3) -> (S, C, 3, 16, s, s)."""
    s, t, h, w, _ = frames.shape
    x = TF.resize(frames.permute(0, 1, 4, 2, 3).reshape(s * t, 3, h, w), [short],
                  interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    crops = list(TF.ten_crop(x, [size, size])) if ten else list(TF.five_crop(x, [size, size]))
    if not ten:
        crops = [crops[4], *crops[:4]]  # XD: __0 is the centre
    stacked = torch.stack(crops, dim=1).float()  # (S*T, C, 3, s, s)
    return stacked.view(s, t, len(crops), 3, size, size).permute(0, 2, 3, 1, 4, 5)  # (S, C, 3, T, s, s)


@pytest.mark.parametrize("shape", [(40, 61), (41, 40), (37, 50), (48, 64)])  # odd and even (W - 32), (H - 32)
@pytest.mark.parametrize("crops", [5, 10])
def test_crops_equal_torchvision_five_and_ten_crop_exactly(shape, crops):
    gen = torch.Generator().manual_seed(sum(shape) + crops)
    frames = torch.randint(0, 256, (2, 16, *shape, 3), dtype=torch.uint8, generator=gen)
    prep = Preprocessing(40, 32, 1.0, 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    out = preprocess_snippets(frames, prep, crops)
    assert torch.equal(out, _reference_crops(frames, 40, 32, ten=crops == 10))


def test_legacy_ten_crop_order_is_the_first_five_flipped():
    frames = torch.randint(0, 256, (2, 16, 37, 50, 3), dtype=torch.uint8)
    out = preprocess_snippets(frames, IDENTITY, 10, crop_order="vadpipe_v1")
    assert torch.equal(out[:, 5:], out[:, :5].flip(-1))
    assert torch.equal(out[:, :5], preprocess_snippets(frames, IDENTITY, 5))
    assert not torch.equal(out[:, 5], out[:, 0])  # random content is not mirror-symmetric


def test_flipped_centre_is_cut_from_the_flipped_frame_when_the_margin_is_odd():
    frames = torch.randint(0, 256, (1, 16, 32, 65, 3), dtype=torch.uint8)  # W - 32 = 33: centre left 16
    prep = Preprocessing(32, 32, 1.0, 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    out = preprocess_snippets(frames, prep, 10)
    region = frames[0, :, :, 17:49].permute(3, 0, 1, 2).float()  # (3, 16, 32, 32): flipped frame's centre
    assert torch.equal(out[0, 9], region.flip(-1))
    assert not torch.equal(out[0, 9], out[0, 4].flip(-1))  # mirroring the centre crop is one pixel off


def test_crop_order_must_fit_the_crop_count():
    frames = torch.zeros(1, 16, 32, 32, 3, dtype=torch.uint8)
    with pytest.raises(UsageError, match="10 crops, not 5"):
        preprocess_snippets(frames, IDENTITY, 5, crop_order="tencrop")
    assert resolve_crop_order(10) == "tencrop" and resolve_crop_order(5) == "center_first"


def test_crop_boxes_centre_rounds_like_torchvision():
    assert crop_boxes(64, 97, 32, 5) == [(16, 32), (0, 0), (0, 65), (32, 0), (32, 65)]
    assert crop_boxes(64, 97, 32, 1) == [(16, 32)]


def _cv2_linear_by_hand(img: torch.Tensor, s: float) -> torch.Tensor:
    """cv2.resize(img, None, fx=s, fy=s) INTER_LINEAR on uint8, pixel by pixel, as OpenCV's resize.cpp does it:
    11-bit weights from float positions, rows in integers, then VResizeLinearVec_32s8u's vertical pass."""
    h, w = img.shape
    oh, ow = round(h * s), round(w * s)
    out = torch.empty(oh, ow, dtype=torch.int64)

    def taps(d, n, clamp):
        f = np.float32((d + 0.5) * (1 / s) - 0.5)
        i = math.floor(f)
        f = np.float32(f - np.float32(i))
        if clamp and (i < 0 or i >= n - 1):
            i, f = (0 if i < 0 else n - 1), np.float32(0)
        weights = (int(np.rint((np.float32(1) - f) * np.float32(2048))), int(np.rint(f * np.float32(2048))))
        return (min(max(i, 0), n - 1), min(max(i + 1, 0), n - 1)), weights

    for y in range(oh):
        (y0, y1), (b0, b1) = taps(y, h, clamp=False)  # rows are clamped, their weights are not
        for x in range(ow):
            (x0, x1), (a0, a1) = taps(x, w, clamp=True)
            top = int(img[y0, x0]) * a0 + int(img[y0, x1]) * a1
            bottom = int(img[y1, x0]) * a0 + int(img[y1, x1]) * a1
            out[y, x] = min(255, ((((top >> 4) * b0) >> 16) + (((bottom >> 4) * b1) >> 16) + 2) >> 2)
    return out


@pytest.mark.parametrize("shape, short", [((6, 9), 8), ((12, 7), 5), ((10, 15), 4)])  # up, down, odd ratios
def test_scale_factor_resize_matches_a_hand_computed_opencv_bilinear(shape, short):
    gen = torch.Generator().manual_seed(7)
    img = torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)
    out = resize_opencv_linear(img.view(1, 1, *shape).expand(1, 3, *shape), short)
    s = short / min(shape)
    expected = _cv2_linear_by_hand(img, s)
    assert out.shape == (1, 3, round(shape[0] * s), round(shape[1] * s))
    assert torch.equal(out[0, 0].long(), expected)


def test_scale_factor_of_one_half_rounds_block_means_half_up_like_opencv():
    # short side 512 -> s = 0.5: OpenCV's INTER_LINEAR turns into INTER_AREA, (a + b + c + d + 2) >> 2 per 2x2 block
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (3, 512, 683), dtype=np.int64)  # odd width: 341.5 -> 342 columns (half to even)
    out = resize_opencv_linear(torch.from_numpy(frame).to(torch.uint8)[None], 256)[0].numpy()
    assert out.shape == (3, 256, 342)
    blocks = frame[:, :, :682].reshape(3, 256, 2, 341, 2).sum(axis=(2, 4))
    assert (out[:, :, :341] == (blocks + 2) // 4).all()
    assert np.mean(blocks % 4 == 2) > 0.2  # plenty of ties, each one level up from half-to-even's on odd quotients
    last = frame[:, 0::2, 682] + frame[:, 1::2, 682]  # the cut last column: the mean of two, half to even
    assert (out[:, :, 341] == np.array([round(v / 2) for v in last.ravel()]).reshape(last.shape)).all()


def test_scale_factor_steps_by_the_factor_not_the_size_ratio():
    # 3 x 10 -> s = 4/3: width round(13.33) = 13, but the source is stepped by 3/4, not by 10/13
    img = torch.arange(10, dtype=torch.uint8).mul(20).view(1, 1, 1, 10).expand(1, 3, 3, 10)
    out = resize_opencv_linear(img, 4)
    assert out.shape[-2:] == (4, 13)
    sized = TF.resize(img.float(), [4, 13], interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    assert not torch.equal(out, sized.round())
    # source x = 0.625 -> 12.5, but OpenCV's vertical pass drops low bits before it rounds: 12 (as cv2 4.14 gives)
    assert out[0, 0, 0, 1].item() == 12


def test_inception_uses_the_scale_factor_resize_and_resnet3d_the_short_side_one():
    assert BACKBONES["inception_i3d"].preprocessing.resize_mode == "opencv_linear"
    assert BACKBONES["resnet3d"].preprocessing.resize_mode == "short_side"
    frames = torch.randint(0, 256, (1, 16, 30, 41, 3), dtype=torch.uint8)
    prep = BACKBONES["inception_i3d"].preprocessing
    out = preprocess_snippets(frames, prep, 1, resize_short=32, crop_size=32)
    x = resize_opencv_linear(frames[0].permute(0, 3, 1, 2), 32)  # (16, 3, 32, 44)
    expected = (x[..., :, 6:38] * (2 / 255) - 1).permute(1, 0, 2, 3)  # centre crop, [-1, 1]
    assert torch.allclose(out[0, 0], expected, atol=1e-6)


@pytest.mark.parametrize(
    "backbone, low, high",
    [("i3d_r50", -2.0, 2.4444444), ("resnet3d", -2.0, 2.4444444), ("inception_i3d", -1.0, 1.0)],
)
def test_value_range_of_each_backbone_normalisation(backbone, low, high):
    frames = torch.zeros(2, 16, 20, 20, 3, dtype=torch.uint8)
    frames[1] = 255
    out = preprocess_snippets(frames, BACKBONES[backbone].preprocessing, 1, resize_short=20, crop_size=16)
    assert out[0].unique().tolist() == pytest.approx([low], abs=1e-5)
    assert out[1].unique().tolist() == pytest.approx([high], abs=1e-5)


def test_inception_mid_grey_maps_near_zero():
    frames = torch.full((1, 16, 8, 8, 3), 128, dtype=torch.uint8)
    out = preprocess_snippets(frames, BACKBONES["inception_i3d"].preprocessing, 1, resize_short=8, crop_size=8)
    assert out.unique().tolist() == pytest.approx([2 * 128 / 255 - 1], abs=1e-6)


def test_odd_small_frames_are_resized_up_to_the_backbone_size():
    frames = torch.full((1, 16, 17, 13, 3), 200, dtype=torch.uint8)  # H=17, W=13: short side 13 -> 256
    prep = BACKBONES["resnet3d"].preprocessing
    out = preprocess_snippets(frames, prep, 1)
    assert out.shape == (1, 1, 3, 16, 224, 224)
    assert out.unique().tolist() == pytest.approx([(200 - 114.75) / 57.375], abs=1e-5)


def test_bad_crop_count_and_crop_larger_than_resize_are_usage_errors():
    frames = torch.zeros(1, 16, 8, 8, 3, dtype=torch.uint8)
    with pytest.raises(UsageError, match="1, 5, 10"):
        preprocess_snippets(frames, IDENTITY, 3)
    with pytest.raises(UsageError, match="larger than"):
        preprocess_snippets(frames, IDENTITY, 1, resize_short=16, crop_size=32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_like_on_cpu():
    frames = torch.randint(0, 256, (2, 16, 30, 41, 3), dtype=torch.uint8)
    cpu = preprocess_snippets(frames, IDENTITY, 10)
    gpu = preprocess_snippets(frames.cuda(), IDENTITY, 10)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1.0, rtol=0)  # resize kernels may round differently


def test_stores_made_with_the_older_scale_factor_resize_are_still_extracted_as_they_were_made():
    """resize_mode scale_factor (vadpipe 0.1.0's float arithmetic) stays what it was; a store or run recording it is
    not silently extracted with the exact OpenCV arithmetic, whose values differ by a level in places."""
    from vadpipe.core.feature_spec import FeatureSpec

    frame = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 512, 683), dtype=np.uint8))
    old, exact = resize_scale_factor(frame, 256), resize_opencv_linear(frame, 256)
    assert old.shape == exact.shape and (old != exact).any() and (old - exact).abs().max() == 1
    recorded = FeatureSpec.from_record({"backbone": "inception_i3d", "crops": 5, "resize_mode": "scale_factor"})
    assert recorded.resize_mode == "scale_factor" and recorded != FeatureSpec.resolve("inception_i3d")
