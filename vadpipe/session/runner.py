"""The backbone as `vadpipe extract` runs it: engine, precision, memory format and (optionally) torch.compile.

One place decides how a forward pass is made, so that the extract pipeline and the
benchmark that measures its ceiling (``bench/extract.py``) run the very same thing.
"""

from __future__ import annotations

import torch
from torch import nn

from vadpipe.errors import VadpipeError
from vadpipe.session.precision import autocast, resolve_precision


def compile_errors() -> tuple[type[BaseException], ...]:
    """What torch.compile raises when it cannot compile here (no C/C++ compiler, no Triton, ...).

    Imported only when a compiled backbone fails: torch._dynamo alone takes ~2.5 s to import, which
    every command would otherwise pay at start-up.
    """
    try:
        from torch._dynamo.exc import TorchDynamoException
        from torch._inductor.exc import InductorError
    except ImportError:  # pragma: no cover - private modules moved in another torch release
        return ()
    return (TorchDynamoException, InductorError)


class BackboneRunner:
    """Call with preprocessed snippets ``(B, C, 3, 16, h, w)`` on the device; returns ``(B, C, D)`` float32.

    Args:
        backbone: a module mapping ``(N, 3, 16, h, w)`` to ``(N, D)``, already on ``device``.
        device: where the backbone lives.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` (:mod:`vadpipe.session.precision`) or ``int8``:
            OpenVINO, in fp32 until the session installs the quantized model (:meth:`use`), which needs
            calibration snippets the runner does not have.
        channels_last: keep the backbone's weights and its inputs in ``torch.channels_last_3d``
            (``None``: on CUDA, where cuDNN's 3-D convolutions are faster that way; off on a CPU).
            The weights are converted in place; the features do not change.
        compile: run the backbone through ``torch.compile`` (the first call of each new input
            shape pays for compiling; extract's batches all have one shape).
        engine: ``torch``, ``onnxruntime``, ``openvino`` or ``auto`` (:mod:`vadpipe.engines`): a CPU
            engine runs the exported backbone instead of the module (fp32, no compile/channels-last).

    Attributes:
        precision: the resolved precision (``auto`` replaced), as recorded in the index.
        engine: the resolved engine (``auto`` replaced), as recorded in the index.
        calls: forward passes made so far.
    """

    def __init__(self, backbone: nn.Module, device: str | torch.device, *, precision: str = "auto",
                 channels_last: bool | None = None, compile: bool = False, engine: str = "torch"):
        from vadpipe.engines import resolve_engine

        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.engine = resolve_engine(engine, self.device, precision=self.precision, compile=compile,
                                     channels_last=channels_last)
        self.channels_last = self.device.type == "cuda" if channels_last is None else channels_last
        if self.channels_last:
            backbone.to(memory_format=torch.channels_last_3d)
        self.compiled = compile
        self.module = torch.compile(backbone) if compile else backbone
        if self.engine != "torch":  # the one place the forward pass is swapped (vadpipe.engines)
            from vadpipe.engines.backbone import EngineBackbone

            self.module = EngineBackbone(backbone, self.engine)
        if self.precision == "int8":
            self.precision = "fp32"  # what runs until use() installs a quantized model that passed its check
        self.calls = 0

    def use(self, module, precision: str) -> None:
        """Run the forward pass on ``module`` (``(N, 3, 16, h, w)`` -> ``(N, D)``) at ``precision`` from now on:
        the int8 model, or the fp32 engine it fell back to (:func:`vadpipe.engines.quantize.int8_backbone`)."""
        self.module, self.precision = module, precision

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]  # x: (B, C, 3, 16, h, w)
        clips = x.flatten(0, 1)  # (B*C, 3, 16, h, w)
        if self.channels_last:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        with autocast(self.precision, self.device):
            try:
                y = self.module(clips)  # (B*C, D)
            except Exception as error:
                if not self.compiled or not isinstance(error, compile_errors()):
                    raise
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                raise VadpipeError(f"compile: torch.compile failed on this machine ({type(error).__name__}: "
                                   f"{reason[:200]}); run again without it", param="compile") from error
        self.calls += 1
        return y.float().view(b, c, -1)  # (B, C, D), still on the device
