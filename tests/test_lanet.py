"""LA-Net and the scorer: eq. 1–5 on hand-made inputs, and the linear-memory attention."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from vadpipe.model.config import ScorerConfig
from vadpipe.model.lanet import LocalityAwareAttention, gaussian_kernel, gaussian_prior
from vadpipe.model.scorer import AnomalyScorer


def test_gaussian_prior_values():
    g = gaussian_prior(5, sigma=16.0)
    assert g[0, 0].item() == 1.0
    assert g[0, 1].item() == pytest.approx(math.exp(-1 / 32))
    assert g[4, 0].item() == pytest.approx(math.exp(-16 / 32))


def test_gaussian_kernel_is_truncated_at_tolerance():
    kernel = gaussian_kernel(16.0, 1e-9)
    radius = kernel.numel() // 2
    assert radius == 25  # sqrt(2 * 16 * ln 1e9) = 25.75
    assert kernel[radius].item() == 1.0
    assert kernel[0].item() >= 1e-9 > math.exp(-((radius + 1) ** 2) / 32)


def _numpy_lanet(x, cfg, att):
    """Eq. 1–4 written out with numpy from the module's own weights."""
    w = {k: v.detach().double().numpy() for k, v in att.state_dict().items()}
    t = x.shape[0]
    q = x @ w["phi.weight"].T + w["phi.bias"]
    k = x @ w["psi.weight"].T + w["psi.bias"]
    v = x @ w["value.weight"].T + w["value.bias"]
    dh = cfg.hidden_dim // cfg.heads
    pos = np.arange(t)
    prior = np.exp(-((pos[:, None] - pos[None, :]) ** 2) / (2 * cfg.sigma))
    heads = []
    for h in range(cfg.heads):
        sl = slice(h * dh, (h + 1) * dh)
        logits = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
        a = np.exp(logits - logits.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)  # eq. 1
        heads.append((a + prior) @ v[:, sl])  # eq. 3, then A~ X W_k
    y = np.concatenate(heads, 1) @ w["out.weight"].T + w["out.bias"] + x  # eq. 4 before Norm
    mu, var = y.mean(1, keepdims=True), y.var(1, keepdims=True)
    return (y - mu) / np.sqrt(var + 1e-5) * w["norm.weight"] + w["norm.bias"]


def test_lanet_matches_equations_1_to_4_written_in_numpy():
    torch.manual_seed(0)
    cfg = ScorerConfig(feature_dim=6, heads=2, hidden_dim=4, sigma=2.0)
    att = LocalityAwareAttention(cfg).double()
    x = torch.randn(7, 6, dtype=torch.float64)
    got = att(x[None])[0].detach().numpy()
    # rtol 1e-6: the prior kernel is built in float32
    np.testing.assert_allclose(got, _numpy_lanet(x.numpy(), cfg, att), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("use_prior", [True, False])
@pytest.mark.parametrize("scaled", [True, False])
def test_linear_attention_equals_dense_form(use_prior, scaled):
    torch.manual_seed(1)
    cfg = ScorerConfig(feature_dim=32, heads=4, hidden_dim=16, sigma=6.0, use_prior=use_prior,
                       scaled_attention=scaled)
    att = LocalityAwareAttention(cfg).eval()
    x = torch.randn(3, 90, 32)
    mask = torch.ones(3, 90, dtype=torch.bool)
    mask[1, 60:] = False
    mask[2, 5:] = False
    linear = att(x, mask)
    att.cfg.attention = "dense"
    dense = att(x, mask)
    rel = (linear - dense).abs().max() / dense.abs().max()
    assert rel.item() <= 1e-5


def test_real_positions_ignore_padding_content_and_amount():
    torch.manual_seed(2)
    model = AnomalyScorer(ScorerConfig(feature_dim=16, hidden_dim=8, dropout=0.0)).eval()
    x = torch.randn(1, 20, 16)
    short = model(x).scores
    padded = torch.cat([x, 100 * torch.randn(1, 30, 16)], dim=1)
    mask = torch.zeros(1, 50, dtype=torch.bool)
    mask[0, :20] = True
    long = model(padded, mask).scores[:, :20]
    torch.testing.assert_close(short, long, rtol=1e-5, atol=1e-6)


def test_causal_conv_sees_only_the_last_k_embeddings():
    torch.manual_seed(3)
    cfg = ScorerConfig(feature_dim=8, hidden_dim=4, mlp_dims=(6, 5), conv_kernel=3, dropout=0.0)
    model = AnomalyScorer(cfg).eval()
    emb = torch.randn(1, 12, 5)
    base = model.scores_from_embeddings(emb)
    emb[0, 5] += 10.0
    moved = model.scores_from_embeddings(emb)
    changed = (base - moved).abs()[0] > 1e-7
    assert changed.tolist() == [False] * 5 + [True] * 3 + [False] * 4  # only t = 5, 6, 7 (K = 3)


def test_causal_conv_first_score_is_sigmoid_of_last_tap_plus_bias():
    cfg = ScorerConfig(feature_dim=4, hidden_dim=4, mlp_dims=(3, 2), conv_kernel=2, dropout=0.0)
    model = AnomalyScorer(cfg)
    with torch.no_grad():
        model.causal_conv.weight.copy_(torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]))  # (1, F=2, K=2)
        model.causal_conv.bias.fill_(0.5)
    emb = torch.tensor([[[1.0, -1.0], [0.5, 0.25]]])  # (B=1, T=2, F=2)
    scores = model.scores_from_embeddings(emb)[0]
    # t=0: left zero pad, only tap 2 sees x_0: 2*1 + 4*(-1) + 0.5 = -1.5
    # t=1: 1*1 + 3*(-1) + 2*0.5 + 4*0.25 + 0.5 = 0.5
    expected = torch.sigmoid(torch.tensor([-1.5, 0.5]))
    torch.testing.assert_close(scores, expected)


def test_score_video_averages_crops():
    torch.manual_seed(4)
    model = AnomalyScorer(ScorerConfig(feature_dim=8, hidden_dim=4, dropout=0.0)).eval()
    feats = torch.randn(10, 3, 8)  # (T, C, D)
    per_crop = [model(feats[:, c][None]).scores[0] for c in range(3)]
    torch.testing.assert_close(model.score_video(feats), torch.stack(per_crop).mean(0))


_MEMORY_PROBE = """
import resource, sys, torch
from vadpipe.model.config import ScorerConfig
from vadpipe.model.scorer import AnomalyScorer
torch.set_num_threads(2)
model = AnomalyScorer(ScorerConfig(feature_dim=64, hidden_dim=32)).eval()
with torch.inference_mode():
    model(torch.randn(1, 500, 64))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model(torch.randn(1, int(sys.argv[1]), 64))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def _peak_mb(t: int) -> float:
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(t)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def test_attention_memory_grows_linearly_in_t():
    # A dense (1, 4, T, T) float32 map would need 1.0 GB at T = 8,000 and 16 GB at T = 32,000.
    small, large = _peak_mb(8_000), _peak_mb(32_000)
    assert large < 600, f"{large:.0f} MB at T=32,000"
    assert large < 8 * max(small, 20), f"{small:.0f} MB -> {large:.0f} MB for 4x T"
