"""torchrun with 2 CPU processes (gloo) trains the same model as 1 process on the same global batch."""

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from tests.helpers.features import write_store

ARGS = ["--epochs", "2", "--batch-size", "8", "--seq-len", "32", "--hidden-dim", "16", "--sigma", "4",
        "--conv-kernel", "3", "--dropout", "0", "--lr", "1e-3", "--device", "cpu", "--quiet"]


def _torchrun(nproc: int, features, out) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "vadpipe", "train", str(features), "--out", str(out), *ARGS]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


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
