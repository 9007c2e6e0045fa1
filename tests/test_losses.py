"""Each loss checked against values computed by hand on tiny inputs."""

import math

import pytest
import torch

from vadpipe.model.config import LossConfig
from vadpipe.model.losses import (
    bag_k,
    dynamics_accumulation,
    dynamics_alignment_loss,
    dynamics_ranking_loss,
    feature_dynamics,
    mil_loss,
    topk_mean,
    total_loss,
)


def test_bag_k_is_floor_t_over_16_plus_1_for_abnormal_and_1_for_normal():
    lengths = torch.tensor([15, 16, 33, 200, 200])
    labels = torch.tensor([1, 1, 1, 1, 0])
    assert bag_k(lengths, labels).tolist() == [1, 2, 3, 13, 1]


def test_topk_mean_ignores_invalid_values():
    values = torch.tensor([[0.1, 0.9, 0.5, 0.7], [0.1, 0.9, 0.5, 0.7]])
    valid = torch.tensor([[True, True, True, True], [True, False, True, True]])
    out = topk_mean(values, valid, torch.tensor([2, 2]))
    assert out.tolist() == pytest.approx([0.8, 0.6])


def test_mil_loss_is_bce_of_topk_mean_over_real_snippets():
    scores = torch.tensor([[0.2, 0.8, 0.6, 0.0], [0.1, 0.3, 0.99, 0.99]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    labels = torch.tensor([1, 0])
    # abnormal: T=3, k=1 -> p=0.8 ; normal: k=1 over the two real scores -> p=0.3 (padding's 0.99 ignored)
    expected = (-math.log(0.8) - math.log(1 - 0.3)) / 2
    assert mil_loss(scores, mask, labels).item() == pytest.approx(expected, rel=1e-5)


def test_mil_loss_uses_k_top_scores_for_long_abnormal_bags():
    scores = torch.full((1, 32), 0.1)
    scores[0, [3, 10, 20]] = torch.tensor([0.9, 0.6, 0.3])
    mask = torch.ones(1, 32, dtype=torch.bool)
    # T=32 -> k=3: mean(0.9, 0.6, 0.3) = 0.6
    assert mil_loss(scores, mask, torch.tensor([1])).item() == pytest.approx(-math.log(0.6), rel=1e-5)


def test_dynamics_accumulation_is_mean_of_topk_squared_score_changes():
    abnormal = torch.tensor([[0.0, 1.0, 0.0, 0.5] + [0.5] * 12])  # T=16 -> k=2; deltas 1, 1, 0.5, 0...
    normal = torch.tensor([[0.2, 0.3, 0.3, 0.9] + [0.0] * 12])  # only 3 real snippets
    scores = torch.cat([abnormal, normal])
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0] = True
    mask[1, :3] = True
    energy = dynamics_accumulation(scores, mask, torch.tensor([1, 0]))
    # abnormal: (1^2 + 1^2) / 2 = 1 ; normal: k=1, deltas 0.1, 0 (0.6 into padding ignored) -> 0.01
    assert energy.tolist() == pytest.approx([1.0, 0.01], rel=1e-5)


def test_dynamics_ranking_loss_is_hinge_over_all_abnormal_normal_pairs():
    scores = torch.tensor(
        [
            [0.0, 0.5, 0.1, 0.1],  # abnormal, E = 0.5^2 = 0.25
            [0.0, 0.1, 0.1, 0.1],  # abnormal, E = 0.01
            [0.2, 0.5, 0.5, 0.9],  # normal, E over 3 real snippets = 0.3^2 = 0.09
        ]
    )
    mask = torch.tensor([[True] * 4, [True] * 4, [True, True, True, False]])
    labels = torch.tensor([1, 1, 0])
    # pairs: max(0, 0 - 0.25 + 0.09) = 0 ; max(0, 0 - 0.01 + 0.09) = 0.08 -> mean 0.04
    assert dynamics_ranking_loss(scores, mask, labels).item() == pytest.approx(0.04, rel=1e-5)
    # margin 0.5: (0.5 - 0.25 + 0.09) and (0.5 - 0.01 + 0.09) -> mean (0.34 + 0.58) / 2
    assert dynamics_ranking_loss(scores, mask, labels, margin=0.5).item() == pytest.approx(0.46, rel=1e-5)


def test_dynamics_ranking_loss_is_zero_without_both_classes():
    scores = torch.rand(2, 5, requires_grad=True)
    loss = dynamics_ranking_loss(scores, torch.ones(2, 5, dtype=torch.bool), torch.tensor([1, 1]))
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph


def test_feature_dynamics_is_one_minus_cosine():
    emb = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]])
    expected = [1 - 1 / math.sqrt(2), 1 - 1 / math.sqrt(2)]
    assert feature_dynamics(emb)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_dynamics_alignment_loss_averages_over_valid_positions():
    scores = torch.tensor([[0.0, 0.5, 0.2, 0.9]])
    emb = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [-5.0, 3.0]]])
    mask = torch.tensor([[True, True, True, False]])
    eps = 1e-7
    d_f = 1 - 1 / math.sqrt(2)
    # positions t=1,2 are valid: -0.5 log(d_f + eps) - 0.3 log(d_f + eps), divided by N(T-1) = 2
    expected = -(0.5 + 0.3) * math.log(d_f + eps) / 2
    got = dynamics_alignment_loss(scores, emb, mask, eps=eps).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_total_loss_honours_ablation_switches():
    torch.manual_seed(0)
    scores = torch.rand(4, 6)
    emb = torch.randn(4, 6, 3)
    mask = torch.ones(4, 6, dtype=torch.bool)
    labels = torch.tensor([1, 1, 0, 0])
    cfg = LossConfig(lambda_dr=2.0, lambda_da=3.0)
    loss, parts = total_loss(scores, emb, mask, labels, cfg)
    assert loss.item() == pytest.approx(parts["mil"] + 2 * parts["dr"] + 3 * parts["da"], rel=1e-5)
    loss, parts = total_loss(scores, emb, mask, labels, LossConfig(use_dr=False, use_da=False))
    assert set(parts) == {"mil", "total"} and loss.item() == pytest.approx(parts["mil"])


def test_alignment_gradient_stays_finite_with_identical_padded_embeddings():
    scores = torch.tensor([[0.1, 0.7, 0.3, 0.3, 0.3]], requires_grad=True)
    emb = torch.tensor([[[1.0, 2.0], [0.5, -1.0], [3.0, 3.0], [1e-3, 1e-3], [1e-3, 1e-3]]], requires_grad=True)
    mask = torch.tensor([[True, True, True, False, False]])
    dynamics_alignment_loss(scores, emb, mask).backward()
    assert torch.isfinite(scores.grad).all() and torch.isfinite(emb.grad).all()
    assert emb.grad[0, 3:].abs().sum() == 0  # padding gets no gradient
