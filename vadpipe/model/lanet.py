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

Banded attention (``window`` W > 0, ``lookahead`` L): snippet i sees snippets
i-W+1 .. i+L only, both in the softmax and in the prior, so a score needs nothing
older than W snippets nor newer than L (what live scoring can afford; see
``vadpipe/model/online.py``, which computes the same numbers one snippet at a time).
The linear path stays linear: queries go in blocks, each against its own key span.

Under a band the prior stays centred (``band_prior="centred"``): it spans i-r .. i+r with
r = min(radius, W-1, L). Cut to the band itself (``"band"``, i-W+1 .. i+L), its past half
alone would add a weighted mean of the last ~2 sqrt(sigma) snippets to every snippet: a lag
of several snippets at L = 0 (docs/performance.md measures it).
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


def band_mask(queries: torch.Tensor, keys: torch.Tensor, window: int, lookahead: int) -> torch.Tensor:
    """(Q, K) bool: True where key position j is within query position i's band i-W+1 <= j <= i+L."""
    offset = keys[None, :] - queries[:, None]  # (Q, K)
    return (offset > -window) & (offset <= lookahead)


def prior_span(radius: int, window: int, lookahead: int, band_prior: str = "centred") -> tuple[int, int]:
    """How far back and ahead the (truncated) prior reaches: (radius, radius) offline; under a band,
    ``centred`` (r, r) with r = min(radius, W - 1, L), ``band`` (min(radius, W - 1), min(radius, L))."""
    if not window:
        return radius, radius
    if band_prior == "centred":
        r = min(radius, window - 1, lookahead)
        return r, r
    return min(radius, window - 1), min(radius, lookahead)


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
            if self.cfg.window:
                context = self._banded(q, k, v, mask, scale)
            else:
                key_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, T)
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, scale=scale)
            if self.cfg.use_prior:
                context = context + self._prior_conv(v)
        b, _, t, _ = context.shape
        context = context.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)  # (B, T, D_h)
        return self.norm(self.out(context) + x)

    def prior_taps(self) -> tuple[torch.Tensor, int]:
        """The prior's weights over offsets -back .. +ahead (cut to the band), and ``back``."""
        radius = self.prior_kernel.numel() // 2
        back, ahead = prior_span(radius, self.cfg.window, self.cfg.lookahead, self.cfg.band_prior)
        return self.prior_kernel[radius - back : radius + ahead + 1], back

    def _prior_conv(self, v: torch.Tensor) -> torch.Tensor:
        """G V as a zero-padded 1-D convolution along time, (B, k, T, dh) -> (B, k, T, dh)."""
        b, h, t, d = v.shape
        taps, back = self.prior_taps()
        ahead = taps.numel() - 1 - back
        signal = v.permute(0, 1, 3, 2).reshape(b * h * d, 1, t)  # (B*k*dh, 1, T)
        signal = F.pad(signal, (back, ahead))  # (B*k*dh, 1, T + back + ahead)
        smoothed = F.conv1d(signal, taps.to(v.dtype).view(1, 1, -1))  # out[i] = sum_o G(o) v[i + o]
        return smoothed.view(b, h, d, t).permute(0, 1, 3, 2)

    def _banded(self, q, k, v, mask, scale) -> torch.Tensor:
        """Softmax attention within the band, queries in blocks: memory O(T (block + W + L)), not O(T^2)."""
        t = q.shape[-2]
        window, lookahead = self.cfg.window, self.cfg.lookahead
        block = max(64, window + lookahead)
        pos = torch.arange(t, device=q.device)
        parts = []
        for start in range(0, t, block):
            end = min(t, start + block)
            k0, k1 = max(0, start - window + 1), min(t, end + lookahead)
            allowed = band_mask(pos[start:end], pos[k0:k1], window, lookahead)  # (Q, K)
            if mask is not None:
                allowed = allowed & self._real_or_self(mask, pos[start:end], pos[k0:k1], k0)  # (B, 1, Q, K)
            parts.append(F.scaled_dot_product_attention(
                q[:, :, start:end], k[:, :, k0:k1], v[:, :, k0:k1], attn_mask=allowed, scale=scale))
        return torch.cat(parts, dim=2)  # (B, k, T, dh)

    @staticmethod
    def _real_or_self(mask, queries, keys, k0) -> torch.Tensor:
        # A padded query may find no real key in its band; letting it see itself keeps its softmax
        # finite (its output is padding, ignored by the losses, and its value is zeroed).
        real = mask[:, None, None, k0 : k0 + keys.numel()]  # (B, 1, 1, K)
        return real | (queries[:, None] == keys[None, :])  # (B, 1, Q, K)

    def _dense(self, q, k, v, mask, scale) -> torch.Tensor:
        """A~ V with the explicit (B, k, T, T) map: the reference the linear form must equal."""
        t = q.shape[-2]
        logits = q @ k.transpose(-1, -2) * (scale if scale is not None else 1 / math.sqrt(self.head_dim))
        pos = torch.arange(t, device=q.device)
        band = None
        allowed = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, T)
        if self.cfg.window:
            band = band_mask(pos, pos, self.cfg.window, self.cfg.lookahead)  # (T, T)
            allowed = band if mask is None else band & self._real_or_self(mask, pos, pos, 0)  # (B, 1, T, T)
        if allowed is not None:
            logits = logits.masked_fill(~allowed, float("-inf"))
        attn = logits.softmax(dim=-1)  # (B, k, T, T)
        if self.cfg.use_prior:
            prior = gaussian_prior(t, self.cfg.sigma, device=q.device, dtype=q.dtype)  # (T, T)
            if band is not None:
                back, ahead = prior_span(t, self.cfg.window, self.cfg.lookahead, self.cfg.band_prior)
                prior = prior * band_mask(pos, pos, back + 1, ahead)  # the prior's own span within the band
            attn = attn + prior
        return attn @ v
