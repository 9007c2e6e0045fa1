"""The overlay MP4: the scored frames at the curve's rate, cropped to an even size, with the source's sound."""

import av
import numpy as np
import pytest

from tests.helpers.videos import random_frames, sound_of, write_video
from vadpipe.infer.overlay import write_overlay
from vadpipe.video.decode import read_video


def _overlay(video, out, frames: int, fps: float = 25.0, **kwargs):
    write_overlay(video, out, np.full(frames, 0.7, np.float32), np.zeros(frames, bool), 0.5, fps, **kwargs)
    with av.open(str(out)) as container:
        return [(s.type, s.codec_context.name) for s in container.streams]


def test_sound_in_a_codec_mp4_players_lack_is_reencoded_to_aac_at_the_same_times(tmp_path):
    video = write_video(tmp_path / "mp2.mp4", random_frames(70, 40, 48), fps=25, audio_s=2.8, audio_codec="mp2",
                        audio_onset_s=1.0)
    assert _overlay(video, tmp_path / "o.mp4", 70) == [("video", "h264"), ("audio", "aac")]
    onset, seconds = sound_of(tmp_path / "o.mp4")
    assert onset == pytest.approx(sound_of(video)[0], abs=0.01) and onset == pytest.approx(1.0, abs=0.01)
    assert seconds == pytest.approx(2.8, abs=0.07)


def test_sound_before_the_first_picture_is_left_out_and_the_rest_keeps_its_time(tmp_path):
    # The picture starts 0.5 s into the file, the sound at 0 with a tone from 1.0 s: 0.5 s after the first frame.
    video = write_video(tmp_path / "late.mp4", random_frames(70, 40, 48), fps=25, audio_s=3.0, audio_onset_s=1.0,
                        pts_ms=[500 + 40 * i for i in range(70)])
    assert _overlay(video, tmp_path / "o.mp4", 70) == [("video", "h264"), ("audio", "aac")]
    onset, seconds = sound_of(tmp_path / "o.mp4")
    assert onset == pytest.approx(0.5, abs=0.01)
    assert seconds == pytest.approx(2.5, abs=0.07)  # 0.5 s to 3.0 s of the source's sound


def test_a_silent_source_gives_a_silent_overlay_cropped_to_an_even_size(tmp_path):
    video = write_video(tmp_path / "odd.mkv", random_frames(20, 41, 49), fps=25, pix_fmt="yuv444p")
    assert _overlay(video, tmp_path / "o.mp4", 20) == [("video", "h264")]
    frames, info = read_video(tmp_path / "o.mp4")
    assert frames.shape == (20, 40, 48, 3) and info.fps == pytest.approx(25.0)


def test_a_resampled_curve_gets_the_resampled_frames(tmp_path):
    video = write_video(tmp_path / "v.mp4", random_frames(50, 32, 32), fps=25, audio_s=2.0)
    assert _overlay(video, tmp_path / "o.mp4", 20, fps=10.0, resample_fps=10.0)[0] == ("video", "h264")
    _, info = read_video(tmp_path / "o.mp4")
    assert (info.frames, info.fps) == (20, pytest.approx(10.0))  # 2 s at 10 fps, as scored
    assert sound_of(tmp_path / "o.mp4")[1] == pytest.approx(2.0, abs=0.07)
