"""PyTorch DDP under torchrun: gloo on CPU, nccl on CUDA; a no-op in a single process.

    torchrun --standalone --nproc_per_node=2 -m explainlab train --config configs/mnist_pgd_at.toml

Each rank takes its share of every global batch (``batch_size`` is the global batch); DDP averages the gradients,
so a step equals the single-process step on the whole batch. Only rank 0 writes checkpoints, history and cards.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def setup(device_type: str | None = None) -> None:
    """Join the process group torchrun describes in the environment (once): nccl for CUDA, else gloo."""
    if is_distributed() and not dist.is_initialized():
        cuda = torch.cuda.is_available() if device_type is None else device_type == "cuda"
        if cuda:
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend="nccl" if cuda else "gloo")


def wrap(model: nn.Module, device: torch.device, **options: Any) -> nn.Module:
    """DDP-wrap for training when distributed; parameters and buffers are broadcast from rank 0.

    ``options`` go to DistributedDataParallel (a method may ask for ``find_unused_parameters=True`` through its
    ``ddp_options`` attribute). The defaults serve every method here: attacks run on the unwrapped module
    (``training.base.unwrap``) with ``autograd.grad`` on the input, which never fires DDP's gradient hooks, and
    EGAT's ``create_graph`` Grad-CAM gradient inside the loss is part of the one backward DDP reduces.
    """
    if not dist.is_initialized():
        return model
    ids = [device.index if device.index is not None else local_rank()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, **options)


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a one-element list in a single process)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """The per-key mean of a dict of floats over ranks (keys missing on a rank are averaged over the others)."""
    gathered = all_gather_objects(values)
    keys = list(dict.fromkeys(k for d in gathered for k in d))
    return {k: sum(d[k] for d in gathered if k in d) / sum(k in d for d in gathered) for k in keys}


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
