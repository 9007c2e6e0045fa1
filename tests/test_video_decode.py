"""Decoding: exact frame counts per codec/container, frame content, rotation, VFR, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.videos import (
    bad_audio_only,
    bad_empty,
    bad_text_as_video,
    bad_truncated,
    corner_frames,
    encoder_available,
    frame_indices,
    index_frames,
    random_frames,
    write_video,
)
from vadpipe.errors import InputError
from vadpipe.video.decode import VideoReader, probe_frames, read_video

FORMATS = [  # (extension, encoder)
    ("mp4", "libx264"),
    ("avi", "mpeg4"),
    ("mkv", "libx264"),
    ("webm", "libvpx-vp9"),
    ("mov", "libx264"),
    ("mpg", "mpeg2video"),
    ("wmv", "wmv2"),
    ("flv", "flv"),
    ("ts", "libx264"),
]


@pytest.mark.parametrize(("ext", "codec"), FORMATS)
def test_every_frame_decodes_in_order_with_exact_count(tmp_path, ext, codec):
    if not encoder_available(codec):
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = write_video(tmp_path / f"v.{ext}", index_frames(37), codec=codec)
    frames, info = read_video(path)
    assert frames.shape == (37, 24, 32, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frame_indices(frames), np.arange(37))
    assert info.frames == info.decoded_frames == 37
    assert info.fps == pytest.approx(25.0)
    assert (info.width, info.height, info.rotation) == (32, 24, 0)
    assert not info.variable_frame_rate
    assert info.duration_s == pytest.approx(37 / 25, abs=0.02)
    assert info.timestamps.shape == (37,)


def test_reader_streams_frames_and_fills_info_when_exhausted(tmp_path):
    path = write_video(tmp_path / "v.mkv", index_frames(20))
    with VideoReader(path) as reader:
        assert reader._stream.thread_type.name == "AUTO"  # FFmpeg frame + slice threads
        assert reader.estimated_frames() == 20  # from the header's duration x fps, before decoding
        assert reader.info.decoded_frames == 0
        frames = iter(reader)
        assert next(frames).shape == (24, 32, 3)
        assert sum(1 for _ in frames) == 19
    assert reader.info.frames == reader.info.decoded_frames == 20
    assert reader.info.codec == "h264" and reader.info.pix_fmt == "yuv420p"
    assert probe_frames(path) == 20


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotated_video_comes_out_upright(tmp_path, degrees):
    stored = corner_frames(18)  # red top-left corner in the stored picture
    path = write_video(tmp_path / "r.mp4", stored, rotation=degrees)
    frames, info = read_video(path)
    expected = np.rot90(stored[0], degrees // 90)  # the display matrix turns it counter-clockwise
    assert frames.shape[1:] == expected.shape
    red = frames[0, ..., 0].astype(int) > 128
    np.testing.assert_array_equal(red[2:-2, 2:-2], (expected[..., 0] > 128)[2:-2, 2:-2])  # (chroma blurs edges)
    assert red[:2, :2].any() == (degrees == 0) and red[-2:, :2].all() == (degrees == 90)
    assert (info.width, info.height) == (expected.shape[1], expected.shape[0])
    assert abs(info.rotation) == abs(degrees)


def test_variable_frame_rate_is_detected_and_reported(tmp_path):
    pts = [40 * i for i in range(10)] + [400 + 100 * i for i in range(10)]  # 25 fps, then 10 fps
    path = write_video(tmp_path / "vfr.mkv", index_frames(20), pts_ms=pts)
    frames, info = read_video(path)
    assert info.variable_frame_rate
    assert info.frames == 20  # not resampled
    np.testing.assert_array_equal(frame_indices(frames), np.arange(20))
    np.testing.assert_allclose(info.timestamps, np.array(pts) / 1000, atol=1e-3)
    assert info.duration_s == pytest.approx(1.34, abs=1e-3)  # the last frame shows its stated 40 ms, as FFmpeg says
    assert info.fps == pytest.approx(20 / 1.34, rel=1e-3)


def test_constant_rate_with_millisecond_timestamps_is_not_vfr(tmp_path):
    path = write_video(tmp_path / "v.mkv", index_frames(30), fps=30)  # 33/34 ms steps in mkv
    assert not read_video(path)[1].variable_frame_rate


def test_fps_resamples_by_timestamp(tmp_path):
    path = write_video(tmp_path / "v.mkv", index_frames(60), fps=30)
    frames, info = read_video(path, fps=15)
    np.testing.assert_array_equal(frame_indices(frames), np.arange(0, 60, 2))
    assert (info.frames, info.fps, info.source_fps, info.decoded_frames) == (30, 15.0, 30.0, 60)
    up, up_info = read_video(path, fps=60)  # up-sampling repeats frames
    np.testing.assert_array_equal(frame_indices(up), np.repeat(np.arange(60), 2))


def test_vfr_resampling_shows_the_frame_on_screen_at_each_tick(tmp_path):
    pts = [40 * i for i in range(10)] + [400 + 100 * i for i in range(10)]
    path = write_video(tmp_path / "vfr.mkv", index_frames(20), pts_ms=pts)
    frames, info = read_video(path, fps=10)
    # ticks every 100 ms: 0 -> f0, 100 -> f2 (80 ms), 200 -> f5, 300 -> f7, then one frame per tick
    np.testing.assert_array_equal(frame_indices(frames), [0, 2, 5, 7, *range(10, 20)])
    assert info.frames == 14


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "size"),
    [("ffv1", "gray", (24, 32)), ("libx264", "yuv420p10le", (24, 32)), ("ffv1", "yuv420p", (13, 17)),
     ("libx264", "yuv444p", (13, 17))],
)
def test_unusual_pixel_formats_and_odd_sizes_decode_to_rgb(tmp_path, codec, pix_fmt, size):
    frames = random_frames(20, *size)[..., :1].repeat(3, axis=-1)  # grey: no chroma subsampling loss
    path = write_video(tmp_path / f"{pix_fmt}.mkv", frames, codec=codec, pix_fmt=pix_fmt)
    decoded, info = read_video(path)
    assert decoded.shape == (20, *size, 3) and decoded.dtype == np.uint8
    assert info.pix_fmt == pix_fmt and (info.width, info.height) == (size[1], size[0])
    np.testing.assert_allclose(decoded.astype(int), frames.astype(int), atol=6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: bad_empty(p / "empty.mp4"), "empty file (0 bytes)"),
        (lambda p: bad_text_as_video(p / "text.mp4"), "FFmpeg cannot read this file"),
        (lambda p: bad_audio_only(p / "audio.mp4"), "no video stream"),
        (lambda p: bad_truncated(p / "cut.mkv"), "truncated"),
        (lambda p: p / "missing.mp4", "no such video file"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        read_video(path)
    text = str(err.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text
    assert "ffmpeg" not in text  # a command the install lacks (PyAV bundles FFmpeg's libraries, not its CLI)


def test_no_message_in_vadpipe_suggests_a_command_line_tool_the_install_lacks():
    import ast
    import re

    import vadpipe

    command = re.compile(r"\b(ffmpeg|ffprobe|ffplay)\s+-")  # a command line such as `ffmpeg -i IN ...`
    found = []
    for source in Path(vadpipe.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and command.search(node.value):
                found.append(f"{source.name}:{node.lineno}: {node.value[:80]}")
    assert found == []


def test_truncated_mp4_with_index_first_is_refused(tmp_path):
    path = tmp_path / "cut.mp4"
    write_video(path, random_frames(60, 48, 64), container_options={"movflags": "faststart"})
    import av

    with av.open(str(path)) as c:  # moov first: the header declares 60 frames
        assert c.streams.video[0].frames == 60
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    with pytest.raises(InputError, match="declares 60 frames"):
        read_video(path)


@pytest.mark.parametrize(("ext", "codec"), FORMATS)
def test_complete_videos_are_not_mistaken_for_truncated(tmp_path, ext, codec):
    if not encoder_available(codec):
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    frames, info = read_video(write_video(tmp_path / f"ok.{ext}", random_frames(40, 48, 64), codec=codec))
    assert len(frames) == info.frames == info.decoded_frames == 40  # every frame, none refused as missing


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_video_shorter_than_its_audio_is_not_truncated(tmp_path, ext):
    path = write_video(tmp_path / f"v.{ext}", index_frames(25), audio_s=3.0)  # 1 s of picture, 3 s of sound
    frames, info = read_video(path)
    assert len(frames) == 25 and info.duration_s == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(("ext", "audio_s"), [("mkv", 0.0), ("mkv", 3.0), ("mp4", 3.0)])
def test_a_picture_that_starts_late_is_not_truncated(tmp_path, ext, audio_s):
    # Matroska's track DURATION is the end time from the file's zero (3.3 s here), not the 2.8 s the frames span.
    path = write_video(tmp_path / f"late.{ext}", random_frames(70, 40, 48), audio_s=audio_s,
                       pts_ms=[500 + 40 * i for i in range(70)])
    frames, info = read_video(path)
    assert len(frames) == 70 and info.duration_s == pytest.approx(2.8, abs=0.01)


def test_a_late_starting_picture_cut_short_is_still_truncated(tmp_path):
    path = write_video(tmp_path / "late.mkv", random_frames(200, 48, 64), pts_ms=[500 + 40 * i for i in range(200)])
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.5)])
    with pytest.raises(InputError, match="truncated"):
        read_video(path)
