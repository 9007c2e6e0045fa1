"""The I3D ResNet-50 of the Caffe2 non-local codebase, in the pytorch-resnet3d key layout.

This is the network behind the RTFM UCF-Crime features (`i3d_r50_kinetics.pth`, ported
from `i3d_baseline_32x2_IN_pretrain_400k.pkl`), without non-local blocks. Facts that
fix the layout:

- stem: conv (5, 7, 7), stride (2, 2, 2), padding (2, 3, 3); BN; ReLU; max-pool (2, 3, 3)
  stride (2, 2, 2) without padding;
- a second max-pool (2, 1, 1) stride (2, 1, 1) after ``layer1``;
- bottleneck ``conv1`` has temporal kernel 3 (padding 1) in blocks layer1: all,
  layer2: 0 and 2, layer3: 0, 2, 4, layer4: 1; all other ``conv1`` are 1x1x1;
  ``conv2`` is (1, 3, 3) and carries the spatial stride; no temporal strides;
- ``downsample`` = 1x1x1 conv (spatial stride) + BN on the first block of each layer;
- ``fc`` (2048 -> 400) after a global average pool; the feature is the pooled 2048-d vector.
"""

from __future__ import annotations

import torch
from torch import nn

# Which bottlenecks inflate conv1 to a temporal kernel of 3, per layer.
TEMPORAL_CONV1 = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
WIDTHS = (64, 128, 256, 512)
EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1 (or 3x1x1) -> 1x3x3 (spatial stride) -> 1x1, with a residual connection."""

    def __init__(self, in_channels: int, width: int, *, stride: int, temporal: bool, downsample: bool):
        super().__init__()
        kt = 3 if temporal else 1
        self.conv1 = nn.Conv3d(in_channels, width, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(width, width, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, width * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(width * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(
                nn.Conv3d(in_channels, width * EXPANSION, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(width * EXPANSION),
            )
            if downsample
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class ResNet3D50(nn.Module):
    """I3D ResNet-50 (non-local codebase, no non-local blocks): (N, 3, T, H, W) -> (N, 2048)."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, (5, 7, 7), stride=(2, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool1 = nn.MaxPool3d((2, 3, 3), stride=(2, 2, 2))
        self.maxpool2 = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1))
        in_channels = 64
        for i, (width, temporal) in enumerate(zip(WIDTHS, TEMPORAL_CONV1, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j, t in enumerate(temporal):
                blocks.append(
                    Bottleneck(in_channels, width, stride=stride if j == 0 else 1, temporal=bool(t), downsample=j == 0)
                )
                in_channels = width * EXPANSION
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(in_channels, num_classes)  # unused: kept so the checkpoint's classifier loads
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> (N, 2048)."""
        x = self.maxpool1(self.relu(self.bn1(self.conv1(x))))  # (N, 64, T/4, H/4, W/4)
        x = self.maxpool2(self.layer1(x))  # (N, 256, T/8, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(x)))  # (N, 2048, T/8, H/32, W/32)
        return x.mean(dim=(2, 3, 4))  # (N, 2048)
