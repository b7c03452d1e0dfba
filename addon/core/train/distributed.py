"""Data-parallel training under ``torchrun``: process group, DDP wrapper, loss shares, metric sums.

``torchrun --nproc_per_node W tools/train.py CONFIG`` (or ``--nnodes N --rdzv-endpoint HOST:PORT``
on several machines) starts W processes with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT set; ``init_distributed`` reads them (env:// rendezvous), picks NCCL on CUDA and
Gloo on CPU, and puts process r on GPU LOCAL_RANK. Without those variables it is one process.

Equal to one process on the whole batch: each process loads rows [r B/W, (r + 1) B/W) of
the global batch (order.py) and draws each row's noise from the row's own seed
(randomness.py). DDP averages gradients over processes, so each process's loss is its share
of the GLOBAL masked mean: term_r x (elements_r / elements_all) x W, with the element counts
summed over processes first (``loss_shares``). Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job. rank: 0..W-1; world_size: W; local_rank: index on its node;
    device: where it trains; initialised: whether this module started a process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialised: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def sum_(self, tensor: Tensor) -> Tensor:
        """In-place sum over processes (identity for one process)."""
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on any of them."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        return bool(self.sum_(value).item() > 0)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier(device_ids=[self.local_rank]) if self.device.type == "cuda" else dist.barrier()


def init_distributed(device: str = "auto") -> DistContext:
    """The DistContext from torchrun's environment; initialises the process group when W > 1.

    device: "auto" (CUDA when available), "cpu" or "cuda" (an error without CUDA).
    """
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device = 'cuda' but torch sees no CUDA device (a CPU build of torch, or no GPU)")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world_size <= 1:
        single = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
        return DistContext(device=single)
    if use_cuda:
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    initialised = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=target if use_cuda else None)
        initialised = True
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target, initialised=initialised)


def shutdown(context: DistContext) -> None:
    """Destroy the process group if ``init_distributed`` created it."""
    if context.initialised and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, context: DistContext) -> nn.Module:
    """DDP around ``model`` for W > 1 (the model itself otherwise).

    find_unused_parameters: a batch without scenes leaves the scene encoder unused, one whose
    texts are all dropped the text projection.
    """
    if not context.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)


def loss_shares(counts: Tensor, context: DistContext) -> Tensor:
    """counts: (K,) this process's element counts of K masked means -> (K,) its shares count / total.

    Summing share x local mean over processes gives the global mean. Counts are summed over
    processes here (one all-reduce); a total of 0 gives share 0.
    """
    totals = context.sum_(counts.clone().to(torch.float64))
    return torch.where(totals > 0, counts.to(torch.float64) / totals.clamp_min(1.0), torch.zeros_like(totals))
