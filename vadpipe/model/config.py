"""Configuration dataclasses for the scorer and its training, with the paper's presets.

One source of truth: the CLI defaults, the presets and the checkpoints all read these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vadpipe.core.band import check_band
from vadpipe.errors import ConfigError
from vadpipe.ranges import Range, check_ranges, ranged

# Bounds past what any sensible run uses keep a typo (1e9) from asking for terabytes.
MAX_WIDTH = 65536
MAX_BAND = 10_000  # snippets of --window / --lookahead / --seq-len (~1.8 h at 25 fps)
MAX_LOSS_TERM = 1000.0
BAND_PRIORS = ("centred", "band")  # ScorerConfig.band_prior
CONV_INITS = ("auto", "xavier", "newest")  # ScorerConfig.conv_init


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
    # Banded attention for live scoring: snippet i attends to snippets i-window+1 .. i+lookahead only.
    # 0 = the whole sequence (offline, as in the paper).
    window: int = ranged(0, kind=int, min=0, max=MAX_BAND)
    lookahead: int = ranged(0, kind=int, min=0, max=MAX_BAND)
    # Not in the paper (nor the next field). How the locality prior is cut under a band:
    # "centred" reaches as far back as ahead (min(W-1, L) snippets each side), "band" reaches over the
    # whole band, and its past half then averages the last ~2 sqrt(sigma) snippets into every score, a
    # lag (runs trained with a band before "centred" existed load with "band", as they were trained).
    band_prior: str = "centred"
    # Initial causal conv weights: "xavier" (the authors'), "newest" (Xavier on the newest of the K taps,
    # zeros on the older ones: a banded model starts without the conv's lag and grows the older taps only
    # as far as training finds them useful), "auto" (newest with a band, xavier without).
    conv_init: str = "auto"
    # Not in the paper: subtract the training set's per-dimension feature mean and divide by its
    # std before LA-Net (buffers saved with the model). Off by default; the demo turns it on, as
    # random-init backbone features share one large component that hides what differs.
    standardize: bool = False

    def __post_init__(self) -> None:
        self.mlp_dims = _widths(self.mlp_dims)
        check_ranges(self)
        if self.hidden_dim % self.heads:
            raise ConfigError(f"heads {self.heads} must divide the attention width hidden_dim {self.hidden_dim} "
                              "(each head gets an equal share)", params=("heads", "hidden_dim"))
        check_band(self.window, self.lookahead)
        for name, allowed in (("band_prior", BAND_PRIORS), ("conv_init", CONV_INITS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}",
                                  params=(name,))
        if self.attention not in ("linear", "dense"):
            raise ConfigError(f"attention must be 'linear' or 'dense', not {self.attention!r}", params=("attention",))


def _widths(dims) -> tuple[int, ...]:
    """``mlp_dims`` as a tuple of widths, each a whole number in 1..MAX_WIDTH (a typo such as 1e9 would ask
    for terabytes; -1 for a negative tensor)."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise ConfigError(f"mlp_dims {dims!r} must be a list of layer widths, e.g. [512, 128]", param="mlp_dims")
    dims = tuple(dims)
    width = Range(int, min=1, max=MAX_WIDTH)
    for d in dims:
        problem = width.problem(d)
        if problem:
            raise ConfigError(f"mlp_dims {list(dims)}: {d!r} {problem}", param="mlp_dims")
    if not dims:
        raise ConfigError("mlp_dims [] must name at least one layer width, e.g. [512, 128]", param="mlp_dims")
    return tuple(int(d) for d in dims)


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
    """Rebuild a config dataclass from JSON, ignoring keys this version does not know.

    Raises:
        ConfigError: ``data`` is not an object, or a value is not of its field's type or range (``param``
            names the field; a hand-edited file is checked as the command line is).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"must be an object of settings, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    known = {k: v for k, v in data.items() if k in fields}
    for name, value in known.items():
        default = fields[name].default
        for kind in (bool, str):  # numbers are checked by their declared ranges, mlp_dims by its own check
            if isinstance(default, kind) and not isinstance(value, kind):
                raise ConfigError(f"{name} {value!r} must be {'true or false' if kind is bool else 'a string'}",
                                  param=name)
    return cls(**known)
