"""The backbone's forward pass on a CPU engine, in place of the torch module (see :mod:`vadpipe.engines`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vadpipe.devices import cpus_for_this_process
from vadpipe.engines import runtimes


class EngineBackbone:
    """The backbone run by a CPU engine: call with ``(N, 3, 16, h, w)`` float32 clips, get ``(N, D)``.

    The model is exported (or found in the cache) for each clip size on its first call, so
    the same object serves extract's fixed-size batches of any ``--crop-size``.

    Args:
        backbone: the torch module (on the CPU, eval mode) whose weights are exported.
        engine: ``onnxruntime`` or ``openvino``.
        threads: the engine's threads (default: torch's intra-op threads in this process, at
            most this process's share of the cores, as torch would use for the same pass).
    """

    def __init__(self, backbone: nn.Module, engine: str, threads: int | None = None):
        from vadpipe.engines.export import weights_sha256

        runtimes.require(engine)
        self.backbone, self.engine = backbone, engine
        self.threads = threads or max(1, min(torch.get_num_threads(), cpus_for_this_process()))
        self.weights = weights_sha256(backbone)
        self._runs: dict[tuple[int, ...], object] = {}  # clip shape -> engine function

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        shape = tuple(clips.shape[1:])  # (3, 16, h, w)
        run = self._runs.get(shape) or self._load(shape)
        x = np.ascontiguousarray(clips.detach().to("cpu", torch.float32).numpy())  # (N, 3, 16, h, w)
        return torch.from_numpy(run(x))  # (N, D)

    def _load(self, shape: tuple[int, ...]):
        from vadpipe.engines.export import exported_onnx

        path = exported_onnx(self.backbone, shape, weights=self.weights)
        try:
            run = runtimes.load_engine(self.engine, path, self.threads)
        except Exception:  # noqa: BLE001 - a file the engine cannot read is exported again, once
            path = exported_onnx(self.backbone, shape, weights=self.weights, rebuild=True)
            run = runtimes.load_engine(self.engine, path, self.threads)
        self._runs[shape] = run
        return run


def export_pending(backbone: nn.Module, engine: str, crop_size: int) -> str | None:
    """A note for the user when ``engine`` will first export ``backbone`` for ``crop_size`` clips, else None."""
    from vadpipe.engines.export import cache_dir, cached_onnx, export_key

    if engine == "torch" or cached_onnx(export_key(backbone, (3, 16, crop_size, crop_size))) is not None:
        return None
    name = getattr(getattr(backbone, "spec", None), "name", "backbone")
    return (f"--engine {engine}: exporting {name} to ONNX for {crop_size}x{crop_size} clips, once "
            f"(cached in {cache_dir()}); this takes a minute on a small CPU")
