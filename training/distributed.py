"""Device choice and multi-GPU training with ``torchrun`` and DistributedDataParallel.

Under ``torchrun`` every process trains one replica of the same variant on its share of each
epoch's batches (DistributedSampler) and only rank 0 validates and writes the run folder.
Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything runs in one process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

_logger = logging.getLogger(__name__)

__all__ = ["Context", "all_reduce_sum", "barrier", "init_context", "wrap_model"]


@dataclass(frozen=True)
class Context:
    """The placement of this process: its device, rank and the number of processes."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder and logs progress."""
        return self.rank == 0


def init_context(device: str) -> Context:
    """Pick the device (``auto`` means CUDA if available) and join the process group that
    ``torchrun`` describes in the environment, if any.

    Raises:
        ValueError: if ``device`` is ``cuda`` and no GPU is visible, or is unknown.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"invalid device {device!r}; use auto, cpu or cuda")
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is visible; use --device cpu")

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(torch.device("cuda" if use_cuda else "cpu"))

    local_rank = int(os.environ["LOCAL_RANK"])
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    target = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    context = Context(target, dist.get_rank(), dist.get_world_size())
    _logger.info("process %d of %d on %s", context.rank, context.world_size, target)
    return context


def wrap_model(model: nn.Module, context: Context, sync_bn: bool) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when running under torchrun; with ``sync_bn``
    BatchNorm statistics are computed over the whole global batch (SyncBatchNorm)."""
    if not context.distributed:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: torch.Tensor, context: Context) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op in a single process)."""
    if context.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def shutdown(context: Context) -> None:
    if context.distributed:
        dist.destroy_process_group()
