"""The feature pipeline: extract_video / extract_videos with a stand-in and with the real backbones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.backbones import FrameMeans
from tests.helpers.extract import extract_video, extract_videos
from tests.helpers.videos import bad_text_as_video, index_frames, random_frames, write_video
from vadpipe.backbones.preprocess import preprocess_snippets
from vadpipe.backbones.registry import build_backbone
from vadpipe.errors import InputError
from vadpipe.observers import Observer
from vadpipe.video.decode import read_video
from vadpipe.video.snippets import iter_snippet_batches


def _grey_mean(f: np.ndarray) -> np.ndarray:
    """What FrameMeans sees of index frame f (centre crop: half top level, half bottom level)."""
    return ((16 * (f % 16) + 8) + (16 * (f // 16 % 16) + 8)) / 2


@pytest.mark.parametrize(("n", "tail"), [(40, "pad"), (40, "drop"), (48, "pad"), (7, "pad")])
def test_feature_t_holds_frames_16t_to_16t_plus_15(tmp_path, n, tail):
    path = write_video(tmp_path / "v.mp4", index_frames(n))
    feats, info = extract_video(path, FrameMeans(), crops=1, tail=tail, batch_size=2)
    t = -(-n // 16) if tail == "pad" else n // 16
    assert feats.shape == (t, 1, 16) and feats.dtype == np.float32
    assert info.frames == n
    frames = np.arange(16 * t).reshape(t, 16)
    if tail == "pad" and n % 16:
        last = np.arange(16 * (n // 16), n)
        frames[-1] = last[np.arange(16) % last.size]  # the tail loops its own frames
    np.testing.assert_allclose(feats[:, 0], _grey_mean(frames), atol=2.0)


def test_pipeline_equals_decode_snippets_preprocess_backbone_by_hand(tmp_path):
    path = write_video(tmp_path / "v.avi", random_frames(45, 24, 32), codec="mpeg4")
    model = FrameMeans()
    feats, _ = extract_video(path, model, crops=10, batch_size=3)
    frames, _ = read_video(path)
    (snips,) = list(iter_snippet_batches(iter(frames), batch_size=8))  # (3, 16, H, W, 3)
    x = preprocess_snippets(torch.from_numpy(snips), model.spec.preprocessing, 10)  # (3, 10, 3, 16, 16, 16)
    expected = model(x.flatten(0, 1)).view(3, 10, 16)  # (T, C, D)
    np.testing.assert_allclose(feats, expected.numpy(), rtol=1e-6, atol=1e-5)


def test_short_video_with_drop_is_a_clear_failure(tmp_path):
    path = write_video(tmp_path / "short.mp4", index_frames(12))
    assert extract_video(path, FrameMeans(), crops=1, tail="pad")[0].shape == (1, 1, 16)
    with pytest.raises(InputError, match=r"only 12 frames, shorter than one 16-frame snippet.*--tail pad"):
        extract_video(path, FrameMeans(), crops=1, tail="drop")


def test_float16_output_and_size_overrides(tmp_path):
    path = write_video(tmp_path / "v.mp4", random_frames(20, 48, 64))
    feats, _ = extract_video(path, FrameMeans(), crops=5, dtype="float16", resize_short=40, crop_size=32)
    assert feats.shape == (2, 5, 16) and feats.dtype == np.float16


class _Progress(Observer):
    def __init__(self, started: list, counted: list):
        self.started_videos, self.counted = started, counted

    def started(self, item, size=None):
        self.started_videos.append((item.name, size))

    def advanced(self, units):
        self.counted.append(units)


def test_many_videos_stream_in_order_and_bad_ones_do_not_stop_the_rest(tmp_path):
    paths = [write_video(tmp_path / f"v{i}.mp4", index_frames(16 * (i + 1))) for i in range(3)]
    paths.insert(1, bad_text_as_video(tmp_path / "bad.mp4"))
    started, counted = [], []
    results = list(extract_videos(paths, FrameMeans(), crops=1, batch_size=1, workers=2,
                                  observer=_Progress(started, counted)))
    assert [r.path for r in results] == paths
    assert [None if r.features is None else r.features.shape[0] for r in results] == [1, None, 2, 3]
    assert "FFmpeg cannot read this file" in str(results[1].error)
    assert started == [("v0.mp4", 1), ("v1.mp4", 2), ("v2.mp4", 3)] and sum(counted) == 6


def test_results_do_not_depend_on_batch_size_or_workers(tmp_path):
    path = write_video(tmp_path / "v.mp4", random_frames(70, 24, 32))
    model = build_backbone("resnet3d", allow_random=True)
    kwargs = dict(crops=1, resize_short=24, crop_size=16)
    a, _ = extract_video(path, model, batch_size=1, **kwargs)
    (b,) = [r.features for r in extract_videos([path], model, batch_size=5, workers=2, **kwargs)]
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)  # only float summation order differs


@pytest.mark.parametrize(("name", "dim"), [("resnet3d", 2048), ("i3d_r50", 2048), ("inception_i3d", 1024)])
def test_real_backbones_give_t_c_d_features(tmp_path, name, dim):
    path = write_video(tmp_path / "v.mp4", random_frames(20, 24, 32))
    model = build_backbone(name, allow_random=True)
    feats, info = extract_video(path, model, crops=5, batch_size=2, resize_short=24, crop_size=16)
    assert feats.shape == (2, 5, dim) and np.isfinite(feats).all()
    assert not np.allclose(feats[0, 0], feats[0, 1])  # crops differ


def test_preprocessing_on_the_device_gives_the_same_features(tmp_path):
    path = write_video(tmp_path / "v.mp4", random_frames(40, 24, 32))
    model = FrameMeans()
    a, _ = extract_video(path, model, crops=5)
    (b,) = [r.features for r in extract_videos([path], model, crops=5, preprocess_on_device=True)]
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)  # the CUDA path's order of work, run on the CPU


def test_fps_resampling_happens_before_snippets(tmp_path):
    path = write_video(tmp_path / "v.mkv", index_frames(64), fps=30)
    feats, info = extract_video(path, FrameMeans(), crops=1, fps=15)
    assert (info.frames, info.fps, feats.shape[0]) == (32, 15.0, 2)
    np.testing.assert_allclose(feats[0, 0], _grey_mean(np.arange(0, 32, 2)), atol=2.0)
