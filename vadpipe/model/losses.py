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


def mil_loss(scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
             denominator: float | torch.Tensor | None = None) -> torch.Tensor:
    """Top-k MIL loss (eq. 6): binary cross-entropy of each bag's top-k mean score.

    Eq. 6 as printed keeps only the -y log p term; with it alone normal bags would be
    unconstrained, so the full binary cross-entropy is used (as the task and the
    authors' code do).

    Args:
        scores: (B, T) in [0, 1]. mask: (B, T) bool. labels: (B,).
        denominator: divide the summed bag losses by this instead of B (distributed training
            divides by the global batch).
    Returns:
        scalar, mean over the B bags.
    """
    k = bag_k(mask.sum(dim=1), labels)
    video_scores = topk_mean(scores, mask, k).clamp(1e-7, 1 - 1e-7)  # (B,)
    per_bag = F.binary_cross_entropy(video_scores, labels.to(scores.dtype), reduction="none")
    return per_bag.sum() / (denominator if denominator is not None else per_bag.numel())


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
    scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, margin: float = 0.0, gather=None
) -> torch.Tensor:
    """Dynamics ranking loss (eq. 8): max(0, zeta - E^a + E^n), averaged over every
    (abnormal, normal) pair of bags in the batch.

    Args:
        scores: (B, T). mask: (B, T) bool. labels: (B,). margin: zeta.
        gather: in distributed training, a function that concatenates a (B,) tensor over all
            processes (with gradients), so the pairs span the global batch.
    Returns:
        scalar; 0 when the batch lacks either class.
    """
    energy = dynamics_accumulation(scores, mask, labels)  # (B,)
    if gather is not None:
        energy, labels = gather(energy), gather(labels)
    positive, negative = energy[labels.bool()], energy[~labels.bool()]
    if positive.numel() == 0 or negative.numel() == 0:
        return scores.sum() * 0.0
    return F.relu(margin - positive[:, None] + negative[None, :]).mean()


def dynamics_alignment_loss(
    scores: torch.Tensor, embeddings: torch.Tensor, mask: torch.Tensor, eps: float = 1e-7,
    denominator: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Dynamics alignment loss (eq. 10): -delta^s_t log(delta^f_t + eps), averaged over
    the N x (T-1) valid positions (both t and t+1 real).

    Args:
        scores: (B, T). embeddings: (B, T, F), the MLP output X^F. mask: (B, T) bool.
        denominator: divide by this instead of the local count of valid positions
            (distributed training divides by the global count).
    Returns:
        scalar.
    """
    valid = _pair_mask(mask)  # (B, T-1)
    # 1 - cos can round to just below 0 (identical padded embeddings): clamp, and keep padded
    # pairs out of the log so no NaN reaches the gradient through the masked branch.
    feature_dyn = torch.where(valid, feature_dynamics(embeddings).clamp(min=0), torch.ones_like(scores[:, 1:]))
    terms = -score_dynamics(scores) * torch.log(feature_dyn + eps)  # (B, T-1)
    total = torch.where(valid, terms, torch.zeros_like(terms)).sum()
    return total / (denominator if denominator is not None else valid.sum().clamp(min=1))


def total_loss(out_scores, embeddings, mask, labels, cfg, dist=None) -> tuple[torch.Tensor, dict[str, float]]:
    """L = L_MIL + lambda_1 L_DR + lambda_2 L_DA (eq. 11), with the ablation switches of ``cfg``.

    Args:
        cfg: a :class:`vadpipe.model.config.LossConfig`.
        dist: a :class:`vadpipe.train.distributed.DistContext` when this process holds one
            share of a global batch. Each process then returns W x its share of the global
            loss, so that DistributedDataParallel's gradient averaging gives exactly the
            gradient of the global-batch loss (the ranking pairs span the global batch).
    Returns:
        (loss, parts) where parts holds the float value of each term (of the global batch).
    """
    scale, mil_den, da_den, gather = 1.0, None, None, None
    if dist is not None and dist.world_size > 1:
        scale, gather = float(dist.world_size), dist.all_gather
        mil_den = dist.all_sum(torch.tensor(float(labels.numel()), device=labels.device))
        da_den = dist.all_sum(_pair_mask(mask).sum().to(out_scores.dtype)).clamp(min=1)
    terms = {"mil": scale * mil_loss(out_scores, mask, labels, mil_den)}
    if cfg.use_dr:
        terms["dr"] = cfg.lambda_dr * dynamics_ranking_loss(out_scores, mask, labels, cfg.margin, gather)
    if cfg.use_da:
        terms["da"] = cfg.lambda_da * scale * dynamics_alignment_loss(out_scores, embeddings, mask, cfg.eps, da_den)
    loss = sum(terms.values())
    values = torch.stack([t.detach() for t in terms.values()])
    if dist is not None and dist.world_size > 1:
        values = dist.all_sum(values) / dist.world_size  # the global-batch value of each term
    weights = {"mil": 1.0, "dr": cfg.lambda_dr, "da": cfg.lambda_da}  # parts are reported unweighted
    parts = {k: v / weights[k] if weights[k] else 0.0 for k, v in zip(terms, values.tolist(), strict=True)}
    parts["total"] = float(values.sum())
    return loss, parts
