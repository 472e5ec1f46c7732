"""Process-group setup for `torchrun` (gloo on CPU, NCCL on GPU) and small collective helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistEnv", "init_distributed", "all_true", "barrier", "cleanup", "reduce_mean"]


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates and writes checkpoints."""
        return self.rank == 0


def _pick_device(preference: str, local_rank: int) -> torch.device:
    """`preference` if given, else cuda:LOCAL_RANK when CUDA is present, else cpu."""
    if preference:
        dev = torch.device(preference)
        return torch.device("cuda", local_rank) if dev.type == "cuda" and dev.index is None else dev
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device: str = "") -> DistEnv:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); else single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistEnv(rank, world, local_rank, dev)


def all_true(flag: bool, env: DistEnv) -> bool:
    """Whether `flag` holds on every rank (ends an epoch together when one runs dry)."""
    if env.world_size == 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def reduce_mean(value: float, env: DistEnv) -> float:
    """The mean of a scalar over ranks."""
    if env.world_size == 1:
        return value
    t = torch.tensor([value], device=env.device, dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / env.world_size


def barrier(env: DistEnv) -> None:
    """Wait for every rank."""
    if env.world_size > 1:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group if joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
