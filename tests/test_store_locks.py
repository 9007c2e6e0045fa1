"""No lock files stay in a feature store after extract (a held lock deletes its file before release)."""

from tests.helpers.videos import random_frames, write_video
from vadpipe.cli.app import main
from vadpipe.features.store import lock_index_part, merge_index_parts


def test_no_lock_files_stay_in_the_output_folder(tmp_path):
    write_video(tmp_path / "v" / "a.mp4", random_frames(20, seed=1))
    out = tmp_path / "s"
    out.mkdir()
    (out / ".index.part-1-of-2.lock").write_text("")  # left by an older vadpipe
    assert main(["extract", str(tmp_path / "v"), "--out", str(out), "--random-init", "--resize-short", "24",
                 "--crop-size", "16", "--crops", "1", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "index.jsonl"]


def test_a_lock_released_while_another_waits_is_taken_again_on_a_live_file(tmp_path):
    first = lock_index_part(tmp_path, 0, 1)
    first.close()  # deletes the lock file while holding it
    second = lock_index_part(tmp_path, 0, 1, wait_s=1)  # a fresh file, not the deleted inode
    assert (tmp_path / ".index.part-0-of-1.lock").is_file()
    second.close()
    merge_index_parts(tmp_path)
    assert not list(tmp_path.glob(".*.lock"))
