"""Snippets (frame f in snippet f // 16, tail pad/drop), decoding into snippets, and the prefetcher."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import vadpipe
from tests.helpers.videos import encoder_available, frame_indices, index_frames, write_video
from vadpipe.video.decode import VideoReader
from vadpipe.video.prefetch import Prefetcher
from vadpipe.video.snippets import iter_snippet_batches, loop_indices, snippet_count


def _tagged(n: int) -> list[np.ndarray]:
    """Tiny (1, 1, 3) frames whose value is their index."""
    return [np.full((1, 1, 3), f, dtype=np.uint8) for f in range(n)]


def _snippet_frames(batches) -> np.ndarray:
    return np.concatenate(list(batches))[..., 0, 0, 0].astype(int)  # (T, 16) frame tags


def test_snippet_length_is_16():
    assert vadpipe.SNIPPET_FRAMES == 16


@pytest.mark.parametrize(("n", "pad", "drop"), [(1, 1, 0), (15, 1, 0), (16, 1, 1), (17, 2, 1), (47, 3, 2), (48, 3, 3)])
def test_snippet_count_is_ceil_with_pad_and_floor_with_drop(n, pad, drop):
    assert snippet_count(n, "pad") == pad
    assert snippet_count(n, "drop") == drop
    assert len(_snippet_frames(iter_snippet_batches(_tagged(n), tail="pad", batch_size=2))) == pad
    assert sum(len(b) for b in iter_snippet_batches(_tagged(n), tail="drop", batch_size=2)) == drop


def test_frame_f_lands_in_snippet_f_div_16():
    snippets = _snippet_frames(iter_snippet_batches(_tagged(64), batch_size=3))
    np.testing.assert_array_equal(snippets, np.arange(64).reshape(4, 16))


def test_tail_snippet_is_loop_padded_with_its_own_frames():
    snippets = _snippet_frames(iter_snippet_batches(_tagged(37), tail="pad", batch_size=8))
    assert snippets.shape == (3, 16)
    np.testing.assert_array_equal(snippets[2], [32, 33, 34, 35, 36] * 3 + [32])
    np.testing.assert_array_equal(loop_indices(3, 7), [0, 1, 2, 0, 1, 2, 0])


def test_video_shorter_than_a_snippet_pads_to_one_or_drops_to_none():
    np.testing.assert_array_equal(_snippet_frames(iter_snippet_batches(_tagged(5))), [[0, 1, 2, 3, 4] * 3 + [0]])
    assert list(iter_snippet_batches(_tagged(5), tail="drop")) == []


def test_batches_have_the_requested_size_and_are_fresh_arrays():
    batches = list(iter_snippet_batches(_tagged(16 * 7), batch_size=3))
    assert [b.shape[0] for b in batches] == [3, 3, 1]
    assert batches[0].shape == (3, 16, 1, 1, 3) and batches[0].dtype == np.uint8
    assert not np.shares_memory(batches[0], batches[1])


@pytest.mark.parametrize(("ext", "codec"), [("mp4", "libx264"), ("avi", "mpeg4"), ("mkv", "libx264"),
                                            ("webm", "libvpx-vp9")])
@pytest.mark.parametrize("n", [20, 48, 70])
def test_decoded_videos_give_aligned_snippets(tmp_path, ext, codec, n):
    if not encoder_available(codec):
        pytest.skip(f"no {codec} encoder in this FFmpeg build")
    path = write_video(tmp_path / f"v.{ext}", index_frames(n), codec=codec)
    for tail in ("pad", "drop"):
        with VideoReader(path) as reader:
            batches = list(iter_snippet_batches(reader, tail=tail, batch_size=2))
        got = frame_indices(np.concatenate(batches))  # (T, 16)
        expected = np.arange(16 * snippet_count(n, tail)).reshape(-1, 16)
        if tail == "pad" and n % 16:
            last = np.arange(16 * (n // 16), n)
            expected[-1] = last[loop_indices(last.size)]
        np.testing.assert_array_equal(got, expected)
        assert reader.info.frames == n


def test_prefetcher_keeps_job_order_and_runs_ahead():
    produced = []

    def produce(job):
        for i in range(3):
            produced.append((job, i))
            yield job * 10 + i

    with Prefetcher(range(5), produce, workers=3, depth=2) as pf:
        got = [(job, list(items)) for job, items in pf]
    assert got == [(j, [10 * j, 10 * j + 1, 10 * j + 2]) for j in range(5)]
    assert sorted(produced) == [(j, i) for j in range(5) for i in range(3)]


def test_prefetcher_hands_a_jobs_error_to_the_consumer_and_goes_on():
    def produce(job):
        yield job
        if job == 1:
            raise ValueError("bad video")
        yield job

    outcomes = []
    with Prefetcher(range(3), produce, workers=2) as pf:
        for _job, items in pf:
            try:
                outcomes.append(list(items))
            except ValueError as exc:
                outcomes.append(str(exc))
    assert outcomes == [[0, 0], "bad video", [2, 2]]


def test_prefetcher_memory_is_bounded_by_depth():
    live = []

    def produce(job):
        for i in range(50):
            live.append(i)
            yield i

    with Prefetcher([0], produce, workers=1, depth=2) as pf:
        for _, items in pf:
            next(items)
            time.sleep(0.2)  # a slow consumer: the producer must wait, not race ahead
            assert len(live) <= 4
            list(items)


def test_prefetcher_threads_stop_when_the_consumer_leaves_early():
    def produce(job):
        yield from range(1000)

    before = threading.active_count()
    with Prefetcher(range(4), produce, workers=2) as pf:
        for _, items in pf:
            next(items)
            break
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_inputs_mirror_folders_give_unique_ids_and_skip_hidden_files(tmp_path):
    from vadpipe.video.inputs import collect_videos

    for rel in ("a/x.mp4", "b/x.MKV", "b/y.avi", ".cache/z.mp4", "a/._x.mp4", "notes.txt"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("in/b/y.avi\n# comment\n\nin/b/y.avi\n")
    jobs = collect_videos([tmp_path / "in", listing])
    # x.mp4 and x.MKV share a name, so their ids are their paths; the listed y.avi is the same file: taken once
    assert [(j.rel, j.id) for j in jobs] == [("a/x", "a/x"), ("b/x", "b/x"), ("b/y", "y")]
    assert all(j.problem is None for j in jobs) and [j.folder_label for j in jobs] == [None] * 3
