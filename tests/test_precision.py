"""The forward pass: precision (fp32 / bf16 / fp16 autocast, also on a CPU), channels_last_3d, torch.compile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.helpers.backbones import TinyConv
from tests.helpers.extract import extract_video, extract_videos
from tests.helpers.videos import random_frames, write_video
from vadpipe.backbones.preprocess import preprocess_snippets
from vadpipe.backbones.registry import build_backbone
from vadpipe.cli.app import main
from vadpipe.core.backbone_facts import BACKBONES
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.errors import UsageError
from vadpipe.features.extract_job import run_extract
from vadpipe.features.store import read_index
from vadpipe.session.precision import BF16_MIN_COSINE, compare_to_fp32, resolve_precision


def test_auto_precision_is_fp32_on_a_cpu_and_names_are_checked():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert [resolve_precision(p, "cpu") for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    with pytest.raises(UsageError, match="precision 'half': choose one of auto, fp32, bf16, fp16"):
        resolve_precision("half", "cpu")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_autocast_runs_on_a_cpu_when_asked(tmp_path, precision):
    path = write_video(tmp_path / "v.mp4", random_frames(32, 24, 32))
    model = TinyConv()
    full, _ = extract_video(path, model, crops=5)
    reduced, _ = extract_video(path, model, crops=5, precision=precision)
    assert reduced.dtype == np.float32 and reduced.shape == full.shape == (2, 5, 8)
    assert not np.array_equal(reduced, full)  # the convolution really ran in 16 bits
    np.testing.assert_allclose(reduced, full, rtol=0.05, atol=0.02)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_bf16_features_agree_with_fp32_above_the_documented_threshold(name):
    model = build_backbone(name, allow_random=True)
    frames = torch.from_numpy(random_frames(32, 72, 96)).view(2, 16, 72, 96, 3)  # 2 snippets
    clips = preprocess_snippets(frames, model.spec.preprocessing, 1, resize_short=72, crop_size=64)
    check = compare_to_fp32(model, clips, "bf16")
    assert check.cosines.shape == (2,)
    assert check.ok and check.min >= BF16_MIN_COSINE
    assert check.min < 1 - 1e-9  # bf16 did change the features: the comparison is not fp32 with itself


class BrokenInHalf(nn.Module):
    """Right in fp32; under autocast half of its channels come out as zeros (a layer losing its input)."""

    def __init__(self):
        super().__init__()
        self.inner = TinyConv()

    def forward(self, x):
        y = self.inner(x)  # (N, 8)
        return torch.cat([y[:, :4], 0 * y[:, 4:]], dim=1) if torch.is_autocast_enabled(x.device.type) else y


def test_the_precision_check_fails_a_broken_bf16_path():
    clips = torch.randn(4, 3, 16, 16, 16)
    assert compare_to_fp32(TinyConv(), clips, "bf16").ok
    check = compare_to_fp32(BrokenInHalf(), clips, "bf16")
    assert not check.ok and check.min < BF16_MIN_COSINE


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_channels_last_3d_gives_the_same_features(tmp_path, name):
    path = write_video(tmp_path / "v.mp4", random_frames(32, 24, 32))
    kwargs = dict(crops=1, resize_short=24, crop_size=16, batch_size=2)
    model = build_backbone(name, allow_random=True)
    (plain,) = [r.features for r in extract_videos([path], model, **kwargs)]
    assert not model.get_submodule(_first_conv(model)).weight.is_contiguous(memory_format=torch.channels_last_3d)
    (last,) = [r.features for r in extract_videos([path], model, channels_last=True, **kwargs)]
    assert model.get_submodule(_first_conv(model)).weight.is_contiguous(memory_format=torch.channels_last_3d)
    scale = max(1.0, float(np.abs(plain).max()))  # resnet3d's features are ~100 (0-255 input scale)
    np.testing.assert_allclose(last, plain, rtol=0, atol=1e-5 * scale)


def _first_conv(model: nn.Module) -> str:
    return next(name for name, m in model.named_modules() if isinstance(m, nn.Conv3d))


def test_precision_is_recorded_but_does_not_decide_resuming(tmp_path):
    videos = tmp_path / "videos"
    for i in range(2):
        write_video(videos / f"v{i}.mp4", random_frames(20, seed=i))
    out = tmp_path / "feats"
    spec = FeatureSpec.resolve("inception_i3d", resize_short=24, crop_size=16, crops=1)
    summary = run_extract([videos], out, spec, options=ForwardOptions(precision="bf16"), allow_random=True)
    assert summary.precision == "bf16" and summary.to_json()["precision"] == "bf16"
    assert [r["precision"] for r in read_index(out)] == ["bf16", "bf16"]
    again = run_extract([videos], out, spec, options=ForwardOptions(precision="fp32"), allow_random=True)
    assert (again.done, again.skipped) == (0, 2)


@pytest.mark.parametrize(
    ("args", "code", "recorded"),
    [([], 0, "fp32"), (["--no-amp"], 0, "fp32"), (["--precision", "bf16"], 0, "bf16"),
     (["--precision", "bf16", "--no-amp"], 2, None), (["--precision", "half"], 2, None)],
)
def test_cli_precision_flags(tmp_path, capsys, args, code, recorded):
    path = write_video(tmp_path / "v.mp4", random_frames(20))
    out = tmp_path / "o"
    tiny = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet",
            "--backbone", "inception_i3d", "--channels-last"]
    assert main(["extract", str(path), "--out", str(out), *tiny, *args]) == code
    if recorded:
        assert [r["precision"] for r in read_index(out)] == [recorded]
    else:
        err = capsys.readouterr().err.strip()
        assert "--precision" in err and len(err.splitlines()) == 1


def _compiler_or_skip() -> None:
    try:
        torch.compile(lambda x: torch.relu(x) * 2 + 1)(torch.randn(8))
    except Exception as exc:  # noqa: BLE001 - any failure here means no working toolchain
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        pytest.skip(f"torch.compile cannot build on this machine ({type(exc).__name__}: {first_line})")


@pytest.mark.slow
def test_compiled_backbone_runs_on_a_cpu_and_matches_eager(tmp_path):
    _compiler_or_skip()
    paths = [write_video(tmp_path / f"v{i}.mp4", random_frames(40, 24, 32, seed=i)) for i in range(2)]
    model = build_backbone("resnet3d", allow_random=True)
    kwargs = dict(crops=1, resize_short=24, crop_size=16, batch_size=2)
    eager = [r.features for r in extract_videos(paths, model, **kwargs)]
    compiled = [r.features for r in extract_videos(paths, model, compile=True, **kwargs)]
    for a, b in zip(eager, compiled, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * max(1.0, float(np.abs(a).max())))


def test_a_compile_failure_is_one_line_saying_to_drop_the_flag(tmp_path, capsys, monkeypatch):
    from torch._dynamo.exc import TorchDynamoException

    class FailsToCompile(nn.Module):
        def forward(self, x):
            raise TorchDynamoException("InvalidCxxCompiler: No working C++ compiler found\nlong details")

    monkeypatch.setattr(torch, "compile", lambda module, **_: FailsToCompile())
    paths = [write_video(tmp_path / f"v{i}.mp4", random_frames(20, seed=i)) for i in range(2)]
    tiny = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet",
            "--backbone", "inception_i3d"]
    assert main(["extract", *map(str, paths), "--out", str(tmp_path / "o"), *tiny, "--compile"]) == 1
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert "Traceback" not in err and len(errors) == 1
    assert errors[0].startswith("vadpipe: error: --compile: torch.compile failed") and "without it" in errors[0]
    assert "No working C++ compiler" in errors[0]
