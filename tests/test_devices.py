"""Device choice and this process's share of the CPU."""

from __future__ import annotations

import os

import pytest
import torch

from vadpipe.devices import cpus_for_this_process, resolve_device
from vadpipe.errors import UsageError


def test_auto_is_the_cpu_without_cuda_and_bad_names_are_usage_errors():
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UsageError, match="not a device"):
        resolve_device("gpu-please")


@pytest.mark.parametrize(("cores", "local_world", "expected"), [(16, None, 16), (16, "4", 4), (16, "3", 5),
                                                                 (2, "8", 1), (8, "oops", 8)])
def test_torchrun_ranks_on_one_node_share_the_cores(monkeypatch, cores, local_world, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    if local_world is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local_world)
    assert cpus_for_this_process() == expected
