"""Reading the public feature layouts and labels."""

import json

import numpy as np
import pytest

from vadpipe.errors import InputError
from vadpipe.features.formats import infer_label, load_feature_set


def _save(path, shape, value=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.full(shape, value, dtype=np.float32))
    return path


def test_rtfm_list_one_file_per_video_with_ten_crops(tmp_path):
    names = ["Abuse001_x264", "Arrest002_x264", "Normal_Videos001_x264"]
    for i, n in enumerate(names):
        _save(tmp_path / "feats" / f"{n}_i3d.npy", (5 + i, 10, 8), i)
    listing = tmp_path / "ucf-i3d.list"
    # Public lists carry their authors' absolute paths: --features-root finds them here.
    listing.write_text("".join(f"/home/someone/UCF/{n}_i3d.npy\n" for n in names))
    videos, problems = load_feature_set(listing, features_root=tmp_path / "feats", abnormal_first=2)
    assert problems == []
    assert [v.id for v in videos] == names
    assert [v.label for v in videos] == [1, 1, 0]
    t, c, d = videos[1].validate(8)
    assert (t, c, d) == (6, 10, 8)
    assert videos[2].load().shape == (7, 10, 8) and videos[2].load()[0, 0, 0] == 2


def test_xd_list_groups_five_crop_files_and_labels_by_name(tmp_path):
    lines = []
    for name in ["v=abc__#1_label_B1-0-0", "Movie.2001__#00-01_label_A"]:
        for c in range(5):
            lines.append(str(_save(tmp_path / f"{name}__{c}.npy", (4, 16), c)))
    listing = tmp_path / "rgb.list"
    listing.write_text("\n".join(lines) + "\n")
    videos, _ = load_feature_set(listing)
    assert [v.id for v in videos] == ["v=abc__#1_label_B1-0-0", "Movie.2001__#00-01_label_A"]
    assert [v.label for v in videos] == [1, 0]
    feats = videos[0].load()
    assert feats.shape == (4, 5, 16)
    assert feats[0, :, 0].tolist() == [0, 1, 2, 3, 4]  # crop order follows __0 .. __4


def test_ten_crop_one_file_per_crop_puts_the_plain_file_first(tmp_path):
    _save(tmp_path / "Abuse001_x264.npy", (3, 8), 0)
    for c in range(1, 10):
        _save(tmp_path / f"Abuse001_x264__{c}.npy", (3, 8), c)
    videos, _ = load_feature_set(tmp_path)  # a plain folder of .npy
    assert len(videos) == 1 and videos[0].validate() == (3, 10, 8)
    assert videos[0].load()[0, :, 0].tolist() == list(range(10))


def test_list_naming_absent_files_reports_each_and_keeps_the_rest(tmp_path):
    _save(tmp_path / "Abuse001_x264_i3d.npy", (3, 10, 8))
    listing = tmp_path / "l.list"
    listing.write_text("Abuse001_x264_i3d.npy\nmissing_i3d.npy\n")
    videos, problems = load_feature_set(listing)
    assert [v.id for v in videos] == ["Abuse001_x264"]
    assert len(problems) == 1 and "missing_i3d.npy not found" in problems[0] and "l.list:2" in problems[0]


@pytest.mark.parametrize(
    "content, message",
    [
        (np.zeros((0, 10, 8), np.float32), "T >= 1"),
        (np.full((3, 10, 8), np.nan, np.float32), "NaN or Inf"),
        (np.zeros((3, 10, 8), np.int64), "expected float32"),
        (np.zeros((3, 10, 4), np.float32), "expects 8-d"),
    ],
)
def test_bad_feature_files_raise_one_clear_line(tmp_path, content, message):
    np.save(tmp_path / "Abuse001_x264_i3d.npy", content)
    videos, _ = load_feature_set(tmp_path)
    with pytest.raises(InputError, match=message) as err:
        videos[0].validate(8)
    assert "Abuse001_x264_i3d.npy" in str(err.value) and "\n" not in str(err.value)


def test_labels_from_csv_override_names(tmp_path):
    _save(tmp_path / "a" / "clip1.npy", (3, 1, 4))
    _save(tmp_path / "a" / "clip2.npy", (3, 1, 4))
    (tmp_path / "labels.csv").write_text("video,label\nclip1.mp4,abnormal\nclip2,0\n")
    videos, _ = load_feature_set(tmp_path / "a", labels_csv=tmp_path / "labels.csv")
    assert {v.id: v.label for v in videos} == {"clip1": 1, "clip2": 0}


def test_infer_label_rules(tmp_path):
    assert infer_label("Normal_Videos_003_x264") == 0
    assert infer_label("Shoplifting010_x264") == 1
    assert infer_label("x_label_A") == 0 and infer_label("x_label_G-0-0") == 1
    assert infer_label("clip", tmp_path / "abnormal" / "clip.npy") == 1
    assert infer_label("clip", tmp_path / "normal" / "clip.npy") == 0
    assert infer_label("clip") is None


def test_store_in_the_xd_layout_reads_every_crop_file(tmp_path):
    # `vadpipe extract --layout xd` records the five per-crop files of a video in its index line.
    names = [f"v1_label_B1__{c}.npy" for c in range(5)]
    for c, name in enumerate(names):
        np.save(tmp_path / name, np.full((3, 4), float(c), dtype=np.float32))
    record = {"id": "v1_label_B1", "features": names[0], "files": names, "status": "ok", "label": 1,
              "frames": 48, "fps": 25.0, "snippets": 3, "crops": 5, "dim": 4}
    (tmp_path / "index.jsonl").write_text(json.dumps(record) + "\n")
    (video,), problems = load_feature_set(tmp_path)
    assert problems == [] and video.label == 1
    features = video.load()  # (T, C, D)
    assert features.shape == (3, 5, 4) and features[0, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


# The first lines of RTFM's published list/ucf-i3d-test.list, as published (Windows paths).
RTFM_TEST_LINES = [f"G:\\UCF_Test_ten_crop_i3d\\{n}_i3d.npy" for n in (
    "Abuse028_x264", "Abuse030_x264", "Arrest001_x264", "Normal_Videos_003_x264", "Normal_Videos_006_x264")]


@pytest.mark.parametrize("beside_the_list", [False, True])
def test_rtfm_windows_path_list_loads_with_features_root_or_beside_it(tmp_path, beside_the_list):
    folder = tmp_path / ("lists" if beside_the_list else "UCF_Test_ten_crop_i3d")
    for i, line in enumerate(RTFM_TEST_LINES):
        _save(folder / line.split("\\")[-1], (2 + i, 10, 4), i)
    listing = tmp_path / "lists" / "ucf-i3d-test.list"
    listing.parent.mkdir(exist_ok=True)
    listing.write_bytes("\r\n".join(RTFM_TEST_LINES).encode() + b"\r\n")  # CRLF, as a Windows editor leaves it
    root = None if beside_the_list else folder
    videos, problems = load_feature_set(listing, features_root=root, abnormal_first=3)
    assert problems == []
    assert [v.id for v in videos] == ["Abuse028_x264", "Abuse030_x264", "Arrest001_x264",
                                      "Normal_Videos_003_x264", "Normal_Videos_006_x264"]
    assert [v.label for v in videos] == [1, 1, 1, 0, 0]
    assert [v.validate()[0] for v in videos] == [2, 3, 4, 5, 6]


def test_windows_path_list_without_the_files_names_each_missing_line(tmp_path):
    listing = tmp_path / "ucf-i3d-test.list"
    listing.write_text("\n".join(RTFM_TEST_LINES[:2]) + "\n" + RTFM_TEST_LINES[3])
    _save(tmp_path / "feats" / "Abuse030_x264_i3d.npy", (2, 10, 4))
    videos, problems = load_feature_set(listing, features_root=tmp_path / "feats")
    assert [v.id for v in videos] == ["Abuse030_x264"]
    assert len(problems) == 2 and "ucf-i3d-test.list:1: G:\\UCF_Test_ten_crop_i3d\\Abuse028_x264_i3d.npy not found" \
        in problems[0]


def test_list_with_a_bom_crlf_and_trailing_blanks_loads(tmp_path):
    names = ["v1_label_B1-0-0", "v2_label_A"]
    lines = []
    for n in names:
        for c in range(5):
            lines.append(str(_save(tmp_path / "xd" / f"{n}__{c}.npy", (3, 8))) + "  \t")
    listing = tmp_path / "rgb_test.list"
    listing.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n\r\n   \r\n")
    videos, problems = load_feature_set(listing)
    assert problems == [] and [v.id for v in videos] == names and [v.label for v in videos] == [1, 0]
    assert [len(v.files) for v in videos] == [5, 5]
