"""Configuration dataclasses for the scorer and its training, with the paper's presets.

One source of truth: the CLI defaults, the presets and the checkpoints all read these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class ScorerConfig:
    """LA-Net + MLP + causal conv (paper §2.2–2.3, §3.2)."""

    feature_dim: int = 2048  # D
    heads: int = 4  # k
    hidden_dim: int = 512  # D_h (split over the heads)
    sigma: float = 16.0  # locality prior G_ij = exp(-|i-j|^2 / (2 sigma))
    use_prior: bool = True  # ablation switch (paper Table 3)
    prior_tolerance: float = 1e-9  # the Gaussian kernel is truncated where G < tolerance
    scaled_attention: bool = True  # softmax(q k^T / sqrt(d_head)) as in [16]; False = eq. 1 verbatim
    attention: str = "linear"  # "linear" (SDPA + Gaussian conv, O(T) memory) or "dense" (T x T map)
    mlp_dims: tuple[int, ...] = (512, 128)
    dropout: float = 0.1
    conv_kernel: int = 10  # K of the causal conv (K-1 zeros padded on the left)
    # Banded attention for live scoring: snippet i attends to snippets i-window+1 .. i+lookahead only
    # (the locality prior is cut to the same band). 0 = the whole sequence (offline, as in the paper).
    window: int = 0
    lookahead: int = 0
    # Not in the paper: subtract the training set's per-dimension feature mean and divide by its
    # std before LA-Net (buffers saved with the model). Off by default; the demo turns it on, as
    # random-init backbone features share one large component that hides what differs.
    standardize: bool = False

    def __post_init__(self) -> None:
        self.mlp_dims = tuple(int(d) for d in self.mlp_dims)
        if self.hidden_dim % self.heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} is not divisible by heads {self.heads}")
        check_band(self.window, self.lookahead)
        if self.attention not in ("linear", "dense"):
            raise ValueError(f"attention must be 'linear' or 'dense', not {self.attention!r}")


# The band `watch` uses for a run trained without one (offline): 64 snippets ~ 40 s at 25 fps,
# wide enough for the prior (sigma 16 reaches ~25 snippets) and cheap per snippet.
DEFAULT_LIVE_WINDOW = 64


def check_band(window: int, lookahead: int) -> None:
    """Refuse a band that cannot be (negative, or a lookahead without a window)."""
    if window < 0 or lookahead < 0:
        raise ValueError(f"window and lookahead must be >= 0, not {window} and {lookahead}")
    if lookahead and not window:
        raise ValueError("a lookahead needs a window (window 0 already sees the whole sequence)")


@dataclass
class LossConfig:
    """L = L_MIL + lambda_dr * L_DR + lambda_da * L_DA (eq. 11)."""

    lambda_dr: float = 1.0  # lambda_1
    lambda_da: float = 1.0  # lambda_2
    eps: float = 1e-7  # epsilon of eq. 10
    margin: float = 0.0  # zeta of eq. 8
    use_dr: bool = True  # ablation switches (paper Table 4)
    use_da: bool = True


@dataclass
class TrainConfig:
    """Optimisation and sampling (paper §3.2)."""

    epochs: int = 50
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.0
    seq_len: int = 200  # bags are uniformly subsampled (or zero-padded) to this many snippets
    seed: int = 0
    balanced: bool = True  # half abnormal, half normal bags in every batch


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
    from vadpipe.errors import UsageError

    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
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
