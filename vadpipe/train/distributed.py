"""Multi-process training with PyTorch's own machinery (``torchrun`` + DistributedDataParallel).

Started as ``torchrun --nproc_per_node N -m vadpipe train ...``: each process takes the
same global batches and keeps its share ``batch[rank::world]``; gradients are averaged
by DDP; rank 0 alone writes the run folder and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch.distributed.nn.functional import all_gather as _all_gather_with_grad

from vadpipe.devices import torchrun_processes


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over processes, no gradient (counts, logged values)."""
        value = value.detach().clone()
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.SUM)
        return value

    def all_gather(self, value: torch.Tensor) -> torch.Tensor:
        """Concatenate a (B_r, ...) tensor over processes, keeping gradients for this process's part."""
        sizes = [torch.zeros(1, dtype=torch.long, device=value.device) for _ in range(self.world_size)]
        torch_dist.all_gather(sizes, torch.tensor([value.shape[0]], device=value.device))
        biggest = int(max(s.item() for s in sizes))
        padded = torch.cat([value, value.new_zeros((biggest - value.shape[0], *value.shape[1:]))])
        parts = _all_gather_with_grad(padded) if value.requires_grad else _gather_plain(padded, self.world_size)
        return torch.cat([p[: int(n.item())] for p, n in zip(parts, sizes, strict=True)])

    def barrier(self) -> None:
        if self.world_size > 1:
            torch_dist.barrier()


def _gather_plain(value: torch.Tensor, world: int) -> list[torch.Tensor]:
    parts = [torch.empty_like(value) for _ in range(world)]
    torch_dist.all_gather(parts, value)
    return parts


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes in the environment (a no-op for one process)."""
    if torchrun_processes() <= 1:
        return DistContext()
    if not torch_dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch_dist.init_process_group(backend=backend)
    return DistContext(rank=torch_dist.get_rank(), world_size=torch_dist.get_world_size(),
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def shutdown_distributed() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()
