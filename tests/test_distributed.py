"""torchrun with 2 CPU processes: training (gloo) matches 1 process on the same global batch; extraction
shares the videos between the ranks, each once, into one index, and a rerun resumes across ranks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.helpers.features import write_store
from tests.helpers.videos import random_frames, write_video
from vadpipe.features.store import read_index

ARGS = ["--epochs", "2", "--batch-size", "8", "--seq-len", "32", "--hidden-dim", "16", "--sigma", "4",
        "--conv-kernel", "3", "--dropout", "0", "--lr", "1e-3", "--device", "cpu", "--quiet"]


def _torchrun(nproc: int, features, out, command: str = "train", args=ARGS) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "vadpipe", command, str(features), "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_two_process_gloo_training_matches_one_process(tmp_path):
    write_store(tmp_path / "feats", n_abnormal=6, n_normal=6, seed=5, t_range=(20, 50))
    one = _torchrun(1, tmp_path / "feats", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    two = _torchrun(2, tmp_path / "feats", tmp_path / "two")
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    for key in a:
        if key == "lanet.psi.bias":
            # A key bias adds q.b to every logit of a row: softmax ignores it, so its true gradient is 0
            # and Adam turns the rounding noise into +-lr steps. Nothing to compare.
            continue
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # rank 0 alone wrote the log


EXTRACT_ARGS = ["--random-init", "--resize-short", "24", "--crop-size", "16", "--crops", "1", "--quiet", "--json"]


@pytest.mark.slow
def test_two_rank_extract_covers_every_video_once_and_resumes_across_ranks(tmp_path):
    videos = tmp_path / "videos"
    for i in range(5):
        write_video(videos / f"v{i}.mp4", random_frames(20 + 8 * i, seed=i))
    one = _torchrun(1, videos, tmp_path / "one", "extract", EXTRACT_ARGS)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _torchrun(2, videos, tmp_path / "two", "extract", EXTRACT_ARGS)
    assert two.returncode == 0, two.stderr[-2000:]
    index_one, index_two = read_index(tmp_path / "one"), read_index(tmp_path / "two")
    assert sorted(r["id"] for r in index_two) == [f"v{i}" for i in range(5)]  # each once, none lost
    assert not list((tmp_path / "two").glob("index.part-*"))  # the parts were merged into index.jsonl
    for a, b in zip(sorted(index_one, key=lambda r: r["id"]), sorted(index_two, key=lambda r: r["id"]), strict=True):
        assert (a["snippets"], a["status"]) == (b["snippets"], b["status"]) == (a["snippets"], "ok")
        np.testing.assert_allclose(np.load(tmp_path / "two" / b["features"]),
                                   np.load(tmp_path / "one" / a["features"]), rtol=0, atol=1e-6)
    rerun = _torchrun(2, videos, tmp_path / "two", "extract", EXTRACT_ARGS)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summaries = [json.loads(line) for line in rerun.stdout.splitlines() if line.startswith("{")]
    assert sum(s["skipped"] for s in summaries) == 5 and sum(s["done"] for s in summaries) == 0
