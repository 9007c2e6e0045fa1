"""Configuration dataclasses for the scorer and its training, with the paper's presets.

One source of truth: the CLI defaults, the presets and the checkpoints all read these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vadpipe.core.band import check_band
from vadpipe.errors import ConfigError
from vadpipe.ranges import check_ranges, ranged

# Bounds past what any sensible run uses keep a typo (1e9) from asking for terabytes.
MAX_WIDTH = 65536
MAX_BAND = 10_000  # snippets of --window / --lookahead / --seq-len (~1.8 h at 25 fps)
MAX_LOSS_TERM = 1000.0


@dataclass
class ScorerConfig:
    """LA-Net + MLP + causal conv (paper §2.2–2.3, §3.2)."""

    feature_dim: int = ranged(2048, kind=int, min=1, max=MAX_WIDTH)  # D
    heads: int = ranged(4, kind=int, min=1, max=1024)  # k
    hidden_dim: int = ranged(512, kind=int, min=1, max=MAX_WIDTH)  # D_h (split over the heads)
    # locality prior G_ij = exp(-|i-j|^2 / (2 sigma)); at 1e6 it is flat over any video already
    sigma: float = ranged(16.0, min=0, min_open=True, max=1e6)
    use_prior: bool = True  # ablation switch (paper Table 3)
    # the Gaussian kernel is truncated where G < tolerance
    prior_tolerance: float = ranged(1e-9, min=0, max=1, min_open=True, max_open=True)
    scaled_attention: bool = True  # softmax(q k^T / sqrt(d_head)) as in [16]; False = eq. 1 verbatim
    attention: str = "linear"  # "linear" (SDPA + Gaussian conv, O(T) memory) or "dense" (T x T map)
    mlp_dims: tuple[int, ...] = (512, 128)
    dropout: float = ranged(0.1, min=0, max=1, max_open=True)
    conv_kernel: int = ranged(10, kind=int, min=1, max=4096)  # K of the causal conv (K-1 zeros padded on the left)
    # Banded attention for live scoring: snippet i attends to snippets i-window+1 .. i+lookahead only
    # (the locality prior is cut to the same band). 0 = the whole sequence (offline, as in the paper).
    window: int = ranged(0, kind=int, min=0, max=MAX_BAND)
    lookahead: int = ranged(0, kind=int, min=0, max=MAX_BAND)
    # Not in the paper: subtract the training set's per-dimension feature mean and divide by its
    # std before LA-Net (buffers saved with the model). Off by default; the demo turns it on, as
    # random-init backbone features share one large component that hides what differs.
    standardize: bool = False

    def __post_init__(self) -> None:
        self.mlp_dims = tuple(int(d) for d in self.mlp_dims)
        check_ranges(self)
        if self.hidden_dim % self.heads:
            raise ConfigError(f"heads {self.heads} must divide the attention width hidden_dim {self.hidden_dim} "
                              "(each head gets an equal share)", params=("heads", "hidden_dim"))
        check_band(self.window, self.lookahead)
        if self.attention not in ("linear", "dense"):
            raise ConfigError(f"attention must be 'linear' or 'dense', not {self.attention!r}", params=("attention",))


@dataclass
class LossConfig:
    """L = L_MIL + lambda_dr * L_DR + lambda_da * L_DA (eq. 11)."""

    # Weights and margin past MAX_LOSS_TERM only overflow the loss (the paper uses 1 and 2, margin 0).
    lambda_dr: float = ranged(1.0, min=0, max=MAX_LOSS_TERM)  # lambda_1
    lambda_da: float = ranged(1.0, min=0, max=MAX_LOSS_TERM)  # lambda_2
    eps: float = ranged(1e-7, min=0, max=1, min_open=True)  # epsilon of eq. 10
    margin: float = ranged(0.0, min=0, max=MAX_LOSS_TERM)  # zeta of eq. 8
    use_dr: bool = True  # ablation switches (paper Table 4)
    use_da: bool = True

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class TrainConfig:
    """Optimisation and sampling (paper §3.2)."""

    epochs: int = ranged(50, kind=int, min=1, max=1_000_000)
    batch_size: int = ranged(128, kind=int, min=1, max=4096)  # 4096 bags of 200 x 2048 floats: 6.7 GB
    # Adam's step and decay are float32 in torch: far past 10 they overflow, long before they make sense
    lr: float = ranged(5e-4, min=0, min_open=True, max=10)
    weight_decay: float = ranged(0.0, min=0, max=10)
    # bags are uniformly subsampled (or zero-padded) to this many snippets
    seq_len: int = ranged(200, kind=int, min=1, max=MAX_BAND)
    seed: int = ranged(0, kind=int, min=0, max=2**32 - 1)  # numpy's seeds end there
    balanced: bool = True  # half abnormal, half normal bags in every batch

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class Preset:
    scorer: ScorerConfig
    loss: LossConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    metric: str = "auc"  # the metric the dataset's papers report: "auc" (UCF-Crime) or "ap" (XD-Violence)


PRESETS: dict[str, Preset] = {
    "ucf": Preset(
        scorer=ScorerConfig(feature_dim=2048, heads=4, hidden_dim=512, sigma=16.0, conv_kernel=10),
        loss=LossConfig(lambda_dr=1.0, lambda_da=1.0),
        metric="auc",
    ),
    "xd": Preset(
        scorer=ScorerConfig(feature_dim=1024, heads=4, hidden_dim=128, sigma=6.0, conv_kernel=5),
        loss=LossConfig(lambda_dr=2.0, lambda_da=1.0),
        metric="ap",
    ),
}


def get_preset(name: str) -> Preset:
    """A fresh copy of a preset (safe to modify)."""
    import difflib

    from vadpipe.errors import UsageError

    if name not in PRESETS:
        close = [p for p in PRESETS if name.lower().startswith(p)] or \
            difflib.get_close_matches(name.lower(), PRESETS, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"unknown preset {name!r}; {hint}choose one of: {', '.join(PRESETS)}")
    return dataclasses.replace(
        PRESETS[name],
        scorer=dataclasses.replace(PRESETS[name].scorer),
        loss=dataclasses.replace(PRESETS[name].loss),
        train=dataclasses.replace(PRESETS[name].train),
    )


def from_dict(cls, data: dict):
    """Rebuild a config dataclass from JSON, ignoring keys this version does not know."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
