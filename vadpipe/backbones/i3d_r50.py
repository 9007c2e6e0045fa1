"""pytorchvideo's I3D ResNet-50 (`I3D_8x8_R50.pyth`), as a feature extractor.

The network is built with pytorchvideo's own `create_resnet` and the settings of its
hub entry `i3d_r50`, so the state-dict keys are exactly those of the model zoo file
(`blocks.0.conv.weight` ... `blocks.6.proj.weight`). Only the head changes: its
fixed (4, 7, 7) average pool assumes 8-frame 224x224 clips, so it becomes a global
average pool, and the 2048-d pooled feature (before the projection) is returned.
(On 16-frame clips the original head would average 5 overlapping (4, 7, 7) windows,
weighting the middle frames more; the global mean weights all positions equally.)
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

# pytorchvideo's hub entry `i3d_r50` (models/hub/resnet.py): temporal kernel 3 in conv_a of
# every block of res2, of alternate blocks of res3/res4, and of the middle block of res5.
STAGE_CONV_A_KERNEL_SIZE = (
    (3, 1, 1),
    [(3, 1, 1), (1, 1, 1)],
    [(3, 1, 1), (1, 1, 1)],
    [(1, 1, 1), (3, 1, 1)],
)


class PooledFeatureHead(nn.Module):
    """Global average pool to a (N, 2048) feature; ``proj`` is kept only so the checkpoint's head loads."""

    def __init__(self, dim_in: int = 2048, num_classes: int = 400):
        super().__init__()
        self.proj = nn.Linear(dim_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3, 4))  # (N, C, T, H, W) -> (N, C)


class I3DResNet50(nn.Module):
    """I3D ResNet-50 with pytorchvideo's key layout: ``blocks.0`` stem ... ``blocks.6`` head."""

    def __init__(self):
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # fvcore's torch.jit.script at import time
            from pytorchvideo.models.resnet import create_resnet
        net = create_resnet(
            stem_conv_kernel_size=(5, 7, 7),
            stage1_pool=nn.MaxPool3d,
            stage_conv_a_kernel_size=STAGE_CONV_A_KERNEL_SIZE,
        )
        self.blocks = net.blocks
        self.blocks[-1] = PooledFeatureHead()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> (N, 2048)."""
        for block in self.blocks:
            x = block(x)
        return x
