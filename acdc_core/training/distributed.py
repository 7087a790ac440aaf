"""Running the training loop on several processes with DistributedDataParallel: under ``torchrun``
(which sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) call :func:`start` once per process, give
each :class:`~acdc_core.training.batches.Batches` ``shard=shard()``, and call :func:`acdc_core.training.train.train`
as usual: it wraps the model in DDP, sums the metrics over processes and lets rank 0 write files."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def active() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def shard() -> tuple[int, int] | None:
    """``(rank, world_size)`` of this process, or None when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if active() else None


def is_main() -> bool:
    """True on rank 0, or when not distributed: the process that writes files and prints."""
    return not active() or dist.get_rank() == 0


def launched() -> bool:
    """True when this process was started by torchrun (``WORLD_SIZE`` is set)."""
    return "WORLD_SIZE" in os.environ


def start(backend: str | None = None) -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL with
    CUDA); returns ``(rank, world_size)``. On CUDA each process takes the GPU ``LOCAL_RANK``."""
    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise RuntimeError(f"not started by torchrun: {', '.join(missing)} unset (run the script with "
                           "`torchrun --nproc-per-node N script.py ...`)")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()
