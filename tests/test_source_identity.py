"""Extract resume reuses features only for the very same source video (path, size, mtime, fingerprint)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from tests.helpers.videos import random_frames, write_video
from vadpipe.cli.app import main
from vadpipe.features.store import read_index
from vadpipe.video.source import source_change, source_identity

TINY = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet", "--json"]


def _extract(src, out, capsys) -> dict:
    assert main(["extract", str(src), "--out", str(out), *TINY]) == 0
    return json.loads(capsys.readouterr().out)


def test_same_name_from_another_folder_is_extracted_again_not_skipped(tmp_path, capsys):
    write_video(tmp_path / "A" / "clip.mp4", random_frames(20, seed=1))
    write_video(tmp_path / "B" / "clip.mp4", random_frames(36, seed=2))
    out = tmp_path / "s"
    first = _extract(tmp_path / "A", out, capsys)
    assert (first["done"], first["skipped"]) == (1, 0)
    second = _extract(tmp_path / "B", out, capsys)
    assert (second["done"], second["skipped"], second["changed"]) == (1, 0, 1)
    (rec,) = read_index(out)
    assert rec["source"]["path"] == str((tmp_path / "B" / "clip.mp4").resolve())
    assert rec["frames"] == 36 and np.load(out / "clip.npy").shape[0] == 3  # B's features, not A's
    again = _extract(tmp_path / "B", out, capsys)
    assert (again["done"], again["skipped"], again["changed"]) == (0, 1, 0)


def test_a_video_replaced_in_place_is_extracted_again_and_said_so(tmp_path, capsys):
    video = write_video(tmp_path / "v" / "clip.mp4", random_frames(20, seed=1))
    out = tmp_path / "s"
    _extract(video.parent, out, capsys)
    other = write_video(tmp_path / "other.mp4", random_frames(40, seed=5))
    shutil.copyfile(other, video)
    assert main(["extract", str(video.parent), "--out", str(out), *TINY]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["changed"] == 1
    assert "extracting again" in captured.err and "stale" in captured.err
    assert read_index(out)[0]["frames"] == 40


def test_source_change_names_what_differs(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(os.urandom(3 << 20))  # longer than both fingerprinted ends
    ident = source_identity(path)
    assert source_change(ident, source_identity(path)) is None
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # the last MiB
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only the fingerprint tells
    assert source_change(ident, source_identity(path)) == "the file's content changed"
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert source_change(source_identity(path) | {"mtime_ns": 0}, source_identity(path)) == "the file was modified"
    assert source_change(None, ident).startswith("its features record no source")
    assert source_change(ident, source_identity(tmp_path / "gone.mp4")) == "the video cannot be read"
