"""preprocess_snippets: crop order, flips, per-backbone value ranges, odd frame sizes."""

from __future__ import annotations

import pytest
import torch

from vadpipe.backbones.preprocess import crop_boxes, preprocess_snippets
from vadpipe.backbones.registry import BACKBONES, Preprocessing
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


@pytest.mark.parametrize("crops", [1, 5, 10])
def test_crop_order_is_centre_then_corners(crops):
    out = preprocess_snippets(_marked_snippet(), IDENTITY, crops)
    assert out.shape == (1, crops, 3, 16, 32, 32) and out.dtype == torch.float32
    names = list(CENTRES)[: 1 if crops == 1 else 5]
    for i, name in enumerate(names):
        centre_pixel = out[0, i, :, 7, 16, 16]  # (3,) RGB at the crop's own centre
        assert centre_pixel.tolist() == pytest.approx(COLOURS[name]), name
    # time order is kept: the background of frame t is 10 * t
    assert out[0, 0, 0, :, 0, 0].tolist() == pytest.approx([10.0 * t for t in range(16)])


def test_crops_six_to_ten_are_the_first_five_flipped_horizontally():
    frames = torch.randint(0, 256, (2, 16, 37, 50, 3), dtype=torch.uint8)
    out = preprocess_snippets(frames, IDENTITY, 10)
    assert torch.equal(out[:, 5:], out[:, :5].flip(-1))
    assert not torch.equal(out[:, 5], out[:, 0])  # random content is not mirror-symmetric


def test_crop_boxes_centre_rounds_like_torchvision():
    assert crop_boxes(64, 97, 32, 5) == [(16, 32), (0, 0), (0, 65), (32, 0), (32, 65)]
    assert crop_boxes(64, 97, 32, 1) == [(16, 32)]


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
