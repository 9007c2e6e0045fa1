"""The anomaly scorer: LA-Net -> MLP -> causal conv -> sigmoid (paper §2.3, eq. 5)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vadpipe.model.config import ScorerConfig
from vadpipe.model.lanet import LocalityAwareAttention


class ScorerOutput(NamedTuple):
    scores: torch.Tensor  # (B, T) anomaly scores in [0, 1]
    embeddings: torch.Tensor  # (B, T, mlp_dims[-1]) the robust representation X^F used by DDL


class AnomalyScorer(nn.Module):
    """LA-Net + two-layer MLP (GELU, dropout) + causal 1-D conv with one output channel."""

    def __init__(self, cfg: ScorerConfig):
        super().__init__()
        self.cfg = cfg
        self.lanet = LocalityAwareAttention(cfg)
        layers: list[nn.Module] = []
        width = cfg.feature_dim
        for dim in cfg.mlp_dims:
            layers += [nn.Linear(width, dim), nn.GELU(), nn.Dropout(cfg.dropout)]
            width = dim
        self.mlp = nn.Sequential(*layers)
        self.causal_conv = nn.Conv1d(width, 1, kernel_size=cfg.conv_kernel)
        self.apply(_xavier_init)
        if cfg.conv_init == "newest" or (cfg.conv_init == "auto" and cfg.window):
            # At L = 0 nothing after snippet t can offset a conv that weighs the K-1 older embeddings as much
            # as the newest: start from the newest alone (docs/performance.md, live detection).
            with torch.no_grad():
                self.causal_conv.weight[..., :-1] = 0  # (1, F, K): taps oldest .. newest
        if cfg.standardize:  # set from the training features by set_feature_statistics
            self.register_buffer("input_mean", torch.zeros(cfg.feature_dim))
            self.register_buffer("input_std", torch.ones(cfg.feature_dim))

    def set_band(self, window: int | None = None, lookahead: int | None = None) -> None:
        """Score with this attention band instead of the trained one (None: keep that part of it), in place.

        Raises:
            ConfigError: a lookahead without a window (``params`` window, lookahead).
        """
        from vadpipe.core.band import resolve_band

        self.cfg.window, self.cfg.lookahead = resolve_band((self.cfg.window, self.cfg.lookahead), window, lookahead)

    def set_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-dimension (D,) mean and std of the training features (``cfg.standardize`` only)."""
        if not self.cfg.standardize:
            raise ValueError("this scorer was built without standardize=True")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> ScorerOutput:
        """
        Args:
            x: (B, T, D) features of one crop per bag.
            mask: (B, T) bool, True for real snippets (None: all real).
        """
        if self.cfg.standardize:
            x = (x - self.input_mean) / self.input_std
            if mask is not None:
                x = x * mask[..., None].to(x.dtype)  # padding stays zero
        embeddings = self.mlp(self.lanet(x, mask))  # (B, T, F)
        return ScorerOutput(self.scores_from_embeddings(embeddings), embeddings)

    def scores_from_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Causal conv + sigmoid (eq. 5): (B, T, F) -> (B, T)."""
        # Left-pad K-1 zeros so score t sees embeddings t-K+1 .. t only.
        padded = F.pad(embeddings.transpose(1, 2), (self.cfg.conv_kernel - 1, 0))  # (B, F, T+K-1)
        return torch.sigmoid(self.causal_conv(padded)).squeeze(1)  # (B, T)

    @torch.inference_mode()
    def score_video(self, features: torch.Tensor, max_positions: int = 65_536) -> torch.Tensor:
        """Scores of one whole video, averaged over crops (each crop is one sequence).

        Args:
            features: (T, C, D) or (T, D), on any device (moved to the model's).
            max_positions: crops are batched so that a batch holds at most this many snippets
                (bounded memory for hour-long videos).
        Returns:
            (T,) scores on the model's device.
        """
        if features.dim() == 2:
            features = features[:, None, :]
        device = next(self.parameters()).device
        t, c, _ = features.shape
        per_batch = max(1, max_positions // max(t, 1))
        total = torch.zeros(t, device=device)
        for start in range(0, c, per_batch):
            chunk = features[:, start : start + per_batch].permute(1, 0, 2)  # (c', T, D)
            chunk = chunk.to(device, dtype=torch.float32, non_blocking=True)
            total += self(chunk).scores.sum(dim=0)
        return total / c


def _xavier_init(module: nn.Module) -> None:
    # The authors' public code initialises every linear / conv weight with Xavier-uniform.
    if isinstance(module, (nn.Linear, nn.Conv1d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
