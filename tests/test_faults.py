"""Fault injection (issue 20): hostile and unlucky inputs to `report`, `weights download`, decoding and `watch`.

Each test is one case of the round: a hostile scores folder, a drip or endless server, a file with odd
timestamps or a broken display matrix, a second run into the same folder, a full disk, two Ctrl-C, a
hanging webhook. Every case failed before its fix. Servers listen on 127.0.0.1 only and every test
stops by itself in a few seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers.scores import tiny_config, write_scored
from tests.helpers.videos import index_frames, write_video
from vadpipe.cli.app import main
from vadpipe.report.build import build_report

SCORES = [0.1, 0.9, 0.2]  # T = 3; 40 frames


# --- Security: a scores folder from a stranger publishes nothing outside it -------------------------------------------

@pytest.fixture
def stranger(tmp_path) -> tuple[Path, Path]:
    """(a scores folder someone sent, the reader's home with a private key and a holiday video)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "key.asc").write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\nSECRET\n")
    write_video(home / "holiday.mp4", index_frames(40), options={"preset": "ultrafast"})
    return tmp_path / "received", home


def _published(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if ".play." in p.name)


def test_report_never_renders_a_text_file_a_scores_json_names(stranger):
    out, home = stranger
    write_scored(out, "key", SCORES, frames=40, video=home / "key.asc")
    report = build_report(out)
    assert _published(out) == [] and "outside the scores folder" in report.media["key"]
    # Even named by the user (or inside the folder), a text file is not a video: no tty demuxer, no page copy.
    warnings = []
    build_report(out, videos=[home], warn=warnings.append)
    (out / "key.asc").write_bytes((home / "key.asc").read_bytes())
    write_scored(out, "inside", SCORES, frames=40, video=out / "key.asc")
    build_report(out, warn=warnings.append)
    assert _published(out) == [] and sum("not a video file name" in w for w in warnings) == 2
    assert "SECRET" not in "".join(p.read_text() for p in out.glob("*.html"))


def test_report_does_not_link_a_video_outside_the_folder_unless_the_user_names_its_folder(stranger):
    out, home = stranger
    write_scored(out, "holiday", SCORES, frames=40, video=home / "holiday.mp4")
    warnings = []
    report = build_report(out, warn=warnings.append)
    assert _published(out) == [] and report.media["holiday"].endswith("outside the scores folder and every "
                                                                      "--videos folder")
    assert len(warnings) == 1 and "give --videos DIR" in warnings[0]
    assert build_report(out, videos=[home]).media["holiday"] == "original (hard link)"
    # Later rebuilds without --videos keep playing the copy that is now inside the folder.
    assert build_report(out).media["holiday"].startswith("the copy an earlier report placed")


def test_report_finds_received_videos_by_name_under_the_videos_folder(stranger, tmp_path):
    out, home = stranger
    write_scored(out / "cam", "holiday", SCORES, frames=40, video=Path("/elsewhere/cam/holiday.mp4"))
    (home / "cam").mkdir()
    os.replace(home / "holiday.mp4", home / "cam" / "holiday.mp4")
    assert main(["report", str(out), "--videos", str(home), "--json", "--quiet"]) == 0
    assert (out / "cam" / "holiday.play.mp4").is_file()


def test_report_shows_only_runs_inside_the_folder_or_named_by_the_user(stranger, tmp_path):
    from vadpipe.model.checkpoint import CONFIG_NAME

    out, _ = stranger
    other = tmp_path / "other-run"
    other.mkdir()
    (other / CONFIG_NAME).write_text(json.dumps(tiny_config().to_dict()))
    write_scored(out, "v", SCORES, frames=40)
    record = json.loads((out / "v.json").read_text())
    record["model"]["run"] = str(other)
    (out / "v.json").write_text(json.dumps(record))
    build_report(out, video="none")
    assert "scorer hidden dim" not in (out / "v.report.html").read_text()
    assert main(["report", str(out), "--video", "none", "--model", str(other), "--quiet"]) == 0
    assert "scorer hidden dim" in (out / "v.report.html").read_text()


def test_report_follows_no_link_out_of_the_folder(stranger, tmp_path):
    out, home = stranger
    write_scored(out, "v", SCORES, frames=40, video=home / "holiday.mp4")
    secret = tmp_path / "secret.csv"
    secret.write_text("frame,time_s,score\nmy-password,0,0\n")
    os.replace(out / "v.scores.csv", tmp_path / "moved.csv")
    (out / "v.scores.csv").symlink_to(secret)
    (out / "v.play.webm").symlink_to(home / "holiday.mp4")  # a planted "earlier transcode"
    report = build_report(out, videos=[tmp_path / "nowhere"])
    assert report.pages == [] and "a link to a file outside" in report.failed[0]
    assert "my-password" not in (out / "report.html").read_text()
    os.replace(tmp_path / "moved.csv", out / "v.scores.csv")
    report = build_report(out)
    assert report.media["v"].endswith("--videos folder") and 'id="player"' not in (out / "v.report.html").read_text()
