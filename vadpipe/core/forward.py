"""How a backbone's forward passes run: settings that change speed and memory, never a feature.

None of these decides whether a stored feature is reused (that is the
:class:`~vadpipe.core.feature_spec.FeatureSpec`'s job); `extract` and `score` share them. The one
exception is precision ``int8``: int8 features are recorded as such in the spec
(:attr:`FeatureSpec.int8 <vadpipe.core.feature_spec.FeatureSpec>`), because a quantized backbone strays
from fp32 about ten times further than bf16 does.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadpipe.errors import UsageError
from vadpipe.ranges import check_ranges, ranged

PRECISION_NAMES = ("auto", "fp32", "bf16", "fp16", "int8")
MAX_BATCH = 65536  # snippets per forward pass
MAX_WORKERS = 256  # decoding threads


@dataclass(frozen=True)
class ForwardOptions:
    """Attributes:
        batch_size: snippets per forward pass (None: about 32 clips on a GPU, 4 on a CPU).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (bf16 autocast on CUDA, fp32 on a CPU), ``fp32``, ``bf16``, ``fp16``, or ``int8``
            (the backbone quantized on the user's own videos, OpenVINO on the CPU: :mod:`vadpipe.engines.quantize`).
        channels_last: backbone and inputs in ``channels_last_3d`` (None: on CUDA only).
        compile: ``torch.compile`` the backbone.
        workers: videos decoded at once, each on its own thread (None: 1 on a CPU, 2..8 beside a GPU).
        engine: what runs the forward pass (:mod:`vadpipe.engines`); resolve ``auto`` before extracting.
        calibrate: videos or folders whose snippets calibrate and check precision ``int8`` (empty: the
            videos being processed).
    """

    batch_size: int | None = ranged(None, kind=int, min=1, max=MAX_BATCH)
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    workers: int | None = ranged(None, kind=int, min=1, max=MAX_WORKERS)
    engine: str = "torch"  # torch, onnxruntime, openvino or auto (vadpipe.engines); recorded, never decisive
    calibrate: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_NAMES:
            raise UsageError(f"precision {self.precision!r}: choose one of {', '.join(PRECISION_NAMES)}",
                             param="precision")
        check_ranges(self)
