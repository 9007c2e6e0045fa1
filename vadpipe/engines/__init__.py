"""Which engine runs the backbone's forward pass: torch, or a CPU engine on the exported model.

``--engine`` chooses among :data:`ENGINES`:

- ``torch``: the module itself (any device, any ``--precision``, ``--compile``);
- ``onnxruntime`` / ``openvino``: the same module exported to ONNX (:mod:`.export`) and run
  by that engine on the CPU, in float32 (``pip install 'vadpipe[onnx]'`` /
  ``'vadpipe[openvino]'``). Same features as torch to ~1e-6 relative; about twice as fast
  on a CPU (docs/performance.md, ``bench/extract.py --engine``);
- ``auto``: torch on a GPU, or when the run asks for what only torch does (bf16/fp16
  autocast, ``--compile``, channels-last); on a CPU otherwise the first installed of
  :data:`AUTO_ORDER`, else torch. A fixed rule rather than a timing at start-up: a
  measurement on a machine shared with other work would pick differently from run to run,
  and OpenVINO was ahead of ONNX Runtime, and both ahead of torch, on every backbone and
  size measured (docs/performance.md).

The engine changes how features are computed, not what they are: it is recorded in the
index (``engine``) like ``precision``, and does not decide resuming. This package imports
neither torch nor an engine (the CLI reads its choices at ``--help``);
:class:`vadpipe.engines.backbone.EngineBackbone` is the forward pass itself.
"""

from __future__ import annotations

from vadpipe.engines import runtimes
from vadpipe.errors import UsageError

ENGINES = ("auto", "torch", "onnxruntime", "openvino")
AUTO_ORDER = ("openvino", "onnxruntime")  # auto's preference on a CPU (fastest first, as measured)
ENGINE_HELP = ("Forward-pass engine: auto (torch on a GPU; on a CPU OpenVINO, else ONNX Runtime when installed, "
               "else torch), torch, onnxruntime (pip install 'vadpipe[onnx]') or openvino "
               "(pip install 'vadpipe[openvino]'). Same features.")  # each command adds where it records it


def resolve_engine(name: str, device: str = "cpu", *, precision: str = "fp32", compile: bool = False,
                   channels_last: bool | None = None) -> str:
    """The engine a run uses: ``auto`` replaced (module docstring), an explicit one checked.

    Args:
        precision: the resolved precision (``fp32``, ``bf16``, ``fp16``, ``int8``); the CPU engines run
            fp32, and ``int8`` runs on OpenVINO only (:mod:`vadpipe.engines.quantize`).

    Raises:
        UsageError: unknown name; a CPU engine with a GPU device, reduced precision, ``--compile`` or
            channels-last; or an engine that is not installed (the message names the pip command);
            precision int8 with another engine than openvino/auto, or without NNCF.
    """
    if name not in ENGINES:
        raise UsageError(f"engine {name!r}: choose one of {', '.join(ENGINES)}", param="engine")
    device = str(device)
    if precision == "int8":
        return _int8_engine(name, device, compile=compile, channels_last=channels_last)
    torch_only = [(param, what) for param, what, asked in (
        ("precision", f"precision {precision}", precision not in ("fp32", "auto")),
        ("compile", "compile", compile), ("channels_last", "channels_last", bool(channels_last)),
        ("device", f"device {device}", device.split(":")[0] != "cpu"),
    ) if asked]
    if name == "auto":
        if torch_only:
            return "torch"
        return next((engine for engine in AUTO_ORDER if runtimes.is_installed(engine)), "torch")
    if name != "torch":
        if torch_only:  # each setting named as its parameter; the CLI writes them as flags
            raise UsageError(f"engine {name} runs the backbone on the CPU in fp32 and cannot go with "
                             f"{', '.join(what for _, what in torch_only)}; use engine torch for that",
                             param="engine", params=("engine", *(param for param, _ in torch_only)))
        runtimes.require(name)
    return name


def _int8_engine(name: str, device: str, *, compile: bool, channels_last: bool | None) -> str:
    """OpenVINO, the one engine int8 runs on; ``auto`` becomes it, anything else is refused in one line."""
    conflicts = [(param, what) for param, what, asked in (
        ("compile", "compile", compile), ("channels_last", "channels_last", bool(channels_last)),
        ("device", f"device {device}", device.split(":")[0] != "cpu"),
    ) if asked]
    if conflicts:
        raise UsageError(f"precision int8 runs the backbone on the CPU with OpenVINO and cannot go with "
                         f"{', '.join(what for _, what in conflicts)}",
                         param="precision", params=("precision", *(param for param, _ in conflicts)))
    if name not in ("auto", runtimes.INT8_ENGINE):
        # ONNX Runtime ran NNCF's int8 model slower than its own fp32 (docs/performance.md): not offered.
        raise UsageError(f"precision int8 runs on engine openvino (or auto), not {name}",
                         param="precision", params=("precision", "engine"))
    runtimes.require_int8()
    return runtimes.INT8_ENGINE
