"""Locality-aware Attention Network (paper §2.2, eq. 1–4).

    A   = softmax_j(phi(x_i)^T psi(x_j))          per head           (eq. 1)
    G   = exp(-|i - j|^2 / (2 sigma))                                 (eq. 2)
    A~  = A + G                                                       (eq. 3)
    X~  = LayerNorm(stack_k(A~ X W_k) W_h + X)                        (eq. 4)

Because A~ V = A V + G V, the dense T x T map is never needed: A V is softmax
attention (``scaled_dot_product_attention``, which streams over keys) and G V is
a 1-D convolution of V along time with a Gaussian kernel truncated where it drops
below ``prior_tolerance``. Memory is then linear in T, which is what lets a
whole hour-long video (~7,000 snippets) be scored at once. The dense form is kept
for tests and benchmarks (``attention="dense"``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vadpipe.model.config import ScorerConfig


def gaussian_prior(length: int, sigma: float, *, device=None, dtype=None) -> torch.Tensor:
    """The dense locality prior G (eq. 2) as a (T, T) matrix."""
    pos = torch.arange(length, device=device, dtype=dtype or torch.float32)
    return torch.exp(-((pos[:, None] - pos[None, :]) ** 2) / (2 * sigma))


def gaussian_kernel(sigma: float, tolerance: float, *, device=None, dtype=None) -> torch.Tensor:
    """G as a 1-D kernel over offsets -R..R, R the largest offset with G >= tolerance."""
    radius = int(math.floor(math.sqrt(2 * sigma * math.log(1 / tolerance))))
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=dtype or torch.float32)
    return torch.exp(-(offsets**2) / (2 * sigma))


class LocalityAwareAttention(nn.Module):
    """Multi-head attention with an additive Gaussian locality prior, a residual and LayerNorm."""

    def __init__(self, cfg: ScorerConfig):
        super().__init__()
        self.cfg = cfg
        self.heads = cfg.heads
        self.head_dim = cfg.hidden_dim // cfg.heads
        self.phi = nn.Linear(cfg.feature_dim, cfg.hidden_dim)  # queries
        self.psi = nn.Linear(cfg.feature_dim, cfg.hidden_dim)  # keys
        self.value = nn.Linear(cfg.feature_dim, cfg.hidden_dim)  # W_k of all heads
        self.out = nn.Linear(cfg.hidden_dim, cfg.feature_dim)  # W_h
        self.norm = nn.LayerNorm(cfg.feature_dim)
        self.register_buffer(
            "prior_kernel", gaussian_kernel(cfg.sigma, cfg.prior_tolerance), persistent=False
        )

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (B, k, T, dh)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            x: (B, T, D) snippet features.
            mask: (B, T) bool, True for real snippets; None when every position is real.
        Returns:
            (B, T, D) recalibrated features X~.
        """
        q = self._split_heads(self.phi(x))  # (B, k, T, dh)
        k = self._split_heads(self.psi(x))  # (B, k, T, dh)
        v = self._split_heads(self.value(x))  # (B, k, T, dh)
        if mask is not None:
            v = v * mask[:, None, :, None].to(v.dtype)  # padded keys carry nothing through G
        scale = None if self.cfg.scaled_attention else 1.0
        if self.cfg.attention == "dense":
            context = self._dense(q, k, v, mask, scale)
        else:
            key_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, T)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, scale=scale)
            if self.cfg.use_prior:
                context = context + self._prior_conv(v)
        b, _, t, _ = context.shape
        context = context.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)  # (B, T, D_h)
        return self.norm(self.out(context) + x)

    def _prior_conv(self, v: torch.Tensor) -> torch.Tensor:
        """G V as a zero-padded 1-D convolution along time, (B, k, T, dh) -> (B, k, T, dh)."""
        b, h, t, d = v.shape
        kernel = self.prior_kernel.to(v.dtype)
        radius = kernel.numel() // 2
        signal = v.permute(0, 1, 3, 2).reshape(b * h * d, 1, t)  # (B*k*dh, 1, T)
        smoothed = F.conv1d(signal, kernel.view(1, 1, -1), padding=radius)  # symmetric kernel
        return smoothed.view(b, h, d, t).permute(0, 1, 3, 2)

    def _dense(self, q, k, v, mask, scale) -> torch.Tensor:
        """A~ V with the explicit (B, k, T, T) map: the reference the linear form must equal."""
        t = q.shape[-2]
        logits = q @ k.transpose(-1, -2) * (scale if scale is not None else 1 / math.sqrt(self.head_dim))
        if mask is not None:
            logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = logits.softmax(dim=-1)  # (B, k, T, T)
        if self.cfg.use_prior:
            attn = attn + gaussian_prior(t, self.cfg.sigma, device=q.device, dtype=q.dtype)
        return attn @ v
