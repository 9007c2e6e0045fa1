"""Stand-in backbones for tests: tiny, exact or cheap, with the ``spec`` that extract needs."""

from __future__ import annotations

import torch
from torch import nn

from vadpipe.core.backbone_facts import BackboneSpec, Preprocessing


class FrameMeans(nn.Module):
    """(N, 3, 16, h, w) -> (N, 16), the mean of each frame of the clip; counts its calls."""

    spec = BackboneSpec("frame_means", 16, Preprocessing(24, 16, 1.0, 0.0, (0, 0, 0), (1, 1, 1)), "-", "test")
    random_init = False

    def __init__(self):
        super().__init__()
        self.calls = []  # batch size of each call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        return x.mean(dim=(1, 3, 4))  # (N, 16)


class TinyConv(nn.Module):
    """One Conv3d and a global average pool: (N, 3, 16, h, w) -> (N, 8); autocast does change its output."""

    spec = BackboneSpec("tiny_conv", 8, Preprocessing(24, 16, 1 / 255, 0.0, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
                        "-", "test")
    random_init = True

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3, 4))  # (N, 8)
