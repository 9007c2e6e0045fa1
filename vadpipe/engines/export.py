"""The backbone exported to ONNX once per (backbone, weights, input size, exporter), cached and checked.

A CPU engine (:mod:`vadpipe.engines.runtimes`) runs the very module torch would run: it is
exported with ``torch.onnx.export`` (the torch.export-based exporter, which needs the
``onnxscript`` package) with a dynamic batch dimension and a fixed clip size, and cached as

    $VADPIPE_HOME/engines/<backbone>-<key>.onnx    the model (weights inside, no external data)
    $VADPIPE_HOME/engines/<backbone>-<key>.json    what it was made from + the model's sha256

where ``<key>`` hashes everything that makes the file: the backbone's name, the sha256 of
its weights (every parameter and buffer, so random-init, downloaded and imported weights
are told apart without trusting file names), the sha256 of its code (the source files of
its modules' classes outside torch, so an upgraded or edited backbone is exported again),
the clip shape ``(3, 16, h, w)``, the torch version and :data:`FORMAT`. One file serves
both engines: ONNX is engine-neutral and both read the opset torch writes, so the engines'
own versions are recorded beside it rather than splitting it in two (``engine_versions``
in the ``.json``).

Both files are written atomically, the model first. An entry is used only if its ``.json``
names the same key and the model's sha256 matches; anything else (a half-written or
truncated model, a foreign or stale file, a ``.json`` from another export) is exported
again, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from vadpipe import atomic
from vadpipe.errors import VadpipeError

FORMAT = 1  # bump when the exported graph changes for the same inputs (export options, wrapper)
OPSET = 18


def cache_dir() -> Path:
    """``$VADPIPE_HOME/engines`` (beside ``weights``; the user cache dir without VADPIPE_HOME)."""
    from vadpipe.weights.registry import cache_dir as weights_dir

    return weights_dir().parent / "engines"


def weights_sha256(module: nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d buffers too (num_batches_tracked)
    return digest.hexdigest()


def code_sha256(module: nn.Module) -> str:
    """sha256 of the source files that define ``module``'s classes and its submodules', torch's own left out."""
    files = set()
    for sub in module.modules():
        cls = type(sub)
        if cls.__module__.split(".")[0] != "torch":
            try:
                files.add(inspect.getsourcefile(cls))
            except TypeError:  # a class without a source file (built in)
                continue
    return _files_sha256(tuple(sorted(f for f in files if f)))


@functools.lru_cache(maxsize=32)
def _files_sha256(files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{Path(path).name}|".encode())
        try:
            digest.update(Path(path).read_bytes())
        except OSError:  # a class defined in a file no longer there: its name alone
            continue
    return digest.hexdigest()


def export_key(backbone: nn.Module, clip_shape: tuple[int, ...], weights: str | None = None) -> dict:
    """Everything an exported file depends on (``weights``: :func:`weights_sha256`, computed when ``None``)."""
    return {
        "backbone": _backbone_name(backbone),
        "weights_sha256": weights or weights_sha256(backbone),
        "code_sha256": code_sha256(backbone),
        "input": [int(s) for s in clip_shape],  # (3, 16, h, w); the batch is dynamic
        "torch": torch.__version__,
        "opset": OPSET,
        "format": FORMAT,
    }


def entry_paths(key: dict) -> tuple[Path, Path]:
    """``(model.onnx, model.json)`` of a key in :func:`cache_dir`."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    stem = cache_dir() / f"{key['backbone']}-{digest}"
    return stem.with_suffix(".onnx"), stem.with_suffix(".json")


def cached_onnx(key: dict) -> Path | None:
    """The cached model of ``key`` if its record names that key and its bytes match the recorded sha256."""
    model, record = entry_paths(key)
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
        if meta.get("key") != key or meta.get("sha256") != _file_sha256(model):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return model


def exported_onnx(backbone: nn.Module, clip_shape: tuple[int, ...], *, rebuild: bool = False,
                  weights: str | None = None) -> Path:
    """The ONNX file of ``backbone`` for clips of ``clip_shape`` ``(3, 16, h, w)``: cached, else exported now.

    Args:
        backbone: a module mapping ``(N, 3, 16, h, w)`` float32 clips to ``(N, D)``, in eval mode.
        clip_shape: one clip's shape; the exported batch dimension is dynamic.
        rebuild: export again even when a valid entry exists (used when an engine cannot load it).
        weights: the backbone's :func:`weights_sha256` when already known.
    """
    key = export_key(backbone, clip_shape, weights)
    if not rebuild and (found := cached_onnx(key)) is not None:
        return found
    model, record = entry_paths(key)
    try:
        with atomic.atomic_path(model, suffix=".onnx") as tmp:
            _export(backbone, clip_shape, tmp)
            sha = _file_sha256(tmp)
        atomic.write_json(record, {"key": key, "sha256": sha, "engine_versions": _engine_versions()})
    except OSError as exc:
        raise VadpipeError(f"{cache_dir()}: cannot write the exported backbone there ({exc.strerror or exc}); "
                           "set VADPIPE_HOME to a writable folder") from exc
    except Exception as exc:  # noqa: BLE001 - the exporter's own errors, one line for the user
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise VadpipeError(f"exporting {key['backbone']} to ONNX failed ({type(exc).__name__}: {reason}); "
                           "use engine torch", params=("engine",)) from exc
    return model


def _export(backbone: nn.Module, clip_shape: tuple[int, ...], path: Path) -> None:
    example = torch.zeros((2, *clip_shape), dtype=torch.float32)  # (B, 3, 16, h, w); B is exported as dynamic
    # Exported outside inference mode (extract calls this from inside it) and quietly (`--json` owns stdout).
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            backbone, (example,), dynamo=True, input_names=["clips"], output_names=["features"],
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},), opset_version=OPSET,
            verbose=False, optimize=True, external_data=False,
        )
        program.save(str(path), external_data=False)


def _backbone_name(backbone: nn.Module) -> str:
    spec = getattr(backbone, "spec", None)
    return getattr(spec, "name", None) or type(backbone).__name__.lower()


def _engine_versions() -> dict:
    from vadpipe.engines.runtimes import installed_versions

    return installed_versions()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
