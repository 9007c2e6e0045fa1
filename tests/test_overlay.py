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


SIZES = [(144, 176), (480, 640), (720, 1280), (1080, 1920)]  # (height, width): QCIF to 1080p


def _white(image: np.ndarray) -> np.ndarray:
    return (image > 200).all(axis=-1)  # the overlay's text; the test picture, bar and border have none


def _height(mask: np.ndarray) -> int:
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _picture(h: int, w: int) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    frame[...] = (20, 110, 60)  # grass
    frame[: h // 3] = (150, 170, 190)  # sky: bright, but no channel over 200
    return frame


@pytest.mark.parametrize("h, w", SIZES)
def test_the_alarm_border_never_covers_the_score_and_both_scale_with_the_frame(h, w):
    from vadpipe.infer.overlay import draw_overlay

    frame = _picture(h, w)
    calm, alarm = draw_overlay(frame, 1.0, False, 0.9), draw_overlay(frame, 1.0, True, 0.9)
    short = min(h, w)
    score_text = (slice(h // 2, h), slice(0, w // 3))  # "anomaly score 1.00" above the bar's left end
    assert (_white(alarm[score_text]) == _white(calm[score_text])).all()  # the border hides no pixel of it
    assert _height(_white(alarm[score_text])) >= max(7, 0.03 * short)  # about 3 % of the short side, 7 px at least
    alarm_text = (slice(0, h // 3), slice(0, w // 3))
    assert _height(_white(alarm[alarm_text])) >= max(7, 0.03 * short)  # ALARM: white on red, as large
    assert not _white(calm[alarm_text]).any()
    border = int(np.argmin((alarm[h // 2] == alarm[h // 2, 0]).all(axis=-1)))  # red run from the left edge
    assert max(2, 0.008 * short) <= border <= 0.02 * short
    assert not _white(alarm[:, :border]).any() and not _white(alarm[h - border:]).any()


def test_the_score_text_grows_with_the_frame():
    from vadpipe.infer.overlay import draw_overlay

    heights = [_height(_white(draw_overlay(_picture(h, w), 0.5, False, 0.9)[h // 2:, : w // 3])) for h, w in SIZES]
    assert heights == sorted(heights) and heights[-1] >= 5 * heights[0] * 0.8  # 1080 / 144 = 7.5: roughly in step


def test_the_bar_is_labelled_with_what_it_shows_in_the_room_there_is():
    from vadpipe.infer.overlay import OverlayLayout, _font, bar_labels

    for h, w in SIZES:
        lay = OverlayLayout.of(h, w)
        left, right = bar_labels(0.734, 0.5, lay.bar[2] - lay.bar[0], _font(lay.font_size))
        assert left.endswith("score 0.73") and right.endswith(" 0.50")
    wide = OverlayLayout.of(720, 1280)
    assert bar_labels(0.734, 0.5, wide.bar[2] - wide.bar[0], _font(wide.font_size)) == (
        "anomaly score 0.73", "threshold 0.50")
