"""Forward batches packed across videos: unit tests of run_packed, then through extract_videos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.backbones import FrameMeans
from tests.helpers.extract import extract_videos
from tests.helpers.videos import bad_text_as_video, bad_truncated, index_frames, random_frames, write_video
from vadpipe.backbones.registry import build_backbone
from vadpipe.errors import InputError
from vadpipe.features.batching import run_packed
from vadpipe.observers import Observer


def _snippets(video: int, first: int, n: int, crop: int = 2) -> torch.Tensor:
    """(n, 1, 3, 16, crop, crop) filled with 100 * video + snippet index, so outputs name their source."""
    values = 100.0 * video + torch.arange(first, first + n, dtype=torch.float32)
    return values.view(n, 1, 1, 1, 1, 1).expand(n, 1, 3, 16, crop, crop).clone()


def _items(video: int, sizes: list[int], *, fail_after: int | None = None, crop: int = 2):
    yield "start", sum(sizes)
    done = 0
    for k, n in enumerate(sizes):
        if fail_after is not None and k == fail_after:
            raise InputError(f"video {video}: broken after {done} snippets")
        yield "batch", _snippets(video, done, n, crop)
        done += n
    yield "info", f"info {video}"


class Recorder:
    """forward for run_packed: (B, C, 3, 16, h, w) -> (B, C, 1), the first value of each clip; logs batches."""

    def __init__(self):
        self.batches: list[list[float]] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, :, 0, 0, 0, :1]  # (B, C, 1)
        self.batches.append(y[:, 0, 0].tolist())
        return y


def test_snippets_of_consecutive_videos_fill_full_batches_and_come_back_per_video():
    forward = Recorder()
    videos = [(Path("a"), _items(0, [3])), (Path("b"), _items(1, [4, 2])), (Path("c"), _items(2, [2]))]
    done = list(run_packed(videos, forward, batch_size=4))
    assert forward.batches == [[0, 1, 2, 100], [101, 102, 103, 104], [105, 200, 201, 0]]  # the docstring's example
    # (the last batch padded with a zero snippet, whose output is dropped)
    assert [v.path.name for v in done] == ["a", "b", "c"]
    assert [np.concatenate(v.chunks)[:, 0, 0].tolist() for v in done] == [[0, 1, 2], list(range(100, 106)),
                                                                           [200, 201]]
    assert [v.info for v in done] == ["info 0", "info 1", "info 2"] and all(v.error is None for v in done)


def test_a_video_is_handed_on_before_the_later_ones_are_read():
    forward = Recorder()
    read = []

    def videos():
        for i, sizes in enumerate([[2], [4, 4, 4], [1]]):
            read.append(i)
            yield Path(f"v{i}"), _items(i, sizes)

    stream = run_packed(videos(), forward, batch_size=4)
    first = next(stream)
    assert first.path.name == "v0" and read == [0, 1]  # v0 done inside v1, before v2 is opened
    assert [v.path.name for v in stream] == ["v1", "v2"] and len(forward.batches) == 4  # ceil(15 / 4)


def test_a_video_failing_midway_loses_its_snippets_and_the_others_go_on():
    forward = Recorder()
    videos = [(Path("a"), _items(0, [3])), (Path("bad"), _items(1, [2, 2, 2], fail_after=2)),
              (Path("c"), _items(2, [3]))]
    done = list(run_packed(videos, forward, batch_size=4))
    assert [v.path.name for v in done] == ["a", "bad", "c"]
    assert isinstance(done[1].error, InputError) and done[1].chunks == []
    assert np.concatenate(done[0].chunks)[:, 0, 0].tolist() == [0, 1, 2]
    assert np.concatenate(done[2].chunks)[:, 0, 0].tolist() == [200, 201, 202]
    # bad's first snippet went out with a's; the next 3 were still queued when it failed, and were dropped
    assert forward.batches == [[0, 1, 2, 100], [200, 201, 202, 0]]


def test_snippets_of_other_shapes_are_not_packed_together():
    forward = Recorder()
    videos = [(Path("a"), _items(0, [3], crop=2)), (Path("b"), _items(1, [3], crop=4)), (Path("c"), _items(2, [1]))]
    done = list(run_packed(videos, forward, batch_size=4))
    assert forward.batches == [[0, 1, 2, 0], [100, 101, 102, 0], [200, 0, 0, 0]]
    assert [len(np.concatenate(v.chunks)) for v in done] == [3, 3, 1]


# --- Through extract_videos ----------------------------------------------------------------------------------


@pytest.fixture
def short_videos(tmp_path) -> list[Path]:
    """Five short videos of 1 to 3 snippets (17 to 45 frames), each with its own frame indices."""
    return [write_video(tmp_path / f"v{i}.mp4", index_frames(n) if i % 2 else random_frames(n, seed=i))
            for i, n in enumerate([17, 40, 16, 45, 30])]


def test_short_videos_extracted_together_equal_each_alone_with_fewer_forward_calls(short_videos):
    together = FrameMeans()
    mixed = [r.features for r in extract_videos(short_videos, together, crops=5, batch_size=4, workers=2)]
    alone = FrameMeans()
    single = [next(extract_videos([p], alone, crops=5, batch_size=4)).features for p in short_videos]
    for a, b in zip(mixed, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    snippets = [2, 3, 1, 3, 2]
    assert [f.shape[0] for f in mixed] == snippets
    assert len(together.calls) == math.ceil(sum(snippets) / 4) == 3  # packing: full batches of 4 snippets
    assert together.calls == [4 * 5] * 3  # clips = snippets x 5 crops; the last batch padded to full size
    assert len(alone.calls) == 5  # one (padded) pass per video


def test_packing_does_not_change_a_real_backbones_features_by_a_single_bit(short_videos):
    model = build_backbone("inception_i3d", allow_random=True)
    kwargs = dict(crops=1, resize_short=24, crop_size=16, batch_size=4)
    mixed = [r.features for r in extract_videos(short_videos, model, **kwargs)]
    for path, features in zip(short_videos, mixed, strict=True):
        (alone,) = [r.features for r in extract_videos([path], model, **kwargs)]
        np.testing.assert_array_equal(features, alone)  # one batch shape: what resumed runs rely on


class _Counted(Observer):
    def __init__(self, counted: list):
        self.counted = counted

    def advanced(self, units):
        self.counted.append(units)


def test_a_bad_video_in_the_middle_does_not_disturb_its_neighbours(short_videos, tmp_path):
    cut = bad_truncated(tmp_path / "cut.mkv", n=200)  # 6 snippets decode, then it fails as truncated
    unreadable = bad_text_as_video(tmp_path / "text.mp4")
    paths = [*short_videos[:2], cut, short_videos[2], unreadable, *short_videos[3:]]
    counted = []
    results = list(extract_videos(paths, FrameMeans(), crops=1, batch_size=4, workers=2, observer=_Counted(counted)))
    assert [r.path for r in results] == paths
    assert "truncated" in str(results[2].error) and "FFmpeg cannot read" in str(results[4].error)
    assert results[2].features is None and results[4].features is None
    # The cut video failed midway: 3 of its first 4 snippets shared a batch with v1's last one, the 4th was
    # still queued when the error came, and was dropped.
    assert counted == [4, 4, 4, 2] and sum(counted) == 11 + 3
    good = [r.features for r in results if r.error is None]
    single = [next(extract_videos([p], FrameMeans(), crops=1, batch_size=4)).features for p in short_videos]
    for a, b in zip(good, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
