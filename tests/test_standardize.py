"""--standardize: training-set feature statistics, applied before LA-Net and saved with the model."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.helpers.features import write_store
from vadpipe.cli.app import main
from vadpipe.features.formats import load_feature_set
from vadpipe.model.checkpoint import load_run
from vadpipe.model.config import ScorerConfig
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.train.data import BagSet, feature_statistics

SMALL = dict(feature_dim=2, heads=1, hidden_dim=2, mlp_dims=(4, 2), sigma=1.0, conv_kernel=1, dropout=0.0)


class _Bags:
    """The two fields feature_statistics reads: per video, a list of (T, D) crops."""

    def __init__(self, crops):
        self.crops = crops


def test_feature_statistics_on_a_hand_made_set():
    # Snippets (1, 10), (3, 10) in one video and (5, 10) in another: mean (3, 10), std (sqrt(8/3), 0).
    bags = _Bags([[np.array([[1.0, 10.0], [3.0, 10.0]])], [np.array([[5.0, 10.0]])]])
    mean, std = feature_statistics(bags, floor=0.5)
    assert mean.tolist() == pytest.approx([3.0, 10.0])
    # The constant dimension gets floor * mean std = 0.5 * (sqrt(8/3) + 0) / 2.
    assert std.tolist() == pytest.approx([np.sqrt(8 / 3), 0.25 * np.sqrt(8 / 3)])


def test_scorer_standardises_real_snippets_and_keeps_padding_zero():
    torch.manual_seed(0)
    plain = AnomalyScorer(ScorerConfig(**SMALL)).eval()
    standard = AnomalyScorer(ScorerConfig(**SMALL, standardize=True)).eval()
    standard.load_state_dict(plain.state_dict(), strict=False)  # same weights, plus the two buffers
    standard.set_feature_statistics(torch.tensor([1.0, -2.0]), torch.tensor([2.0, 4.0]))
    x = torch.tensor([[[3.0, 2.0], [1.0, -2.0], [9.0, 9.0]]])  # (1, 3, 2); the last snippet is padding
    mask = torch.tensor([[True, True, False]])
    expected = plain(torch.tensor([[[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]]), mask).scores
    assert torch.allclose(standard(x, mask).scores[:, :2], expected[:, :2], atol=1e-6)


def test_plain_scorer_refuses_statistics():
    with pytest.raises(ValueError, match="standardize"):
        AnomalyScorer(ScorerConfig(**SMALL)).set_feature_statistics(torch.zeros(2), torch.ones(2))


def test_cli_train_standardize_saves_the_training_statistics(tmp_path, capsys):
    write_store(tmp_path / "train", n_abnormal=4, n_normal=4, seed=3)
    run = tmp_path / "run"
    code = main(["train", str(tmp_path / "train"), "--out", str(run), "--epochs", "1", "--batch-size", "8",
                 "--seq-len", "16", "--hidden-dim", "16", "--standardize", "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["scorer"]["standardize"] is True
    videos, _ = load_feature_set(tmp_path / "train")
    mean, std = feature_statistics(BagSet(videos, 16))
    tensors = load_file(run / "model.safetensors")
    assert torch.allclose(tensors["input_mean"], mean) and torch.allclose(tensors["input_std"], std)
    model, _ = load_run(run)  # strict load: the buffers are expected and present
    assert torch.allclose(model.input_std, std)
