"""The three training losses: MIL (eq. 6), dynamics ranking (eq. 7–8), dynamics alignment (eq. 9–10).

Shapes: B bags, T positions (real snippets first, then padding), F embedding width.
``mask`` is (B, T) bool, True for real snippets; padding never contributes to a loss.
``labels`` is (B,) with 1 for abnormal (positive) and 0 for normal (negative) bags.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vadpipe import SNIPPET_FRAMES


def bag_k(lengths: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """k of the top-k: floor(T / 16) + 1 for abnormal bags, 1 for normal ones; T the real length. (B,)"""
    k_abnormal = torch.div(lengths, SNIPPET_FRAMES, rounding_mode="floor") + 1
    return torch.where(labels.bool(), k_abnormal, torch.ones_like(lengths))


def topk_mean(values: torch.Tensor, valid: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Per-row mean of the k largest valid values.

    Args:
        values: (B, L). valid: (B, L) bool. k: (B,) int, clamped to [1, number of valid values].
    Returns:
        (B,); 0 for a row without any valid value.
    """
    n_valid = valid.sum(dim=1)
    k = torch.minimum(k, n_valid).clamp(min=1)
    ranked = values.masked_fill(~valid, float("-inf")).sort(dim=1, descending=True).values  # (B, L)
    take = torch.arange(values.shape[1], device=values.device)[None, :] < k[:, None]  # (B, L)
    take = take & torch.isfinite(ranked)
    total = torch.where(take, ranked, torch.zeros_like(ranked)).sum(dim=1)
    return torch.where(n_valid > 0, total / k, torch.zeros_like(total))


def mil_loss(scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Top-k MIL loss (eq. 6): binary cross-entropy of each bag's top-k mean score.

    Eq. 6 as printed keeps only the -y log p term; with it alone normal bags would be
    unconstrained, so the full binary cross-entropy is used (as the task and the
    authors' code do).

    Args:
        scores: (B, T) in [0, 1]. mask: (B, T) bool. labels: (B,).
    Returns:
        scalar, mean over the B bags.
    """
    k = bag_k(mask.sum(dim=1), labels)
    video_scores = topk_mean(scores, mask, k).clamp(1e-7, 1 - 1e-7)  # (B,)
    return F.binary_cross_entropy(video_scores, labels.to(scores.dtype))


def _pair_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, T-1) True where both t and t+1 are real snippets."""
    return mask[:, :-1] & mask[:, 1:]


def score_dynamics(scores: torch.Tensor) -> torch.Tensor:
    """delta^s_t = |s_t - s_{t+1}|, (B, T) -> (B, T-1)."""
    return (scores[:, :-1] - scores[:, 1:]).abs()


def feature_dynamics(embeddings: torch.Tensor) -> torch.Tensor:
    """delta^f_t = 1 - cos(x^F_t, x^F_{t+1}) (eq. 9), (B, T, F) -> (B, T-1)."""
    return 1 - F.cosine_similarity(embeddings[:, :-1], embeddings[:, 1:], dim=-1)


def dynamics_accumulation(scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """E_dS (eq. 7): mean of the top-k squared score dynamics of each bag, (B,)."""
    k = bag_k(mask.sum(dim=1), labels)
    return topk_mean(score_dynamics(scores) ** 2, _pair_mask(mask), k)


def dynamics_ranking_loss(
    scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, margin: float = 0.0
) -> torch.Tensor:
    """Dynamics ranking loss (eq. 8): max(0, zeta - E^a + E^n), averaged over every
    (abnormal, normal) pair of bags in the batch.

    Args:
        scores: (B, T). mask: (B, T) bool. labels: (B,). margin: zeta.
    Returns:
        scalar; 0 when the batch lacks either class.
    """
    energy = dynamics_accumulation(scores, mask, labels)  # (B,)
    positive, negative = energy[labels.bool()], energy[~labels.bool()]
    if positive.numel() == 0 or negative.numel() == 0:
        return scores.sum() * 0.0
    return F.relu(margin - positive[:, None] + negative[None, :]).mean()


def dynamics_alignment_loss(
    scores: torch.Tensor, embeddings: torch.Tensor, mask: torch.Tensor, eps: float = 1e-7
) -> torch.Tensor:
    """Dynamics alignment loss (eq. 10): -delta^s_t log(delta^f_t + eps), averaged over
    the N x (T-1) valid positions (both t and t+1 real).

    Args:
        scores: (B, T). embeddings: (B, T, F), the MLP output X^F. mask: (B, T) bool.
    Returns:
        scalar.
    """
    valid = _pair_mask(mask)  # (B, T-1)
    terms = -score_dynamics(scores) * torch.log(feature_dynamics(embeddings) + eps)  # (B, T-1)
    return torch.where(valid, terms, torch.zeros_like(terms)).sum() / valid.sum().clamp(min=1)


def total_loss(out_scores, embeddings, mask, labels, cfg) -> tuple[torch.Tensor, dict[str, float]]:
    """L = L_MIL + lambda_1 L_DR + lambda_2 L_DA (eq. 11), with the ablation switches of ``cfg``.

    Args:
        cfg: a :class:`vadpipe.model.config.LossConfig`.
    Returns:
        (loss, parts) where parts holds the float value of each term.
    """
    loss = mil_loss(out_scores, mask, labels)
    parts = {"mil": float(loss.detach())}
    if cfg.use_dr:
        dr = dynamics_ranking_loss(out_scores, mask, labels, cfg.margin)
        loss = loss + cfg.lambda_dr * dr
        parts["dr"] = float(dr.detach())
    if cfg.use_da:
        da = dynamics_alignment_loss(out_scores, embeddings, mask, cfg.eps)
        loss = loss + cfg.lambda_da * da
        parts["da"] = float(da.detach())
    parts["total"] = float(loss.detach())
    return loss, parts
