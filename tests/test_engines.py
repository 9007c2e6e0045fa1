"""CPU engines for the backbone (`--engine`): same features as torch, the export cache, and clear refusals.

The engine tests are skipped where the extras are not installed (`pip install '.[onnx,openvino]'`);
the refusal tests pass on either install, and `.ci/run` runs this module (marker ``extras``) on the base
install before it installs the extras. Sizes are small (32 px crops, 2 snippets,
2 crops), and every export goes to one session-wide VADPIPE_HOME, so each backbone is exported
once however many tests use it.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.backbones import TinyConv
from tests.helpers.checkpoints import randomise_batchnorm
from tests.helpers.videos import random_frames, write_video
from vadpipe.cli.app import main
from vadpipe.engines import AUTO_ORDER, resolve_engine, runtimes
from vadpipe.errors import UsageError

pytestmark = pytest.mark.extras  # every test here runs on the base install too (.ci/run), skipped or not

CPU_ENGINES = ("onnxruntime", "openvino")
CROP = 32
needs = {engine: pytest.mark.skipif(not runtimes.is_installed(engine), reason=f"{engine} extra not installed")
         for engine in CPU_ENGINES}


def _engine_params():
    return [pytest.param(engine, marks=needs[engine]) for engine in CPU_ENGINES]


@pytest.fixture
def home(engine_home, monkeypatch):
    monkeypatch.setenv("VADPIPE_HOME", str(engine_home))
    return engine_home


@pytest.fixture
def installed(monkeypatch):
    """Make packages look installed or not, whatever this machine has: ``installed(onnx=True, onnxscript=False)``
    (the rest stay as they are)."""
    real = runtimes.importlib.util.find_spec

    def pretend(**present: bool):
        def find_spec(name, *args):
            if name not in present:
                return real(name, *args)
            return importlib.machinery.ModuleSpec(name, None) if present[name] else None

        monkeypatch.setattr(runtimes.importlib.util, "find_spec", find_spec)

    return pretend


@pytest.fixture
def without(installed):
    """Make packages look uninstalled: ``without("onnxruntime")``."""
    return lambda *names: installed(**dict.fromkeys(names, False))


# --- refusals (no engine needed) -------------------------------------------------------------------------


@pytest.mark.parametrize("engine,extra", [("onnxruntime", "onnx"), ("openvino", "openvino")])
def test_missing_engine_is_one_line_naming_the_pip_command(engine, extra, without, tmp_path, capsys):
    without(engine)
    video = write_video(tmp_path / "v.mp4", random_frames(16, seed=0))
    code = main(["extract", str(video), "--out", str(tmp_path / "f"), "--engine", engine, "--random-init",
                 "--crops", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert f"pip install 'vadpipe[{extra}]'" in err and engine in err and "Traceback" not in err
    assert not (tmp_path / "f" / "index.jsonl").exists() or "ok" not in (tmp_path / "f" / "index.jsonl").read_text()


def test_missing_exporter_package_is_named_too(installed):
    installed(onnxruntime=True, onnx=True, onnxscript=False)  # the same on the base install and with the extras
    with pytest.raises(UsageError, match=r"\(missing onnxscript\); install it with: pip install 'vadpipe\[onnx\]'$"):
        resolve_engine("onnxruntime", "cpu")


@pytest.mark.parametrize("engine,extra", [("onnxruntime", "onnx"), ("openvino", "openvino")])
def test_on_the_base_install_every_missing_package_is_named(engine, extra, installed):
    installed(onnxruntime=False, openvino=False, onnx=False, onnxscript=False)  # `pip install -e '.[dev]'`
    with pytest.raises(UsageError) as err:
        resolve_engine(engine, "cpu")
    assert str(err.value).endswith(f"is not installed here (missing {engine}, onnx, onnxscript); "
                                   f"install it with: pip install 'vadpipe[{extra}]'")


def test_auto_is_torch_without_engines_and_prefers_openvino_then_onnxruntime(without, monkeypatch):
    without("onnxruntime", "openvino")
    assert resolve_engine("auto", "cpu") == "torch"
    installed = set()
    monkeypatch.setattr(runtimes, "is_installed", lambda engine: engine in installed)
    installed.add("onnxruntime")
    assert resolve_engine("auto", "cpu") == "onnxruntime"
    installed.add("openvino")
    assert resolve_engine("auto", "cpu") == "openvino" == AUTO_ORDER[0]
    # What only torch does keeps auto on torch: a GPU, reduced precision, compile, channels-last.
    assert resolve_engine("auto", "cuda:0") == "torch"
    assert resolve_engine("auto", "cpu", precision="bf16") == "torch"
    assert resolve_engine("auto", "cpu", compile=True) == "torch"
    assert resolve_engine("auto", "cpu", channels_last=True) == "torch"


def test_cpu_engine_refuses_what_only_torch_does(monkeypatch):
    from vadpipe.cli.app import error_line

    monkeypatch.setattr(runtimes, "missing_modules", lambda engine: [])
    for kwargs, named, flag in (({"precision": "bf16"}, "precision bf16", "--precision bf16"),
                                ({"compile": True}, "compile", "--compile"),
                                ({"channels_last": True}, "channels_last", "--channels-last")):
        with pytest.raises(UsageError, match=f"^engine openvino .*{named}") as err:
            resolve_engine("openvino", "cpu", **kwargs)
        # The library names its parameters; the command line reads its own flags.
        assert error_line(err.value) == (f"--engine openvino runs the backbone on the CPU in fp32 and cannot go "
                                         f"with {flag}; use --engine torch for that")
    with pytest.raises(UsageError, match="device cuda:0") as err:
        resolve_engine("onnxruntime", "cuda:0")
    assert "cannot go with --device cuda:0" in error_line(err.value)
    with pytest.raises(UsageError, match="choose one of auto, torch, onnxruntime, openvino") as err:
        resolve_engine("tensorrt", "cpu")
    assert error_line(err.value).startswith("--engine 'tensorrt': ")


# --- the same features ------------------------------------------------------------------------------------


def _clips(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 2, 3, 16, CROP, CROP, generator=g)  # (S, C, 3, 16, h, w): 2 snippets x 2 crops


def _relative(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per snippet and crop: max |a - b| over the feature, relative to that clip's max |b|."""
    return (a - b).abs().amax(-1) / b.abs().amax(-1)  # (S, C)


@pytest.fixture(scope="module")
def backbones():
    from vadpipe.backbones.registry import build_backbone

    built = {}
    for name in ("resnet3d", "inception_i3d", "i3d_r50"):
        model = build_backbone(name, random_init=True)
        if name != "inception_i3d":  # inception stays as `score`'s random backbone, so its export is shared
            randomise_batchnorm(model, seed=5)
        built[name] = model
    return built


@pytest.mark.parametrize("engine", _engine_params())
@pytest.mark.parametrize("name", ["resnet3d", "inception_i3d", "i3d_r50"])
def test_engine_features_match_torch_per_snippet_and_crop(name, engine, backbones, home):
    from vadpipe.session.runner import BackboneRunner

    model, x = backbones[name], _clips(1)
    with torch.inference_mode():
        expected = BackboneRunner(model, "cpu")(x)  # (S, C, D)
        runner = BackboneRunner(model, "cpu", engine=engine)
        got = runner(x)
        single = runner(x[:1])  # the batch is dynamic: one snippet alone gives the same features
    assert runner.engine == engine and got.shape == expected.shape == (2, 2, model.spec.feature_dim)
    assert _relative(got, expected).max() <= 1e-5
    assert _relative(single, expected[:1]).max() <= 1e-5
    assert expected.abs().amax(-1).min() > 1e-3  # features that could tell a wrong graph apart


# --- the export cache -------------------------------------------------------------------------------------


@pytest.fixture
def counted_exports(monkeypatch):
    from vadpipe.engines import export

    calls = []
    real = export._export
    monkeypatch.setattr(export, "_export", lambda *a: (calls.append(a[1]), real(*a))[1])
    return calls


@needs["onnxruntime"]
def test_export_is_cached_by_weights_and_size_and_bad_entries_are_rebuilt(tmp_path, monkeypatch, counted_exports):
    from vadpipe.engines.export import cached_onnx, export_key, exported_onnx

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    model = TinyConv().eval()
    shape = (3, 16, 16, 16)
    path = exported_onnx(model, shape)
    assert exported_onnx(model, shape) == path and len(counted_exports) == 1  # found, not exported again
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["key"] == export_key(model, shape) and record["key"]["input"] == [3, 16, 16, 16]
    assert "onnxruntime" in record["engine_versions"]

    # Another size or other weights: another entry.
    assert exported_onnx(model, (3, 16, 20, 20)) != path
    other = TinyConv().eval()
    assert export_key(other, shape)["weights_sha256"] != record["key"]["weights_sha256"]
    assert exported_onnx(other, shape) != path
    assert len(counted_exports) == 3

    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated (a disk full, a copy cut short)
    assert cached_onnx(export_key(model, shape)) is None
    assert exported_onnx(model, shape) == path and path.read_bytes() == good and len(counted_exports) == 4

    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({**record, "key": {**record["key"], "torch": "0.0"}}))  # stale: made by another torch
    exported_onnx(model, shape)
    meta.write_text("{not json")  # corrupt record
    exported_onnx(model, shape)
    meta.unlink()  # killed between the model and its record
    exported_onnx(model, shape)
    assert len(counted_exports) == 7 and cached_onnx(export_key(model, shape)) == path


@needs["onnxruntime"]
def test_a_failed_export_leaves_nothing_to_trust(tmp_path, monkeypatch):
    from vadpipe.engines import export

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))

    def dies(backbone, shape, path):
        path.write_bytes(b"half an onnx file")
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "_export", dies)
    with pytest.raises(KeyboardInterrupt):
        export.exported_onnx(TinyConv().eval(), (3, 16, 16, 16))
    assert list(tmp_path.rglob("*")) == [tmp_path / "engines"]  # no model, no record, no temp file


@needs["onnxruntime"]
def test_an_export_that_fails_is_one_line_saying_use_torch(tmp_path, monkeypatch):
    from vadpipe.engines import export
    from vadpipe.engines.backbone import EngineBackbone
    from vadpipe.errors import VadpipeError

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    monkeypatch.setattr(export, "_export", lambda *a: (_ for _ in ()).throw(RuntimeError("unsupported op\nmore")))
    with pytest.raises(VadpipeError, match=r"^exporting tiny_conv to ONNX failed \(RuntimeError: unsupported op\); "
                       r"use engine torch$"):
        EngineBackbone(TinyConv().eval(), "onnxruntime")(torch.zeros(1, 3, 16, 16, 16))


@needs["onnxruntime"]
def test_a_file_the_engine_cannot_read_is_exported_again(tmp_path, monkeypatch, counted_exports):
    from vadpipe.engines.backbone import EngineBackbone
    from vadpipe.engines.export import _file_sha256, export_key, exported_onnx

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    model = TinyConv().eval()
    shape = (3, 16, 16, 16)
    path = exported_onnx(model, shape)
    # Garbage whose record matches (written by hand or a broken disk): the engine fails, the entry is rebuilt.
    path.write_bytes(b"garbage")
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "sha256": _file_sha256(path)}))
    x = torch.randn(1, 3, 16, 16, 16)
    with torch.inference_mode():
        got = EngineBackbone(model, "onnxruntime")(x)
        expected = model(x)
    assert len(counted_exports) == 2 and torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert export_key(model, shape)["weights_sha256"] in meta.read_text()


@needs["onnxruntime"]
def test_the_engine_takes_this_process_share_of_the_cores_like_torch(monkeypatch):
    from vadpipe.engines import backbone as engine_backbone

    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(engine_backbone, "cpus_for_this_process", lambda: 3)  # e.g. 12 cores, 4 torchrun ranks
    assert engine_backbone.EngineBackbone(TinyConv().eval(), "onnxruntime").threads == 3
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # OMP_NUM_THREADS=2 / torch.set_num_threads(2)
    assert engine_backbone.EngineBackbone(TinyConv().eval(), "onnxruntime").threads == 2


# --- the commands -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", _engine_params())
def test_extract_with_an_engine_records_it_matches_torch_and_does_not_decide_resuming(engine, home, tmp_path,
                                                                                      capsys):
    video = write_video(tmp_path / "v" / "clip.mp4", random_frames(40, height=40, width=48, seed=3))
    common = ["--backbone", "inception_i3d", "--random-init", "--crops", "1", "--resize-short", "36",
              "--crop-size", str(CROP), "--device", "cpu", "--json"]
    assert main(["extract", str(video), "--out", str(tmp_path / "torch"), "--engine", "torch", *common]) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "torch"
    assert main(["extract", str(video), "--out", str(tmp_path / "e"), "--engine", engine, *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == engine and summary["done"] == 1
    (record,) = [json.loads(line) for line in (tmp_path / "e" / "index.jsonl").read_text().splitlines()]
    assert record["engine"] == engine and record["precision"] == "fp32"
    got, expected = np.load(tmp_path / "e" / "clip.npy"), np.load(tmp_path / "torch" / "clip.npy")  # (3, 1, 1024)
    assert got.shape == expected.shape == (3, 1, 1024)
    assert (np.abs(got - expected).max(-1) / np.abs(expected).max(-1)).max() <= 1e-5
    # The engine is not a feature setting: the torch store is complete for a run with the engine.
    assert main(["extract", str(video), "--out", str(tmp_path / "torch"), "--engine", engine, *common]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 1


def test_the_cli_default_engine_is_auto_unless_vadpipe_engine_says_otherwise():
    import inspect

    from vadpipe.cli.extract import extract_command
    from vadpipe.cli.score import score_command

    assert os.environ["VADPIPE_ENGINE"] == "torch"  # tests/conftest.py: tests run torch unless they ask
    for command in (extract_command, score_command):
        option = inspect.signature(command).parameters["engine"].default
        assert option.default == "auto" and option.envvar == "VADPIPE_ENGINE"


def test_version_lists_the_cpu_engines_or_how_to_install_them():
    from vadpipe.cli.app import _engines
    from vadpipe.engines.runtimes import ENGINE_PACKAGES

    line = _engines(ENGINE_PACKAGES, {"onnxruntime": "1.32.0"})
    assert line == "onnxruntime 1.32.0, openvino not installed (pip install 'vadpipe[openvino]')"


@needs["onnxruntime"]
def test_extract_refuses_an_engine_conflict_before_any_work(tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", random_frames(20, 32, 32))
    code = main(["extract", str(video), "--out", str(tmp_path / "f"), "--engine", "onnxruntime", "--precision",
                 "bf16", "--random-init", "--crop-size", "16", "--resize-short", "16", "--crops", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [
        "vadpipe: error: --engine onnxruntime runs the backbone on the CPU in fp32 and cannot go with "
        "--precision bf16; use --engine torch for that"]
    assert not (tmp_path / "f").exists()  # no backbone built, nothing written


# --- precision int8 (OpenVINO + NNCF) -----------------------------------------------------------------------

needs_int8 = pytest.mark.skipif(bool(runtimes.missing_for_int8()),
                                reason="int8 extra not installed (pip install '.[int8]': openvino and nncf)")


def _snippets(seed: int, count: int = 4, crops: int = 2, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(count, crops, 3, 16, size, size, generator=g)  # (S, C, 3, 16, h, w)


@pytest.fixture
def counted_quantizations(monkeypatch):
    from vadpipe.engines import quantize

    calls = []
    real = quantize._quantize
    monkeypatch.setattr(quantize, "_quantize", lambda path, clips: (calls.append(len(clips)), real(path, clips))[1])
    return calls


def test_int8_runs_on_openvino_only_and_names_the_pip_command_when_nncf_is_missing(installed):
    from vadpipe.cli.app import error_line

    installed(openvino=True, onnx=True, onnxscript=True, nncf=True)  # the same on the base install and with extras
    assert resolve_engine("auto", "cpu", precision="int8") == "openvino"
    assert resolve_engine("openvino", "cpu", precision="int8") == "openvino"
    for engine in ("torch", "onnxruntime"):
        with pytest.raises(UsageError, match=f"precision int8 runs on engine openvino \\(or auto\\), not {engine}"):
            resolve_engine(engine, "cpu", precision="int8")
    with pytest.raises(UsageError, match="cannot go with device cuda:0") as err:
        resolve_engine("auto", "cuda:0", precision="int8")
    assert error_line(err.value) == ("--precision int8 runs the backbone on the CPU with OpenVINO and cannot go "
                                     "with --device cuda:0")
    installed(openvino=True, onnx=True, onnxscript=True, nncf=False)
    with pytest.raises(UsageError) as err:
        resolve_engine("auto", "cpu", precision="int8")
    assert error_line(err.value) == ("--precision int8: NNCF is not installed here (missing nncf); install it with: "
                                     "pip install 'vadpipe[int8]'")
    installed(openvino=False, onnx=False, onnxscript=False, nncf=False)  # `pip install -e '.[dev]'`
    with pytest.raises(UsageError) as err:
        resolve_engine("auto", "cpu", precision="int8")
    assert str(err.value) == ("precision int8: OpenVINO with NNCF is not installed here (missing openvino, onnx, "
                              "onnxscript, nncf); install it with: pip install 'vadpipe[int8]'")


def test_the_check_reports_the_centred_cosine_that_a_shared_mean_hides():
    from vadpipe.engines.quantize import _check

    # Two clips whose features share a large mean (10, 0) and differ by (0, +-1); the "int8" model swaps the
    # differences: the plain cosine stays at 99/101 = 0.980..., the centred one is -1 (all that told them apart).
    fp32 = {0: [10.0, 1.0], 1: [10.0, -1.0]}
    held_out = torch.arange(2, dtype=torch.float32).reshape(2, 1, 1, 1, 1, 1).expand(2, 1, 3, 16, 1, 1)

    def reference(clips):
        return torch.tensor([fp32[int(c[0, 0, 0, 0])] for c in clips])

    def swapped(clips):
        return np.array([fp32[1 - int(c[0, 0, 0, 0])] for c in clips])

    check = _check(reference, swapped, held_out, calibration_snippets=6)
    assert check.min_cosine == pytest.approx(99 / 101) and check.centred_min_cosine == pytest.approx(-1.0)
    assert check.centred_mean_cosine == pytest.approx(-1.0) and (check.snippets, check.crops) == (2, 1)
    one = _check(reference, swapped, held_out[:1], calibration_snippets=6)
    assert one.centred_min_cosine is None and one.min_cosine == pytest.approx(99 / 101)


def test_calibration_split_holds_out_every_fourth_snippet_and_at_least_one():
    from vadpipe.engines.quantize import split_snippets

    assert split_snippets(2) == ([0], [1])
    assert split_snippets(3) == ([0, 1], [2])
    assert split_snippets(8) == ([0, 1, 2, 4, 5, 6], [3, 7])
    calibrate, held_out = split_snippets(40)  # spread over the videos, which are read in order
    assert held_out == list(range(3, 40, 4)) and sorted(calibrate + held_out) == list(range(40))


@needs_int8
def test_int8_features_match_fp32_on_held_out_and_unseen_clips(home):
    from vadpipe.engines.quantize import INT8_MIN_COSINE, Int8Backbone, cosines, int8_backbone

    model = TinyConv().eval()
    outcome = int8_backbone(model, _snippets(6, count=8))
    assert outcome.precision == "int8" and isinstance(outcome.backbone, Int8Backbone) and outcome.note is None
    check = outcome.check
    assert (check.snippets, check.crops, check.calibration_snippets) == (2, 2, 6)
    assert INT8_MIN_COSINE <= check.min_cosine <= check.p1_cosine <= check.mean_cosine < 1 - 1e-9  # quantized
    x = _snippets(9, count=3).flatten(0, 1)  # (6, 3, 16, 16, 16): clips neither calibrated nor checked on
    with torch.inference_mode():
        got, expected = outcome.backbone(x), model(x)
    assert got.shape == expected.shape == (6, 8) and not torch.equal(got, expected)
    assert cosines(got.numpy(), expected.numpy()).min() >= INT8_MIN_COSINE
    with pytest.raises(ValueError, match="calibrated for clips"):
        outcome.backbone(torch.zeros(1, 3, 16, 20, 20))  # another size was never checked


@pytest.mark.slow  # a real backbone's graph (BN, residual adds): ~1.5 min on 2 busy cores
@needs_int8
def test_int8_resnet3d_features_match_fp32_on_held_out_snippets(backbones, home):
    from vadpipe.engines.quantize import INT8_MIN_COSINE, Int8Backbone, cosines, int8_backbone

    model = backbones["resnet3d"]
    snippets = _snippets(7, count=4, crops=2, size=CROP)
    outcome = int8_backbone(model, snippets)
    assert outcome.precision == "int8" and isinstance(outcome.backbone, Int8Backbone) and outcome.note is None
    check = outcome.check
    assert (check.snippets, check.crops, check.calibration_snippets) == (1, 2, 3)
    assert INT8_MIN_COSINE <= check.min_cosine <= check.p1_cosine <= check.mean_cosine < 1 - 1e-7  # quantized
    # On clips it never saw (neither calibration nor check), int8 still matches torch fp32 on every clip.
    x = _snippets(8, count=2, crops=2, size=CROP).flatten(0, 1)  # (4, 3, 16, 32, 32)
    with torch.inference_mode():
        got, expected = outcome.backbone(x), model(x)
    assert got.shape == expected.shape == (4, 2048)
    assert cosines(got.numpy(), expected.numpy()).min() >= INT8_MIN_COSINE
    with pytest.raises(ValueError, match="calibrated for clips"):
        outcome.backbone(torch.zeros(1, 3, 16, 16, 16))  # another size was never checked


@needs_int8
def test_int8_that_cannot_reach_the_threshold_is_refused_and_fp32_runs(home):
    from vadpipe.engines.quantize import int8_backbone

    model, snippets = TinyConv().eval(), _snippets(1)
    outcome = int8_backbone(model, snippets, threshold=1.0)
    assert outcome.precision == "fp32" and outcome.check.min_cosine < 1.0
    assert outcome.note == f"int8 refused: {outcome.check.describe()} is below 1.0; running fp32"
    assert outcome.note.startswith("int8 refused: min cosine 0.99")
    assert "against fp32 on 1 held-out snippet x 2 crops" in outcome.note
    x = snippets[0]  # (2, 3, 16, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(outcome.backbone(x), model(x), rtol=1e-5, atol=1e-6)  # the fp32 engine
    # The same calibration at the default threshold: int8 (the figures come from the cache, not a new check).
    assert int8_backbone(model, snippets).precision == "int8"


class Flipped(TinyConv):
    """TinyConv whose features come out negated: an int8 model of it is a broken one for TinyConv."""

    spec = dataclasses.replace(TinyConv.spec, name="tiny_conv_flipped")  # its own export, not TinyConv's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -super().forward(x)  # (N, 8)


@needs_int8
def test_a_broken_int8_model_is_refused_with_its_figure_and_fp32_runs(home, monkeypatch):
    from vadpipe.engines import quantize
    from vadpipe.engines.export import exported_onnx

    model = TinyConv().eval()
    broken = Flipped().eval()
    broken.load_state_dict(model.state_dict())
    real = quantize._quantize
    # Broken on purpose: the int8 model of the negated graph stands in for this backbone's.
    monkeypatch.setattr(quantize, "_quantize", lambda path, clips: real(exported_onnx(broken, (3, 16, 16, 16)), clips))
    outcome = quantize.int8_backbone(model, _snippets(2))
    assert outcome.precision == "fp32" and outcome.check.min_cosine < -0.99
    assert outcome.note == (f"int8 refused: min cosine {quantize.floor_6(outcome.check.min_cosine)} against fp32 "
                            "on 1 held-out snippet x 2 crops is below 0.995; running fp32")
    x = _snippets(2)[0]
    with torch.inference_mode():
        assert torch.allclose(outcome.backbone(x), model(x), rtol=1e-5, atol=1e-6)  # fp32 goes on


@needs_int8
def test_a_quantization_that_fails_or_too_few_snippets_leave_fp32_with_the_reason(tmp_path, monkeypatch):
    from vadpipe.engines import quantize

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    monkeypatch.setattr(quantize, "_quantize", lambda *a: (_ for _ in ()).throw(RuntimeError("no int8 kernel\nmore")))
    outcome = quantize.int8_backbone(TinyConv().eval(), _snippets(3))
    assert outcome.precision == "fp32" and outcome.check is None
    assert outcome.note == "int8 refused: quantization failed (RuntimeError: no int8 kernel); running fp32"
    assert not list((tmp_path / "engines").glob("*int8*"))
    one = quantize.int8_backbone(TinyConv().eval(), _snippets(3, count=1))
    assert one.precision == "fp32" and "1 calibration snippet(s), at least 2 are needed" in one.note


@needs_int8
def test_int8_cache_is_keyed_by_weights_shape_calibration_and_versions_and_bad_entries_are_redone(
        tmp_path, monkeypatch, counted_quantizations):
    from vadpipe.engines.quantize import cached_int8, calibration_sha256, entry_paths, quantize_key, quantized_model

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    model, snippets = TinyConv().eval(), _snippets(4)
    first = quantized_model(model, snippets)
    assert quantized_model(model, snippets) == first and counted_quantizations == [6]  # 3 snippets x 2 crops
    key = quantize_key(model, snippets)
    assert first.key == key and key["calibration_sha256"] == calibration_sha256(snippets)
    assert key["input"] == [3, 16, 16, 16] and key["calibration"] == [4, 2] and key["precision"] == "int8"
    assert key["weights_sha256"] and key["torch"] and key["openvino"] and key["nncf"]
    xml, record_path = entry_paths(key)
    record = json.loads(record_path.read_text())
    assert first.xml == xml and record["key"] == key and record["check"]["min_cosine"] == first.check.min_cosine

    # Another calibration set, other weights or another size: another entry.
    changed = snippets.clone()
    changed[0, 0, 0, 0, 0, 0] += 1
    assert quantize_key(model, changed)["calibration_sha256"] != key["calibration_sha256"]
    assert quantized_model(model, changed).xml != xml
    assert quantized_model(TinyConv().eval(), snippets).xml != xml
    assert quantized_model(model, _snippets(4, size=20)).xml != xml
    assert len(counted_quantizations) == 4

    weights = xml.with_suffix(".bin")
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])  # truncated weights: not trusted, quantized again
    assert cached_int8(key) is None
    assert quantized_model(model, snippets).xml == xml and weights.read_bytes() == good
    record_path.write_text(json.dumps({**record, "key": {**key, "nncf": "0.0"}}))  # made by another NNCF
    quantized_model(model, snippets)
    record_path.write_text("{not json")
    quantized_model(model, snippets)
    record_path.unlink()  # killed between the model and its record
    quantized_model(model, snippets)
    assert len(counted_quantizations) == 8 and cached_int8(key) is not None


@needs_int8
def test_a_quantization_killed_midway_leaves_nothing_to_trust(tmp_path, monkeypatch):
    from vadpipe.engines import quantize

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after the model was saved to the temporary folder, before it was checked

    monkeypatch.setattr(quantize, "_check", killed)
    with pytest.raises(KeyboardInterrupt):
        quantize.int8_backbone(TinyConv().eval(), _snippets(5))
    assert sorted(p.suffix for p in (tmp_path / "engines").iterdir()) == [".json", ".onnx"]  # the export only


@needs_int8
def test_a_cached_int8_file_openvino_cannot_read_is_quantized_again(tmp_path, monkeypatch, counted_quantizations):
    from vadpipe.engines.export import _file_sha256
    from vadpipe.engines.quantize import int8_backbone, quantized_model

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    model, snippets = TinyConv().eval(), _snippets(6)
    xml = quantized_model(model, snippets).xml
    # Garbage whose record matches (written by hand or a broken disk): OpenVINO fails, the entry is redone once.
    xml.write_text("<net>garbage")
    record = xml.with_suffix(".json")
    record.write_text(json.dumps({**json.loads(record.read_text()), "xml_sha256": _file_sha256(xml)}))
    outcome = int8_backbone(model, snippets)
    assert outcome.precision == "int8" and len(counted_quantizations) == 2 and "garbage" not in xml.read_text()


# --- precision int8 in the commands (extract, score, watch) -------------------------------------------------


def test_calibration_takes_an_even_share_of_each_video_spread_over_it(tmp_path):
    import functools
    from types import SimpleNamespace

    from vadpipe.core.backbone_facts import get_spec
    from vadpipe.core.feature_spec import FeatureSpec
    from vadpipe.session.backbone import _preprocess
    from vadpipe.session.int8 import calibration_snippets
    from vadpipe.video.decode import read_video

    spec = FeatureSpec.resolve("inception_i3d", crops=1, resize_short=20, crop_size=16)
    session = SimpleNamespace(spec=spec, preprocess=functools.partial(
        _preprocess, prep=get_spec("inception_i3d").preprocessing, spec=spec))
    # Videos are taken in the order extract sorts them (by name here): 12 snippets then 3, and the other way.
    long = write_video(tmp_path / "x" / "a.mp4", random_frames(16 * 12, seed=1))
    short = write_video(tmp_path / "x" / "b.mp4", random_frames(16 * 3, seed=2))
    short_first = write_video(tmp_path / "y" / "a.mp4", random_frames(16 * 3, seed=2))
    long_last = write_video(tmp_path / "y" / "b.mp4", random_frames(16 * 12, seed=1))

    def snippets(path, picks):
        frames = torch.from_numpy(read_video(path)[0])  # (N, H, W, 3)
        return session.preprocess(torch.stack([frames[16 * i: 16 * i + 16] for i in picks]))  # (S, 1, 3, 16, h, w)

    got = calibration_snippets([tmp_path / "x"], session, clips=6)  # 6 snippets wanted: 3 of each, spread
    assert torch.equal(got, torch.cat([snippets(long, [0, 4, 8]), snippets(short, [0, 1, 2])]))
    got = calibration_snippets([tmp_path / "y"], session, clips=8)  # the short one gives all it has, the long the rest
    assert torch.equal(got, torch.cat([snippets(short_first, [0, 1, 2]), snippets(long_last, [0, 2, 4, 6, 8])]))


def _calibration_session(crop: int = 16):
    import functools
    from types import SimpleNamespace

    from vadpipe.core.backbone_facts import get_spec
    from vadpipe.core.feature_spec import FeatureSpec
    from vadpipe.session.backbone import _preprocess

    spec = FeatureSpec.resolve("inception_i3d", crops=1, resize_short=crop + 4, crop_size=crop)
    return SimpleNamespace(spec=spec, preprocess=functools.partial(
        _preprocess, prep=get_spec("inception_i3d").preprocessing, spec=spec))


@needs_int8
def test_a_cached_int8_model_is_found_by_its_videos_without_reading_them_until_one_changes(
        tmp_path, monkeypatch, counted_quantizations):
    from vadpipe.engines import quantize
    from vadpipe.session import int8

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "home"))
    session = _calibration_session()
    videos = [write_video(tmp_path / "v" / "a.mp4", random_frames(16 * 6, seed=1)),
              write_video(tmp_path / "v" / "b.mp4", random_frames(16 * 6, seed=2))]
    reads = []
    real = int8.read_calibration
    monkeypatch.setattr(int8, "read_calibration", lambda *a, **k: (reads.append(1), real(*a, **k))[1])
    model, notes = TinyConv().eval(), []

    def run(net=model):
        return quantize.int8_backbone(net, int8.calibration_of(videos, session, clips=8), notify=notes.append)

    first = run()
    assert first.precision == "int8" and (len(reads), counted_quantizations) == (1, [6])  # 8 snippets, 2 held out
    assert len(notes) == 1 and notes[0].startswith("precision int8: quantizing tiny_conv on 8 snippets")
    again = run()  # the same videos, untouched: the model is found by their identity, nothing decoded
    assert again.precision == "int8" and again.check == first.check and len(reads) == 1
    assert torch.equal(again.backbone(torch.ones(1, 3, 16, 16, 16)), first.backbone(torch.ones(1, 3, 16, 16, 16)))

    st = videos[1].stat()
    os.utime(videos[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: read again, same snippets
    assert run().check == first.check and len(reads) == 2 and len(counted_quantizations) == 1
    assert run().check == first.check and len(reads) == 2  # the new identity was recorded
    # Rewritten with other frames and its old mtime put back: the ends' sha256 tells, and it is quantized anew.
    write_video(videos[0], random_frames(16 * 6, seed=3))
    os.utime(videos[0], ns=(st.st_atime_ns, videos[0].stat().st_mtime_ns))
    assert run().precision == "int8" and len(reads) == 3 and len(counted_quantizations) == 2
    # Other weights: the source record names another model key, so the snippets are read and quantized.
    assert run(TinyConv().eval()).precision == "int8" and len(reads) == 4 and len(counted_quantizations) == 3
    assert len(notes) == 3  # a quantization is announced; a model found cached is not


def test_only_the_most_recently_used_int8_models_of_a_backbone_are_kept(tmp_path, monkeypatch):
    from vadpipe.engines import quantize

    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path))
    cache = tmp_path / "engines"
    cache.mkdir()
    keys = [{"backbone": "tiny_conv", "n": i} for i in range(4)] + [{"backbone": "other", "n": 0}]
    for i, key in enumerate(keys):
        xml, record = quantize.entry_paths(key)
        for path in (xml, xml.with_suffix(".bin"), record):
            path.write_text(json.dumps({"key": key}) if path == record else "model")
            os.utime(path, ns=(10**18 + i * 10**9,) * 2)  # used one after another
        (cache / f"{key['backbone']}-int8-source-{i}.json").write_text(json.dumps({"key": key}))
    os.utime(quantize.entry_paths(keys[0])[1], ns=(2 * 10**18,) * 2)  # the oldest, used again since

    gone = quantize.prune("tiny_conv", keep=2)
    assert gone == [quantize.entry_paths(keys[2])[1], quantize.entry_paths(keys[1])[1]]
    left = sorted(p.name for p in cache.iterdir())
    kept = [quantize.entry_paths(k)[0].stem for k in (keys[0], keys[3], keys[4])]
    assert left == sorted([f"{stem}{ext}" for stem in kept for ext in (".bin", ".json", ".xml")]
                          + ["tiny_conv-int8-source-0.json", "tiny_conv-int8-source-3.json",
                             "other-int8-source-4.json"])


def test_the_export_key_covers_the_backbone_code(tmp_path):
    from vadpipe.engines import export

    a, b = tmp_path / "a" / "net.py", tmp_path / "b" / "net.py"
    for path, text in ((a, "x = 1\n"), (b, "x = 2\n")):
        path.parent.mkdir()
        path.write_text(text)
    assert export._files_sha256((str(a),)) != export._files_sha256((str(b),))  # same name, other code
    key = export.export_key(TinyConv().eval(), (3, 16, 16, 16))
    assert key["code_sha256"] == export._files_sha256((str(Path(__file__).parent / "helpers" / "backbones.py"),))


def test_int8_on_a_live_stream_alone_asks_for_calibration_videos():
    from vadpipe.cli.app import error_line
    from vadpipe.session.int8 import use_int8

    with pytest.raises(UsageError) as err:
        use_int8(object(), [])
    assert error_line(err.value) == ("--precision int8 needs videos to quantize on: give --calibrate with videos "
                                     "or a folder of footage like the stream's")


@pytest.fixture(scope="module")
def int8_setup(tmp_path_factory):
    from tests.helpers.live import event_frames, make_run, write_mp4

    root = tmp_path_factory.mktemp("int8")
    (root / "videos").mkdir()
    video = write_mp4(root / "videos" / "cam.mp4", event_frames(12, (4, 8)))
    make_run(root / "run", video)  # trained on fp32 features of this video (inception_i3d, random init, 32 px)
    return root, video


INT8_EXTRACT = ["--backbone", "inception_i3d", "--random-init", "--crops", "1", "--resize-short", "36",
                "--crop-size", "32", "--device", "cpu", "--engine", "auto", "--json"]


@needs_int8
def test_extract_int8_records_precision_and_cosine_and_never_mixes_with_fp32(int8_setup, home, tmp_path, capsys,
                                                                             counted_quantizations):
    from vadpipe.engines.quantize import INT8_MIN_COSINE, cosines

    root, video = int8_setup
    store = tmp_path / "int8"
    assert main(["extract", str(video.parent), "--out", str(store), "--precision", "int8", *INT8_EXTRACT]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["precision"] == "int8" and summary["int8"] is True and summary["engine"] == "openvino"
    check = summary["int8_check"]
    assert check["min_cosine"] >= INT8_MIN_COSINE and (check["snippets"], check["calibration_snippets"]) == (3, 9)
    (record,) = [json.loads(line) for line in (store / "index.jsonl").read_text().splitlines()]
    assert record["precision"] == "int8" and record["int8"] is True and record["int8_check"] == check
    assert main(["extract", str(video.parent), "--out", str(tmp_path / "fp32"), "--precision", "fp32",
                 *INT8_EXTRACT]) == 0
    int8, fp32 = np.load(store / "cam.npy"), np.load(tmp_path / "fp32" / "cam.npy")  # (12, 1, 1024)
    assert int8.shape == fp32.shape == (12, 1, 1024) and not np.array_equal(int8, fp32)
    assert cosines(int8[:, 0], fp32[:, 0]).min() >= INT8_MIN_COSINE  # every snippet, not only the held-out ones

    # An fp32 run on the int8 store extracts again (the spec differs in int8), and so does int8 on an fp32 one.
    capsys.readouterr()
    assert main(["extract", str(video.parent), "--out", str(store), "--precision", "fp32", *INT8_EXTRACT]) == 0
    assert json.loads(capsys.readouterr().out)["done"] == 1
    assert json.loads((store / "index.jsonl").read_text())["int8"] is False
    assert main(["extract", str(video.parent), "--out", str(store), "--precision", "int8", *INT8_EXTRACT]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["done"] == 1 and again["int8_check"] == check  # same videos, same snippets: the cached model
    assert main(["extract", str(video.parent), "--out", str(store), "--precision", "int8", *INT8_EXTRACT]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 1
    assert len(counted_quantizations) == 1


@needs_int8
def test_a_refused_int8_extract_goes_on_in_fp32_and_says_so_with_the_figure(int8_setup, home, tmp_path, capsys,
                                                                           monkeypatch):
    from vadpipe.engines import quantize

    _, video = int8_setup
    monkeypatch.setattr(quantize, "INT8_MIN_COSINE", 1.0)  # a check no quantized model passes
    assert main(["extract", str(video.parent), "--out", str(tmp_path / "f"), "--precision", "int8",
                 *INT8_EXTRACT]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["precision"] == "fp32" and summary["int8"] is False and summary["done"] == 1
    figure = quantize.floor_6(summary["int8_check"]["min_cosine"])
    assert (f"int8 refused: min cosine {figure} against fp32 on 3 held-out snippets x 1 crop is below 1.0; "
            "running fp32") in " ".join(captured.err.split())
    (record,) = [json.loads(line) for line in (tmp_path / "f" / "index.jsonl").read_text().splitlines()]
    assert record["precision"] == "fp32" and record["int8"] is False and record["int8_check"]["min_cosine"] < 1.0


@needs_int8
def test_score_and_watch_in_int8_record_precision_and_cosine_and_say_the_run_was_fp32(int8_setup, home, tmp_path,
                                                                                      capsys):
    root, video = int8_setup
    common = ["--model", str(root / "run"), "--device", "cpu", "--engine", "auto"]
    assert main(["score", str(video), "--out", str(tmp_path / "r"), "--precision", "int8", *common]) == 0
    err = " ".join(capsys.readouterr().err.split())  # the notes (--json and --quiet leave them out)
    assert "precision int8: min cosine 0.99" in err
    assert "the run was trained on fp32 features; scoring with int8 features, which matched fp32" in err
    common.append("--json")
    assert main(["score", str(video), "--out", str(tmp_path / "s"), "--precision", "int8", *common]) == 0
    document = json.loads(capsys.readouterr().out)
    check = document["int8_check"]
    assert document["precision"] == "int8" and document["engine"] == "openvino" and check["min_cosine"] >= 0.995
    assert document["videos"][0]["precision"] == "int8" and document["videos"][0]["int8_check"] == check
    assert json.loads((tmp_path / "s" / "cam.json").read_text())["int8_check"] == check
    assert main(["score", str(video), "--out", str(tmp_path / "t"), "--precision", "fp32", *common]) == 0
    fp32 = json.loads(capsys.readouterr().out)
    assert fp32["precision"] == "fp32" and fp32["int8_check"] is None
    assert max(iv["peak_score"] for iv in document["videos"][0]["intervals"]) > 0.5  # the bright snippets still fire

    assert main(["watch", str(video), "--precision", "int8", "--behind", "queue", *common]) == 0
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"summary"' in line][-1]
    assert summary["model"]["precision"] == "int8" and summary["model"]["int8_check"] == check
