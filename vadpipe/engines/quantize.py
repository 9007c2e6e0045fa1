"""int8 on the CPU: the exported backbone quantized on the user's own clips, used only when it matches fp32.

The ONNX export of :mod:`vadpipe.engines.export` is read by OpenVINO and quantized by NNCF's
post-training quantization (weights and activations to int8, per-channel symmetric weights,
statistics from calibration clips, fast bias correction). Activation ranges are the calibration
clips' whole min..max (NNCF's ``MINMAX``), not its default mean of per-clip extremes: that
default clips the rare large activations, and in anomaly detection the rare clip is the point.
On the offline demo it left the event snippets at cosine 0.984 against fp32 (centred on the
mean feature: 0.56) and cut the held-out frame AP from 0.73 to 0.33; with MINMAX every
snippet stayed at 0.998 or above (docs/performance.md). The calibration clips are handed
in by the caller: preprocessed snippets of the videos being processed (or of a folder the
user names), never a data set fetched from elsewhere.

**The check.** The snippets are split: every fourth (at least one snippet) is held out, so the
held-out ones come from all over the calibration videos, not from the last of them; the rest
calibrate. The int8 model then runs the held-out snippets, every crop, beside the
fp32 model (the same export on OpenVINO, which matches torch to ~1e-6), and the per-clip
cosine of the two features is measured. The int8 model is used only when the smallest
cosine reaches :data:`INT8_MIN_COSINE`; otherwise it is refused with that figure and the
caller runs fp32 (:func:`int8_backbone` returns the fp32 engine and the reason).

What 0.995 does and does not promise: bf16 features stay within 1 - cos <= 2.1e-5 of fp32
(:mod:`vadpipe.features.precision`), and random-initialised backbones quantized here stay
within ~2e-4 (docs/performance.md). A quantization that breaks (an outlier-dominated
layer, a calibration set unlike the input) falls far below. But globally pooled ReLU features share a
large positive mean, so features of a *different* clip of the same scene can also reach
0.98..0.9999: the check catches a broken int8 model, not a subtle drift, and int8 features
are therefore their own feature precision, never mixed with fp32 ones.

**The cache.** Like the ONNX export, beside it in ``$VADPIPE_HOME/engines``::

    <backbone>-int8-<key>.xml / .bin    the quantized OpenVINO model
    <backbone>-int8-<key>.json          its key, both files' sha256 and the check's figures

The key covers the export's key (backbone, weights sha256, the backbone's code, clip shape, torch,
opset), the calibration set's sha256 and shape, the OpenVINO and NNCF versions and :data:`FORMAT`. The
model is written to a temporary folder and moved into place, the record last; an entry is
used only when its record names the same key and both files' sha256 match, else it is
quantized again. The check's figures are stored with it, so a cached model is not checked
again (the same key means the same model, the same held-out clips and so the same figures);
the threshold is compared at every use.

**Finding it without reading the videos again.** Hashing the calibration snippets means decoding
and preprocessing them, seconds on every run. So a command that calibrates on videos hands in a
:class:`Calibration`: what names its snippets without reading them (the feature spec, the clips
wanted, the candidate videos in order) and how to read them. After a quantization, a small record
``<backbone>-int8-source-<digest>.json`` maps that name to the model's key, with the identity
(:func:`vadpipe.video.source.source_identity`: path, size, mtime, sha256 of the ends) of every
video the snippets were read from. A later run whose name matches, whose videos all have the same
identity and whose backbone, weights, code and tools give the same key uses the cached model
without decoding anything; any difference reads the snippets and finds the model by their sha256
as before.

**Pruning.** Each new model keeps the :data:`KEEP_MODELS` most recently used of its backbone
(a use touches the record) and deletes the rest with the source records that named them.

NNCF is imported with its telemetry off (``NNCF_CI``): quantizing a user's footage sends nothing.
Its progress bar and log lines are kept off stdout, which belongs to ``--json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vadpipe import atomic
from vadpipe.engines import runtimes
from vadpipe.errors import VadpipeError
from vadpipe.video.source import source_change, source_identity

INT8_MIN_COSINE = 0.995  # lowest per-clip cosine of int8 against fp32 features that counts as agreement
HELD_OUT_EVERY = 4  # every fourth calibration snippet checks, the rest calibrate
FORMAT = 2  # bump when the quantization settings or the held-out rule change (2: MINMAX, spread held-out)
_CHECK_BATCH = 8  # clips per forward pass while checking (bounds memory at 224 px)
KEEP_MODELS = 6  # quantized models kept per backbone (most recently used), pruned when one is added
_CALIBRATION_FIELDS = ("calibration_sha256", "calibration")  # the key's fields that come from the snippets


@dataclass(frozen=True)
class Int8Check:
    """How the int8 model's features agree with fp32 on the held-out snippets (one cosine per snippet and crop).

    Attributes:
        min_cosine / mean_cosine / p1_cosine: smallest, mean and 1st percentile of the per-clip cosines.
        snippets / crops: held-out snippets and crops per snippet (``snippets * crops`` clips compared).
        calibration_snippets: snippets the statistics were collected on.
        centred_min_cosine / centred_mean_cosine: the same cosines of the features less the held-out fp32
            features' mean (None with one held-out clip): how much of what tells one clip from another
            survives. Globally pooled features share a large mean, so the plain cosine stays near 1 even
            when this falls (the offline demo: 0.9991 plain, 0.895 centred; docs/performance.md).
    """

    min_cosine: float
    mean_cosine: float
    p1_cosine: float
    snippets: int
    crops: int
    calibration_snippets: int
    centred_min_cosine: float | None = None
    centred_mean_cosine: float | None = None

    def passes(self, threshold: float = INT8_MIN_COSINE) -> bool:
        """Whether every held-out clip reaches ``threshold``."""
        return self.min_cosine >= threshold

    def describe(self) -> str:
        """``min cosine 0.999871 against fp32 on 4 held-out snippets x 10 crops`` (rounded down, never up)."""
        return (f"min cosine {floor_6(self.min_cosine)} against fp32 on {self.snippets} held-out snippet"
                f"{'s' * (self.snippets != 1)} x {self.crops} crop{'s' * (self.crops != 1)}")


@dataclass(frozen=True)
class Int8Model:
    """A quantized model in the cache: its files, the key they were made from and the check's figures."""

    xml: Path
    key: dict
    check: Int8Check


@dataclass(frozen=True)
class Calibration:
    """Calibration snippets named by where they come from, read only when no cached model was made from them.

    Attributes:
        lookup: what names them without reading them (JSON values: the feature spec, the clips wanted,
            the candidate videos in order); the same lookup and the same videos give the same snippets.
        clip_shape: one clip's shape ``(3, 16, h, w)``.
        load: reads them: ``(snippets (S, C, 3, 16, h, w) float32, videos)``, ``videos`` being the paths
            the reading went through (every one whose change could change the snippets).
    """

    lookup: dict
    clip_shape: tuple[int, ...]
    load: Callable[[], tuple[torch.Tensor, list[str]]]


@dataclass(frozen=True)
class Int8Outcome:
    """What a run asking for int8 gets.

    Attributes:
        backbone: callable ``(N, 3, 16, h, w)`` float32 -> ``(N, D)``: the int8 model, or the fp32 engine.
        precision: ``int8`` or ``fp32`` (what to record).
        check: the measured agreement (None when quantization itself failed, or there was nothing to check).
        note: one line for the user when int8 was refused (why, with the figure), else None.
    """

    backbone: Callable[[torch.Tensor], torch.Tensor]
    precision: str
    check: Int8Check | None
    note: str | None = None


def int8_backbone(backbone: nn.Module, snippets: torch.Tensor | np.ndarray | Calibration, *,
                  threads: int | None = None, threshold: float = INT8_MIN_COSINE,
                  notify: Callable[[str], None] | None = None, fp32=None) -> Int8Outcome:
    """The backbone in int8 on OpenVINO if it passes the check on ``snippets``, else in fp32 with the reason.

    Args:
        backbone: the torch module (CPU, eval mode) mapping ``(N, 3, 16, h, w)`` to ``(N, D)``.
        snippets: preprocessed calibration snippets ``(S, C, 3, 16, h, w)`` float32 of the user's own videos,
            in their order (every fourth, at least one, is held out: :func:`split_snippets`); S >= 2. They stay in
            memory while quantizing: some dozens of snippets are plenty (NNCF's default is 300 clips).
            A :class:`Calibration` is read only when no cached model was made from its videos.
        threads: the engine's threads (default as :class:`~vadpipe.engines.backbone.EngineBackbone`).
        threshold: the lowest per-clip cosine accepted (:data:`INT8_MIN_COSINE`).
        notify: told one line before a quantization starts (it takes a while).
        fp32: the backbone's :class:`~vadpipe.engines.backbone.EngineBackbone` on OpenVINO when the caller has
            one (``threads`` is then its own): checked against, and run when int8 is refused.

    Raises:
        UsageError: OpenVINO or NNCF is not installed (one line naming the pip command).
        VadpipeError: the cache cannot be written, or the export fails.
    """
    from vadpipe.engines.backbone import EngineBackbone

    runtimes.require_int8()
    if fp32 is None or getattr(fp32, "engine", None) != runtimes.INT8_ENGINE:
        fp32 = EngineBackbone(backbone, runtimes.INT8_ENGINE, threads)
    source = snippets if isinstance(snippets, Calibration) else None
    if source is not None:
        found = _found_by_source(backbone, source, fp32)
        if found is not None:
            return _outcome(fp32, *found, threshold)
        snippets, videos = source.load()
    x = _as_snippets(snippets)  # (S, C, 3, 16, h, w)
    if x.shape[0] < 2:
        return Int8Outcome(fp32, "fp32", None, f"int8 refused: {x.shape[0]} calibration snippet(s), at least 2 "
                           "are needed (one to calibrate, one to check); running fp32")
    try:
        model, run = _quantized_and_loaded(backbone, x, fp32, notify)
    except VadpipeError:
        raise
    except Exception as exc:  # noqa: BLE001 - NNCF's or OpenVINO's own failure: fp32 goes on, with the reason
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return Int8Outcome(fp32, "fp32", None, f"int8 refused: quantization failed ({type(exc).__name__}: "
                           f"{reason}); running fp32")
    if source is not None:
        remember_source(source, model.key, videos)
    return _outcome(fp32, model, run, threshold)


def _outcome(fp32, model: Int8Model, run: Callable, threshold: float) -> Int8Outcome:
    if not model.check.passes(threshold):
        return Int8Outcome(fp32, "fp32", model.check, f"int8 refused: {model.check.describe()} is below "
                           f"{threshold}; running fp32")
    return Int8Outcome(Int8Backbone(run, tuple(model.key["input"])), "int8", model.check)


def _found_by_source(backbone: nn.Module, source: Calibration, fp32) -> tuple[Int8Model, Callable] | None:
    """The cached model and its loaded engine when ``source`` names one made from the same videos, else None."""
    model = cached_by_source(backbone, source, weights=fp32.weights)
    if model is None:
        return None
    try:
        return model, runtimes.load_engine(runtimes.INT8_ENGINE, model.xml, fp32.threads)
    except Exception:  # noqa: BLE001 - a file the engine cannot read: the snippets are read and it is redone
        return None


def _quantized_and_loaded(backbone: nn.Module, x: torch.Tensor, fp32, notify) -> tuple[Int8Model, Callable]:
    model = quantized_model(backbone, x, fp32=fp32, notify=notify)  # NNCF's own failure propagates: it would fail again
    try:
        return model, runtimes.load_engine(runtimes.INT8_ENGINE, model.xml, fp32.threads)
    except Exception:  # noqa: BLE001 - a cached file the engine cannot read (its sha256 matched): quantized again
        model = quantized_model(backbone, x, fp32=fp32, rebuild=True, notify=notify)
        return model, runtimes.load_engine(runtimes.INT8_ENGINE, model.xml, fp32.threads)


class Int8Backbone:
    """The quantized model as a backbone: ``(N, 3, 16, h, w)`` float32 clips of its calibrated size -> ``(N, D)``."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], clip_shape: tuple[int, ...]):
        self.run, self.clip_shape = run, clip_shape

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        if tuple(clips.shape[1:]) != self.clip_shape:  # its statistics are of this size; another is not checked
            raise ValueError(f"int8 backbone calibrated for clips {self.clip_shape}, got {tuple(clips.shape[1:])}")
        x = np.ascontiguousarray(clips.detach().to("cpu", torch.float32).numpy())  # (N, 3, 16, h, w)
        return torch.from_numpy(self.run(x))  # (N, D)


def quantized_model(backbone: nn.Module, snippets: torch.Tensor, *, fp32: Callable | None = None,
                    rebuild: bool = False, notify: Callable[[str], None] | None = None) -> Int8Model:
    """The int8 model of ``backbone`` calibrated on ``snippets``: cached, else quantized and checked now.

    Args:
        backbone: the torch module; its ONNX export (:mod:`.export`) is what gets quantized.
        snippets: ``(S, C, 3, 16, h, w)`` float32, S >= 2 (every fourth is held out).
        fp32: the fp32 engine backbone to check against (built when None).
        rebuild: quantize again even when a valid entry exists.
        notify: told one line before quantizing (not when the model is found cached).
    """
    from vadpipe.engines.backbone import EngineBackbone
    from vadpipe.engines.export import cache_dir, exported_onnx

    fp32 = fp32 or EngineBackbone(backbone, runtimes.INT8_ENGINE)
    x = _as_snippets(snippets)  # (S, C, 3, 16, h, w)
    key = quantize_key(backbone, x, weights=getattr(fp32, "weights", None))
    if not rebuild and (found := cached_int8(key)) is not None:
        return found
    calibrate, held_out = split_snippets(x.shape[0])
    if notify is not None:
        notify(f"precision int8: quantizing {key['backbone']} on {x.shape[0]} snippets of your videos and checking "
               f"it against fp32, once for these snippets (cached in {cache_dir()}); a minute or more on a small CPU")
    onnx_path = exported_onnx(backbone, tuple(x.shape[2:]), weights=key["weights_sha256"])
    start = time.perf_counter()
    quantized = _quantize(onnx_path, x[calibrate].flatten(0, 1))  # (S_cal * C, 3, 16, h, w) clips
    xml, record = entry_paths(key)
    try:
        with tempfile.TemporaryDirectory(prefix=".int8-", dir=_made(cache_dir())) as tmp:
            import openvino as ov

            ov.save_model(quantized, str(Path(tmp) / "model.xml"), compress_to_fp16=False)
            run = runtimes.load_engine(runtimes.INT8_ENGINE, Path(tmp) / "model.xml", getattr(fp32, "threads", 1))
            check = _check(fp32, run, x[held_out], calibration_snippets=len(calibrate))
            sha = {"xml_sha256": _file_sha256(Path(tmp) / "model.xml"),
                   "bin_sha256": _file_sha256(Path(tmp) / "model.bin")}
            os.replace(Path(tmp) / "model.bin", xml.with_suffix(".bin"))  # the record, written last, vouches for both
            os.replace(Path(tmp) / "model.xml", xml)
        atomic.write_json(record, {"key": key, **sha, "check": asdict(check),
                                   "seconds": round(time.perf_counter() - start, 1)})
    except OSError as exc:
        raise VadpipeError(f"{cache_dir()}: cannot write the int8 backbone there ({exc.strerror or exc}); "
                           "set VADPIPE_HOME to a writable folder") from exc
    prune(key["backbone"])
    return Int8Model(xml, key, check)


def split_snippets(count: int) -> tuple[list[int], list[int]]:
    """``(calibrate, held_out)`` snippet indices: every fourth (the 4th, 8th, ...; the last when there are
    fewer than four) held out, the rest calibrate."""
    held = list(range(HELD_OUT_EVERY - 1, count, HELD_OUT_EVERY)) or [count - 1]
    return [i for i in range(count) if i not in held], held


def calibration_sha256(snippets: torch.Tensor) -> str:
    """sha256 of the calibration snippets: shape, dtype and bytes (float32, in order)."""
    x = _as_snippets(snippets).contiguous()
    digest = hashlib.sha256(f"{tuple(x.shape)}|float32|".encode())
    digest.update(x.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def quantize_key(backbone: nn.Module, snippets: torch.Tensor, weights: str | None = None) -> dict:
    """Everything a quantized model and its check depend on (``weights``: its sha256 when already known)."""
    x = _as_snippets(snippets)
    return {
        **model_key(backbone, tuple(x.shape[2:]), weights),
        "calibration_sha256": calibration_sha256(x),
        "calibration": [int(x.shape[0]), int(x.shape[1])],  # snippets, crops
    }


def model_key(backbone: nn.Module, clip_shape: tuple[int, ...], weights: str | None = None) -> dict:
    """The part of :func:`quantize_key` that does not come from the snippets: the export's key and the tools."""
    from vadpipe.engines.export import export_key

    return {
        **export_key(backbone, clip_shape, weights),
        "precision": "int8",
        "openvino": _version("openvino"),
        "nncf": _version("nncf"),
        "int8_format": FORMAT,
    }


def entry_paths(key: dict) -> tuple[Path, Path]:
    """``(model.xml, record.json)`` of a key in the engines cache (the weights are ``model.bin`` beside the xml)."""
    from vadpipe.engines.export import cache_dir

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    stem = cache_dir() / f"{key['backbone']}-int8-{digest}"
    return stem.with_suffix(".xml"), stem.with_suffix(".json")


def cached_int8(key: dict) -> Int8Model | None:
    """The cached model of ``key`` when its record names that key and both files match their sha256.

    A model found is marked as used (its record's mtime), which :func:`prune` keeps by.
    """
    xml, record = entry_paths(key)
    try:
        meta = json.loads(record.read_text(encoding="utf-8"))
        if (meta.get("key") != key or meta.get("xml_sha256") != _file_sha256(xml)
                or meta.get("bin_sha256") != _file_sha256(xml.with_suffix(".bin"))):
            return None
        model = Int8Model(xml, key, Int8Check(**meta["check"]))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    with contextlib.suppress(OSError):  # a read-only cache still serves
        os.utime(record)
    return model


def source_path(source: Calibration, base: dict) -> Path:
    """The source record of ``source``'s lookup for the model key ``base`` (:func:`model_key`)."""
    from vadpipe.engines.export import cache_dir

    named = json.dumps({"lookup": source.lookup, "base": base}, sort_keys=True, default=str)
    return cache_dir() / f"{base['backbone']}-int8-source-{hashlib.sha256(named.encode()).hexdigest()[:20]}.json"


def remember_source(source: Calibration, key: dict, videos: list[str]) -> None:
    """Record that ``source``'s snippets, read from ``videos``, gave the model of ``key`` (best effort)."""
    base = {k: v for k, v in key.items() if k not in _CALIBRATION_FIELDS}
    record = {"lookup": source.lookup, "key": key, "videos": [{"path": str(v), "identity": source_identity(v)}
                                                              for v in videos]}
    with contextlib.suppress(OSError):  # only a shortcut: without it the next run reads the snippets again
        atomic.write_json(source_path(source, base), record)


def cached_by_source(backbone: nn.Module, source: Calibration, weights: str | None = None) -> Int8Model | None:
    """The cached model made from ``source``'s snippets, found without reading them, or None.

    Found only when a source record names the same lookup and model key, every video it was read from has
    the same identity (path, size, mtime, ends' sha256) and the model itself passes :func:`cached_int8`.
    """
    base = model_key(backbone, source.clip_shape, weights)
    try:
        meta = json.loads(source_path(source, base).read_text(encoding="utf-8"))
        key = meta["key"]
        if meta["lookup"] != source.lookup or {k: v for k, v in key.items() if k not in _CALIBRATION_FIELDS} != base:
            return None
        if any(source_change(v["identity"], source_identity(v["path"])) for v in meta["videos"]):
            return None
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    return cached_int8(key)


def prune(backbone: str, keep: int | None = None) -> list[Path]:
    """Delete all but the ``keep`` (:data:`KEEP_MODELS`) most recently used models of ``backbone`` and the
    source records naming them.

    Returns the records deleted. Files in use elsewhere (another process) are left alone.
    """
    from vadpipe.engines.export import cache_dir

    records = []
    for path in cache_dir().glob(f"{backbone}-int8-*.json"):
        if "-int8-source-" in path.name:
            continue
        with contextlib.suppress(OSError):
            records.append((path.stat().st_mtime_ns, path))
    gone = [path for _, path in sorted(records, reverse=True)[KEEP_MODELS if keep is None else keep:]]
    for record in gone:
        for path in (record, record.with_suffix(".xml"), record.with_suffix(".bin")):  # the record first: no trust
            with contextlib.suppress(OSError):
                path.unlink()
    for path in cache_dir().glob(f"{backbone}-int8-source-*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if not entry_paths(json.loads(path.read_text(encoding="utf-8"))["key"])[1].exists():
                path.unlink()
    return gone


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row cosine similarity of two ``(N, D)`` feature arrays, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(norms, np.finfo(np.float64).tiny)  # (N,); 0 where a feature is all zeros


def floor_6(value: float) -> str:
    """A cosine written with 6 decimals, rounded down: 0.9999996 is ``0.999999``, never ``1.000000``."""
    return f"{math.floor(value * 1e6) / 1e6:.6f}"


def _check(fp32: Callable, run: Callable[[np.ndarray], np.ndarray], held_out: torch.Tensor, *,
           calibration_snippets: int) -> Int8Check:
    s, c = held_out.shape[:2]
    clips = held_out.flatten(0, 1)  # (S * C, 3, 16, h, w)
    int8, reference = [], []
    for i in range(0, len(clips), _CHECK_BATCH):
        batch = clips[i:i + _CHECK_BATCH]
        with torch.inference_mode():
            reference.append(fp32(batch).numpy())  # (n, D)
        int8.append(run(np.ascontiguousarray(batch.numpy())))
    int8, reference = np.concatenate(int8), np.concatenate(reference)  # (S * C, D)
    cos = cosines(int8, reference)  # (S * C,)
    centred = None
    if len(cos) > 1:
        mean = reference.mean(0)  # (D,)
        centred = cosines(int8 - mean, reference - mean)
    return Int8Check(float(cos.min()), float(cos.mean()), float(np.percentile(cos, 1)), int(s), int(c),
                     calibration_snippets, *((float(centred.min()), float(centred.mean())) if centred is not None
                                             else (None, None)))


def _quantize(onnx_path: Path, clips: torch.Tensor):
    """NNCF's post-training quantization of the ONNX model read by OpenVINO, on ``clips`` one at a time."""
    nncf = import_nncf()
    import openvino as ov

    model = ov.Core().read_model(str(onnx_path))
    items = [clip[None].numpy() for clip in clips]  # (1, 3, 16, h, w) each: NNCF's statistics assume batch 1
    with quiet():
        return nncf.quantize(model, nncf.Dataset(items), subset_size=len(items), **quantize_settings(nncf))


def quantize_settings(nncf) -> dict:
    """NNCF's settings for the backbone (module docstring): the whole calibration range of every activation."""
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    return {"preset": nncf.QuantizationPreset.PERFORMANCE, "target_device": nncf.TargetDevice.CPU,
            "advanced_parameters": AdvancedQuantizationParameters(
                activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX)}


def import_nncf():
    """``import nncf`` with its telemetry off and its log quiet (module docstring)."""
    os.environ.setdefault("NNCF_CI", "1")  # NNCF's telemetry is opt-out; it reads this at import
    with quiet():
        import nncf
    nncf.set_log_level(logging.ERROR)
    return nncf


@contextlib.contextmanager
def quiet():
    """NNCF's progress bar off stdout (``--json`` owns it); torch's CUDA_HOME warning, which NNCF's backend
    probe triggers on a CPU-only host, off stderr."""
    cpp = logging.getLogger("torch.utils.cpp_extension")
    level = cpp.level
    cpp.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        cpp.setLevel(level)


def _as_snippets(snippets: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(snippets).detach().to("cpu", torch.float32)
    if x.ndim != 6 or tuple(x.shape[2:4]) != (3, 16):
        raise ValueError(f"calibration snippets must be (S, C, 3, 16, h, w), got {tuple(x.shape)}")
    return x


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _file_sha256(path: Path) -> str:
    from vadpipe.engines.export import _file_sha256 as sha

    return sha(path)

