"""The CPU engines that run an exported backbone: ONNX Runtime and OpenVINO (optional extras).

Each takes the cached ONNX file of :mod:`vadpipe.engines.export` and maps float32 clips
``(N, 3, 16, h, w)`` to features ``(N, D)``, in float32, on a given number of threads.
OpenVINO is told to compute in f32: on a CPU with bf16 instructions (AVX512_BF16, AMX) it
otherwise picks bf16 by itself, and its features then differ from torch's by ~5e-3
relative instead of ~1e-6.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vadpipe.errors import UsageError

# engine -> (module it runs on, readable name, extra that installs it)
ENGINE_PACKAGES = {
    "onnxruntime": ("onnxruntime", "ONNX Runtime", "onnx"),
    "openvino": ("openvino", "OpenVINO", "openvino"),
}
EXPORT_MODULES = ("onnx", "onnxscript")  # what torch.onnx.export needs to write the file both engines read
# precision int8: the engine it runs on, the quantizer's module, its readable name and the extra that installs both
INT8_ENGINE, QUANTIZER = "openvino", ("nncf", "NNCF", "int8")


def missing_modules(engine: str) -> list[str]:
    """The Python packages ``engine`` needs that are not installed here (empty when it can run)."""
    module = ENGINE_PACKAGES[engine][0]
    return [name for name in (module, *EXPORT_MODULES) if importlib.util.find_spec(name) is None]


def is_installed(engine: str) -> bool:
    """Whether ``engine`` (and the ONNX exporter's packages) can be imported."""
    return not missing_modules(engine)


def require(engine: str) -> None:
    """Raise a one-line :class:`UsageError` naming the pip command when ``engine`` is not installed."""
    missing = missing_modules(engine)
    if missing:
        _, label, extra = ENGINE_PACKAGES[engine]
        raise UsageError(f"engine {engine}: {label} is not installed here (missing {', '.join(missing)}); "
                         f"install it with: pip install 'vadpipe[{extra}]'", param="engine")


def missing_for_int8() -> list[str]:
    """The packages precision int8 needs (its engine, the exporter, the quantizer) that are not installed here."""
    return [*missing_modules(INT8_ENGINE), *([QUANTIZER[0]] if importlib.util.find_spec(QUANTIZER[0]) is None else [])]


def require_int8() -> None:
    """Raise a one-line :class:`UsageError` naming the pip command when precision int8 cannot run here."""
    missing = missing_for_int8()
    if missing:
        module, label, extra = QUANTIZER
        what = label if missing == [module] else f"{ENGINE_PACKAGES[INT8_ENGINE][1]} with {label}"
        raise UsageError(f"precision int8: {what} is not installed here (missing {', '.join(missing)}); "
                         f"install it with: pip install 'vadpipe[{extra}]'", param="precision")


def installed_versions() -> dict[str, str]:
    """Versions of the engine and exporter packages present (for the cache record and ``--version``)."""
    versions = {}
    for name in (*(p[0] for p in ENGINE_PACKAGES.values()), *EXPORT_MODULES):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def load_engine(engine: str, onnx_path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``(N, 3, 16, h, w)`` float32 -> ``(N, D)`` float32 running ``onnx_path`` on ``engine``.

    Raises whatever the engine raises when it cannot read the file (the caller rebuilds it once).
    """
    require(engine)
    if engine == "onnxruntime":
        return _onnxruntime(onnx_path, threads)
    return _openvino(onnx_path, threads)


def _onnxruntime(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one graph, one batch at a time: parallelism is inside the ops
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its warnings are about graph rewrites, not the user's input
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(clips: np.ndarray) -> np.ndarray:
        return session.run(None, {name: clips})[0]  # (N, D)

    return run


def _openvino(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32",  # not bf16, which it would choose on CPUs that have it
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",  # one request at a time, all threads on it
    })
    request = compiled.create_infer_request()

    def run(clips: np.ndarray) -> np.ndarray:
        request.infer({0: clips})
        return np.array(request.get_output_tensor(0).data)  # (N, D), copied: the request reuses its buffer

    return run
