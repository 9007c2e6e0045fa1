"""`vadpipe extract` end to end: outputs, index, bad inputs, resume after a kill, shards, layouts, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.videos import (
    bad_audio_only,
    bad_empty,
    bad_text_as_video,
    bad_truncated,
    index_frames,
    random_frames,
    write_video,
)
from vadpipe.cli.app import main
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.features import extract_job as extract_mod
from vadpipe.features.extract_job import parse_shard, run_extract
from vadpipe.features.store import lock_index_part, merge_index_parts, read_index

TINY = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet"]
TINY_SPEC = FeatureSpec.resolve("resnet3d", resize_short=24, crop_size=16, crops=1)
TINY_KW = dict(spec=TINY_SPEC, allow_random=True)


@pytest.fixture
def videos(tmp_path) -> Path:
    """normal/ and abnormal/ folders of tiny videos, one nested deeper."""
    root = tmp_path / "videos"
    write_video(root / "normal" / "n1.mp4", random_frames(40, seed=1))
    write_video(root / "normal" / "deep" / "n2.mkv", random_frames(20, seed=2))
    write_video(root / "abnormal" / "a1.avi", random_frames(33, seed=3), codec="mpeg4")
    write_video(root / "abnormal" / "a2.webm", random_frames(16, seed=4), codec="libvpx-vp9")
    return root


def _files(out: Path) -> dict[str, bytes]:
    """Every output file but the lock files, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def test_cli_extracts_a_folder_mirroring_its_tree(videos, tmp_path, capsys):
    out = tmp_path / "feats"
    assert main(["extract", str(videos), "--out", str(out), *TINY, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)  # stdout holds the JSON summary and nothing else
    assert (summary["done"], summary["skipped"], summary["failed"], summary["random_init"]) == (4, 0, 0, True)
    records = {r["id"]: r for r in read_index(out)}
    assert sorted(records) == ["a1", "a2", "n1", "n2"]
    assert records["n2"]["features"] == "normal/deep/n2.npy"
    expected = {"n1": (40, 3, 0), "n2": (20, 2, 0), "a1": (33, 3, 1), "a2": (16, 1, 1)}
    for vid, (frames, t, label) in expected.items():
        rec = records[vid]
        assert (rec["frames"], rec["snippets"], rec["label"]) == (frames, t, label)
        assert (rec["crops"], rec["dim"], rec["backbone"], rec["tail"], rec["status"]) == (1, 2048, "resnet3d", "pad",
                                                                                           "ok")
        assert rec["random_init"] is True and rec["fps"] == 25.0
        arr = np.load(out / rec["features"])
        assert arr.shape == (t, 1, 2048) and arr.dtype == np.float32
    assert not list(out.glob("index.part-*"))  # merged


def test_list_file_input_drop_tail_and_float16(videos, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text("# two videos\nvideos/normal/n1.mp4\n\nvideos/abnormal/a2.webm\n")
    out = tmp_path / "feats"
    assert main(["extract", str(listing), "--out", str(out), *TINY, "--tail", "drop", "--dtype", "float16"]) == 0
    records = {r["id"]: r for r in read_index(out)}
    assert records["n1"]["features"] == "videos/normal/n1.npy" and records["n1"]["snippets"] == 2
    assert np.load(out / "videos/normal/n1.npy").dtype == np.float16
    assert records["a2"]["snippets"] == 1 and records["a2"]["tail"] == "drop"


def test_bad_inputs_fail_one_line_each_and_the_batch_goes_on(videos, tmp_path, capsys):
    bad = videos / "bad"
    bad.mkdir()
    bad_text_as_video(bad / "text.mp4")
    bad_empty(bad / "empty.avi")
    bad_audio_only(bad / "audio.mp4")
    bad_truncated(bad / "cut.mkv")
    write_video(bad / "short.mp4", index_frames(10))
    write_video(bad / "gray.mkv", random_frames(20), codec="ffv1", pix_fmt="gray")  # unusual but fine
    write_video(bad / "tenbit.mkv", random_frames(20), pix_fmt="yuv420p10le")
    write_video(bad / "odd.mkv", random_frames(20, 13, 17), codec="ffv1")
    out = tmp_path / "feats"
    code = main(["extract", str(videos), "--out", str(out), *TINY, "--tail", "drop"])
    assert code == 1
    err = capsys.readouterr().err
    records = {r["id"]: r for r in read_index(out)}
    failed = {k for k, r in records.items() if r["status"] == "failed"}
    assert failed == {"text", "empty", "audio", "cut", "short"}
    for vid in failed:
        lines = [ln for ln in err.splitlines() if f"/{vid}." in ln]
        assert len(lines) == 1 and lines[0].startswith("vadpipe: error:")
        assert records[vid]["error"] in " ".join(err.split())
    assert "no video stream" in records["audio"]["error"] and "truncated" in records["cut"]["error"]
    assert "--tail pad" in records["short"]["error"]
    for vid in ("gray", "tenbit", "odd", "n1", "a1"):
        assert records[vid]["status"] == "ok"
    assert records["odd"]["video_info"]["width"] == 17
    assert main(["extract", str(videos / "normal"), "--out", str(tmp_path / "ok"), *TINY]) == 0


def test_rerun_skips_finished_videos_and_redoes_broken_outputs(videos, tmp_path):
    out = tmp_path / "feats"
    first = run_extract([videos], out, **TINY_KW)
    assert (first.done, first.skipped) == (4, 0)
    before = _files(out)
    again = run_extract([videos], out, **TINY_KW)
    assert (again.done, again.skipped, again.failed) == (0, 4, 0)
    assert _files(out) == before
    np.save(out / "abnormal" / "a1.npy", np.zeros((1, 1, 2048), np.float32))  # wrong shape: not trusted
    (out / "normal" / "n1.npy").unlink()
    third = run_extract([videos], out, **TINY_KW)
    assert (third.done, third.skipped) == (2, 2)
    assert _files(out) == before
    other = run_extract([videos], out, FeatureSpec.resolve("resnet3d", resize_short=24, crop_size=16, crops=5),
                        allow_random=True)  # another spec: redone, not reused
    assert other.done == 4 and np.load(out / "normal" / "n1.npy").shape == (3, 5, 2048)


def test_crash_midway_then_rerun_gives_the_same_files(videos, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    run_extract([videos], reference, **TINY_KW)
    out = tmp_path / "crashed"
    real_append = extract_mod.append_index
    calls = []

    def crash_on_second(store, record, name):
        calls.append(record["id"])
        if len(calls) == 2:  # features of the 2nd video are on disk, its index line is not
            with open(Path(store) / name, "a") as f:
                f.write('{"video": "torn')  # and a torn line, as a kill mid-write leaves
            raise KeyboardInterrupt
        real_append(store, record, name)

    monkeypatch.setattr(extract_mod, "append_index", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_extract([videos], out, **TINY_KW)
    monkeypatch.setattr(extract_mod, "append_index", real_append)
    resumed = run_extract([videos], out, **TINY_KW)
    assert (resumed.done, resumed.skipped) == (3, 1)
    assert _files(out) == _files(reference)


@pytest.mark.slow
def test_killed_process_then_rerun_gives_the_same_files(tmp_path):
    root = tmp_path / "videos"
    for i in range(6):
        write_video(root / f"v{i}.mp4", random_frames(64, 48, 64, seed=i))
    args = [str(root), "--random-init", "--resize-short", "48", "--crop-size", "32", "--crops", "5", "--quiet"]
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "vadpipe", "extract", *args, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = out / "index.part-0-of-1.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if part.is_file() and part.read_text().count("\n") >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it longer"
    assert not (out / "index.jsonl").exists()
    assert main(["extract", *args, "--out", str(out)]) == 0
    reference = tmp_path / "reference"
    assert main(["extract", *args, "--out", str(reference)]) == 0
    killed, ref = _files(out), _files(reference)
    assert sorted(killed) == sorted(ref) or {k for k in killed if ".tmp" not in k} == set(ref)
    for name, data in ref.items():
        assert killed[name] == data, name


def test_shards_cover_every_video_once_and_merge_into_one_index(videos, tmp_path, monkeypatch):
    single = tmp_path / "single"
    run_extract([videos], single, **TINY_KW)
    out = tmp_path / "sharded"
    shares = [run_extract([videos], out, shard=f"{i}/3", **TINY_KW) for i in range(3)]
    assert sum(s.done for s in shares) == 4 and [s.videos for s in shares] == [2, 1, 1]
    assert _files(out) == _files(single)  # same features, same index.jsonl, byte for byte
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert parse_shard(None) == (1, 2) and parse_shard("0/4") == (0, 4)


def test_a_running_shards_part_is_left_alone_until_it_finishes(videos, tmp_path):
    out = tmp_path / "sharded"
    run_extract([videos], out, shard="0/2", **TINY_KW)
    held = lock_index_part(out, 1, 2)  # shard 1 is "running"
    try:
        (out / "index.part-1-of-2.jsonl").write_text(json.dumps({"id": "zz", "status": "ok"}) + "\n")
        merged = merge_index_parts(out)
        assert "zz" not in {r["id"] for r in merged} and (out / "index.part-1-of-2.jsonl").exists()
    finally:
        held.close()
    assert "zz" in {r["id"] for r in merge_index_parts(out)}
    assert not (out / "index.part-1-of-2.jsonl").exists()
    assert [r["id"] for r in merge_index_parts(out)] == sorted(r["id"] for r in read_index(out))  # idempotent


def test_rtfm_layout_writes_i3d_files_and_a_list_abnormal_first(videos, tmp_path):
    out = tmp_path / "rtfm"
    args = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--quiet", "--layout", "rtfm"]
    assert main(["extract", str(videos / "abnormal"), str(videos / "normal"), "--out", str(out), *args]) == 0
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.npy"))
    assert names == ["a1_i3d.npy", "a2_i3d.npy", "deep/n2_i3d.npy", "n1_i3d.npy"]
    assert np.load(out / "a1_i3d.npy").shape == (3, 10, 2048)
    lines = (out / "rtfm.list").read_text().splitlines()
    assert [Path(p).name for p in lines] == ["a1_i3d.npy", "a2_i3d.npy", "n1_i3d.npy", "n2_i3d.npy"]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in lines)
    rec = {r["id"]: r for r in read_index(out)}["a1"]
    assert (rec["tail"], rec["crops"], rec["crop_order"], rec["resize_mode"]) == ("pad", 10, "tencrop", "short_side")


def test_xd_layout_writes_one_file_per_crop_and_a_list(videos, tmp_path):
    out = tmp_path / "xd"
    labels = tmp_path / "labels.csv"
    labels.write_text("video,label\nn1,1\na1,0\n")
    code = main(["extract", str(videos / "normal" / "n1.mp4"), str(videos / "abnormal" / "a1.avi"), "--out", str(out),
                 "--backbone", "inception_i3d", "--layout", "xd", "--labels", str(labels),
                 "--random-init", "--resize-short", "24", "--crop-size", "16", "--quiet"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.npy")) == [f"{v}__{c}.npy" for v in ("a1", "n1") for c in range(5)]
    assert np.load(out / "n1__0.npy").shape == (2, 1024)  # 40 frames: the XD layout drops the partial snippet
    lines = [Path(p).name for p in (out / "xd.list").read_text().splitlines()]
    assert lines == [f"n1__{c}.npy" for c in range(5)] + [f"a1__{c}.npy" for c in range(5)]  # labels from the CSV
    rec = {r["id"]: r for r in read_index(out)}["n1"]
    assert rec["files"] == [f"n1__{c}.npy" for c in range(5)] and rec["label"] == 1
    assert (rec["tail"], rec["crop_order"], rec["resize_mode"]) == ("drop", "center_first", "opencv_linear")
    summary = run_extract([videos / "normal" / "n1.mp4"], out, FeatureSpec.resolve(
        "inception_i3d", crops=5, tail="drop", resize_short=24, crop_size=16), layout="xd", allow_random=True)
    assert summary.skipped == 1  # resume works in the public layouts too


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--crops", "3"], 2, "--crops 3"),
        (["--shard", "2/2"], 2, "--shard 2/2"),
        (["--tail", "cut"], 2, "--tail"),
        (["--layout", "nope"], 2, "--layout"),
        (["--backbone", "vgg"], 2, "--backbone 'vgg' is unknown"),
    ],
)
def test_usage_errors_exit_2_with_one_line(videos, tmp_path, capsys, args, code, message):
    assert main(["extract", str(videos), "--out", str(tmp_path / "o"), *TINY, *args]) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_missing_input_and_missing_weights_are_one_line_errors(videos, tmp_path, capsys, monkeypatch):
    assert main(["extract", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), *TINY]) == 1  # fails alone
    assert "no such file or folder" in capsys.readouterr().err
    monkeypatch.setenv("VADPIPE_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    code = main(["extract", str(videos), "--out", str(tmp_path / "o"), "--crops", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "vadpipe weights" in err


def test_records_written_before_crop_order_was_recorded_are_judged_by_the_old_values():
    from vadpipe.features.record import IndexRecord

    old = {"id": "v", "features": "v.npy", "status": "ok", "backbone": "resnet3d", "tail": "pad", "dtype": "float32",
           "layout": "vadpipe"}

    def made(rec, spec):
        return IndexRecord.from_json(rec).made_with(spec, "vadpipe", allow_random=False)

    assert made({**old, "crops": 1}, FeatureSpec.resolve("resnet3d", crops=1))  # same centre crop
    assert not made({**old, "crops": 10}, FeatureSpec.resolve("resnet3d", crops=10))  # old 10-crop order
    assert made({**old, "crops": 10}, FeatureSpec.resolve("resnet3d", crops=10, crop_order="vadpipe_v1"))
    xd_old = {**old, "backbone": "inception_i3d", "crops": 5}
    assert not made(xd_old, FeatureSpec.resolve("inception_i3d", crops=5))  # resized another way
