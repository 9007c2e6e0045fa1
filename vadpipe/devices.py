"""Choosing the torch device from a `--device auto|cpu|cuda[:i]` option, and this process's share of the CPU."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vadpipe.errors import UsageError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` is the GPU of ``LOCAL_RANK`` (torchrun) or cuda:0 when CUDA is available, else the CPU."""
    import torch

    name = str(name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"device {name!r} is not a device; use auto, cpu, cuda or cuda:N", param="device") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name}: CUDA is not available on this machine; use cpu", param="device")
    return device


def cpus_for_this_process() -> int:
    """CPU cores this process may use: the ones it is allowed to run on, shared evenly among the
    processes torchrun started on this node (``LOCAL_WORLD_SIZE``), at least 1.

    Sizing FFmpeg's and the decoding workers' threads from this keeps N ranks on one machine
    from each starting one thread per core (N times oversubscribed)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // torchrun_processes("LOCAL_WORLD_SIZE"))


def torchrun_processes(variable: str = "WORLD_SIZE") -> int:
    """How many processes torchrun started: ``WORLD_SIZE`` in all, ``LOCAL_WORLD_SIZE`` on this
    node; 1 when not under torchrun or the variable is not a positive number."""
    try:
        return max(1, int(os.environ.get(variable, "1")))
    except ValueError:
        return 1


def available_memory() -> int | None:
    """Bytes of host memory this process can still take (the system's ``MemAvailable``, within the cgroup's
    limit when there is one); None where it cannot be told (not Linux)."""
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        return None
    try:  # cgroup v2: a container's own limit
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        used = int(open("/sys/fs/cgroup/memory.current").read())
        if limit != "max" and available is not None:
            available = min(available, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return available
