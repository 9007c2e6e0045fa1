"""Banded attention (window W, lookahead L): offline forms agree, the online scorer equals them, memory is flat;
the prior under a band, the conv's start, the live band defaults."""

import json
import math

import pytest
import torch

from tests.helpers.features import write_store, write_ucf_annotations
from vadpipe.cli.app import main
from vadpipe.core.band import DEFAULT_LIVE_LOOKAHEAD, DEFAULT_LIVE_WINDOW, live_band, lookahead_seconds
from vadpipe.model.checkpoint import read_run_config, save_run
from vadpipe.model.config import ScorerConfig
from vadpipe.model.lanet import LocalityAwareAttention, prior_span
from vadpipe.model.online import OnlineScorer
from vadpipe.model.scorer import AnomalyScorer

TINY = dict(feature_dim=24, heads=2, hidden_dim=8, sigma=4.0, conv_kernel=4, mlp_dims=(12, 6))


def _model(**over) -> AnomalyScorer:
    torch.manual_seed(0)
    model = AnomalyScorer(ScorerConfig(**{**TINY, **over})).eval()
    if model.cfg.standardize:
        model.set_feature_statistics(torch.randn(24), torch.rand(24) + 0.5)
    return model


def _online(model, feats) -> tuple[list[int], torch.Tensor]:
    scorer = OnlineScorer(model)
    out = []
    for snippet in feats:
        out += scorer.push(snippet)
    out += scorer.flush()
    return [i for i, _ in out], torch.tensor([s for _, s in out])


@pytest.mark.parametrize("window,lookahead,extra", [
    (8, 0, {}), (5, 3, {"standardize": True}), (30, 2, {"use_prior": False}), (1, 0, {}),
    (6, 1, {"scaled_attention": False}), (80, 4, {}), (8, 0, {"band_prior": "band"}), (5, 3, {"band_prior": "band"}),
])
def test_online_scores_equal_offline_banded_scores(window, lookahead, extra):
    model = _model(window=window, lookahead=lookahead, **extra)
    feats = torch.randn(60, 3, 24)  # (T, C, D)
    offline = model.score_video(feats)
    order, online = _online(model, feats)
    assert order == list(range(60))
    assert (online - offline).abs().max().item() <= 1e-5


@pytest.mark.parametrize("window,lookahead,band_prior", [(7, 0, "centred"), (4, 2, "centred"), (1, 0, "centred"),
                                                        (70, 3, "centred"), (7, 0, "band"), (4, 2, "band")])
def test_banded_linear_attention_equals_banded_dense_form_with_padding(window, lookahead, band_prior):
    torch.manual_seed(1)
    att = LocalityAwareAttention(ScorerConfig(**TINY, window=window, lookahead=lookahead,
                                              band_prior=band_prior)).eval()
    x = torch.randn(3, 150, 24)
    mask = torch.ones(3, 150, dtype=torch.bool)
    mask[1, 100:] = False
    mask[2, 3:] = False
    linear = att(x, mask)
    att.cfg.attention = "dense"
    dense = att(x, mask)
    assert torch.isfinite(linear).all() and torch.isfinite(dense).all()
    real = mask[..., None].expand_as(linear)
    assert (linear - dense)[real].abs().max().item() <= 1e-5


def test_band_hides_snippets_outside_it_and_a_wide_band_is_the_whole_sequence():
    model = _model(window=5, lookahead=2)
    feats = torch.randn(40, 1, 24)
    base = model.score_video(feats)
    moved = feats.clone()
    moved[10] += 5.0
    # Snippet 10 reaches scores 8 .. 14 through attention (t+L >= 10 > t-W) and K-1 = 3 more through the conv.
    changed = ((model.score_video(moved) - base).abs() > 1e-7).nonzero().flatten().tolist()
    assert changed and min(changed) >= 8 and max(changed) <= 14 + 3
    wide = _model(window=40, lookahead=39, conv_init="xavier")  # the offline model's start, for the same weights
    whole = _model()
    torch.testing.assert_close(wide.score_video(feats), whole.score_video(feats), rtol=1e-5, atol=1e-6)


def test_online_memory_is_flat_after_ten_windows():
    model = _model(window=8, lookahead=2)
    scorer = OnlineScorer(model)

    def held() -> int:
        return sum(t.numel() for buf in (scorer._x, scorer._q, scorer._k, scorer._v, scorer._history) for t in buf)

    sizes = []
    for i in range(8 * 10):
        scorer.push(torch.randn(2, 24))
        if i + 1 in (16, 40, 80):
            sizes.append(held())
    assert sizes[0] == sizes[1] == sizes[2]
    assert scorer.emitted == 80 - 2


def test_online_scorer_refuses_an_unbanded_model():
    with pytest.raises(ValueError, match="window"):
        OnlineScorer(_model())


def test_bad_bands_are_refused():
    with pytest.raises(ValueError, match="lookahead needs a window"):
        ScorerConfig(lookahead=2)
    with pytest.raises(ValueError, match="window -1 must be 0<=INT<="):
        ScorerConfig(window=-1)


# Not the shared tiny_run: its clips have 5 snippets, fewer than the bands tried here (12 and 4), so every band
# would see the whole clip; these videos have 40-120 snippets.
@pytest.fixture(scope="module")
def task(tmp_path_factory):
    root = tmp_path_factory.mktemp("banded")
    write_store(root / "train", n_abnormal=8, n_normal=8, seed=1)
    events = write_store(root / "test", n_abnormal=4, n_normal=4, seed=2)
    write_ucf_annotations(root / "test_gt.txt", events)
    return root


def test_cli_train_with_window_saves_it_and_evaluate_can_override_it(task, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(task / "train"), "--out", str(run), "--epochs", "2", "--batch-size", "8",
                 "--seq-len", "32", "--hidden-dim", "16", "--sigma", "4", "--conv-kernel", "3",
                 "--window", "12", "--lookahead", "2", "--device", "cpu", "--quiet"]) == 0
    scorer = json.loads((run / "config.json").read_text())["scorer"]
    assert (scorer["window"], scorer["lookahead"], scorer["band_prior"]) == (12, 2, "centred")
    gt = str(task / "test_gt.txt")
    results = {}
    for args in ([], ["--window", "0"], ["--window", "4", "--lookahead", "0"]):
        assert main(["evaluate", str(task / "test"), "--model", str(run), "--gt", gt, "--json", "--device", "cpu",
                     *args]) == 0
        out = json.loads(capsys.readouterr().out)
        results[tuple(args)] = out
    assert (results[()]["window"], results[()]["lookahead"]) == (12, 2)
    assert results[("--window", "0")]["window"] == 0 and results[("--window", "0")]["lookahead"] == 0
    assert results[("--window", "4", "--lookahead", "0")]["window"] == 4
    assert len({round(r["auc"], 9) for r in results.values()}) > 1  # the band changes the scores


def test_cli_train_refuses_lookahead_without_window(task, tmp_path, capsys):
    code = main(["train", str(task / "train"), "--out", str(tmp_path / "r"), "--lookahead", "2", "--quiet"])
    assert code == 2
    assert "--lookahead needs a --window (--lookahead 2 with --window 0" in capsys.readouterr().err


def test_prior_reaches_as_far_back_as_ahead_under_a_band():
    assert prior_span(25, 0, 0) == (25, 25)  # offline: the whole truncated kernel
    assert prior_span(25, 64, 0) == (0, 0)  # L = 0: the snippet itself, no past half to lag behind
    assert prior_span(25, 64, 4) == (4, 4)
    assert prior_span(25, 3, 8) == (2, 2)  # the window bounds it too
    assert prior_span(5, 64, 8) == (5, 5)  # and the kernel's own radius
    assert prior_span(25, 64, 4, "band") == (25, 4)  # cut to the band: 25 back, 4 ahead
    assert prior_span(25, 3, 8, "band") == (2, 8)


def test_centred_prior_taps_are_the_gaussian_over_minus_l_to_l():
    att = LocalityAwareAttention(ScorerConfig(**TINY, window=16, lookahead=1))  # sigma 4
    taps, back = att.prior_taps()
    g1 = math.exp(-1 / (2 * 4.0))  # exp(-|1|^2 / (2 sigma))
    assert back == 1 and taps.tolist() == pytest.approx([g1, 1.0, g1])
    att.cfg.lookahead = 0
    taps, back = att.prior_taps()
    assert back == 0 and taps.tolist() == [1.0]


@pytest.mark.parametrize("over,older_zero", [
    ({"window": 8}, True), ({}, False), ({"window": 8, "conv_init": "xavier"}, False),
    ({"conv_init": "newest"}, True),
])
def test_causal_conv_starts_at_its_newest_tap_with_a_band(over, older_zero):
    weight = _model(**over).causal_conv.weight  # (1, F, K): taps oldest .. newest
    assert weight[..., -1].abs().sum() > 0
    assert (weight[..., :-1].abs().sum().item() == 0) == older_zero


def test_live_band_defaults():
    # A run trained without a band: watched with the default window and lookahead, each part overridable.
    assert (DEFAULT_LIVE_WINDOW, DEFAULT_LIVE_LOOKAHEAD) == (64, 4)
    assert live_band((0, 0)) == (64, 4)
    assert live_band((0, 0), window=32) == (32, 4)
    assert live_band((0, 0), lookahead=0) == (64, 0)
    assert live_band((0, 0), 32, 1) == (32, 1)
    # A run trained with a band: its own, as evaluate and score use it.
    assert live_band((16, 0)) == (16, 0)
    assert live_band((16, 2), window=8) == (8, 2)
    assert ScorerConfig().lookahead == 0  # what `train --window W` saves without --lookahead


def test_lookahead_latency_is_l_times_16_frames():
    assert lookahead_seconds(4, 25.0) == pytest.approx(2.56)
    assert lookahead_seconds(3, 10.0) == pytest.approx(4.8)
    assert lookahead_seconds(0, 30.0) == 0.0


def test_runs_trained_with_a_band_before_the_centred_prior_load_as_trained(tmp_path):
    from vadpipe.model.checkpoint import RunConfig
    from vadpipe.model.config import LossConfig, TrainConfig

    for name, window, expected in (("old_banded", 8, "band"), ("old_offline", 0, "centred")):
        cfg = ScorerConfig(**TINY, window=window)
        save_run(tmp_path / name, AnomalyScorer(cfg), RunConfig(cfg, LossConfig(), TrainConfig(), None))
        path = tmp_path / name / "config.json"
        data = json.loads(path.read_text())
        del data["scorer"]["band_prior"]  # as written before the field existed
        path.write_text(json.dumps(data))
        assert read_run_config(tmp_path / name).scorer.band_prior == expected
    assert read_run_config(tmp_path / "old_banded").scorer.window == 8
