"""Data-parallel explanations with ``torch.distributed``: one process per GPU, launched by
``torchrun`` (or ``srun`` under SLURM), falling back to a single process on a laptop.

Explaining a whole dataset needs no gradient synchronisation: every process explains its
own shard of the images and the results are gathered at the end. The three steps:

1. :func:`init_distributed` reads the launcher's environment (``RANK``, ``WORLD_SIZE``,
   ``LOCAL_RANK``), joins the process group (NCCL on GPUs, Gloo on CPUs) and picks this
   process's device;
2. :func:`shard_indices` gives each process its share of the dataset, as
   :class:`torch.utils.data.distributed.DistributedSampler` does (which pads the shards
   to equal length by repeating indices);
3. :func:`gather_shards` collects every process's results on every process and drops the
   padded duplicates, so the outcome is exactly that of one process.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import describe, integer

if TYPE_CHECKING:
    import torch


def init_distributed(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group started by ``torchrun``, or run alone.

    Parameters
    ----------
    backend : {"nccl", "gloo"}, optional
        The communication backend; by default NCCL when CUDA is available, else Gloo.

    Returns
    -------
    rank : int
        This process's number, 0 .. world_size - 1.
    world_size : int
        The number of processes (1 without a launcher).
    device : torch.device
        ``cuda:LOCAL_RANK`` (one GPU per process) when CUDA is available, else the CPU
        (or, alone, what :func:`utils.get_device` finds).

    Raises
    ------
    ValueError
        For an unknown backend, or NCCL without CUDA.
    """
    import torch
    import torch.distributed as dist

    from .device import get_device

    if backend not in (None, "nccl", "gloo"):
        raise ValueError(f"backend: expected 'nccl', 'gloo' or None, got {backend!r}")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, get_device()
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    if backend == "nccl" and not cuda:
        raise ValueError("backend 'nccl' needs CUDA GPUs; use 'gloo' on CPUs")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), device


def shard_indices(n: int, rank: int, world_size: int) -> np.ndarray:
    """Return the dataset indices that process ``rank`` explains.

    The same split as ``DistributedSampler(range(n), world_size, rank, shuffle=False)``:
    process ``r`` takes ``r, r + world_size, ...``, and the shards are padded to equal
    length by repeating the first indices (every process must run the same number of
    collective steps). :func:`gather_shards` removes the repeats.

    Parameters
    ----------
    n : int
        Dataset size (> 0).
    rank, world_size : int
        This process and the number of processes, ``0 <= rank < world_size``.

    Returns
    -------
    numpy.ndarray
        int64 indices, ``ceil(n / world_size)`` of them.
    """
    n = integer(n, "n", minimum=1)
    world_size = integer(world_size, "world_size", minimum=1)
    rank = integer(rank, "rank", minimum=0, maximum=world_size - 1)
    per_rank = -(-n // world_size)
    padded = np.resize(np.arange(n), per_rank * world_size)  # repeats from the start
    return padded[rank::world_size].astype(np.int64)


def gather_shards(indices: np.ndarray, results: dict[str, np.ndarray], n: int) -> dict[str, Any]:
    """Collect every process's results in dataset order, without the padded repeats.

    Parameters
    ----------
    indices : numpy.ndarray
        The dataset indices this process explained (from :func:`shard_indices`).
    results : dict of str to numpy.ndarray
        Arrays whose first axis runs over ``indices`` (maps, predictions, ...).
    n : int
        Dataset size.

    Returns
    -------
    dict of str to numpy.ndarray
        The same keys, each with first axis ``n`` in dataset order, identical on every
        process (and identical to a single process's results).

    Raises
    ------
    TypeError
        If ``indices`` are not integers, ``results`` not a dict or ``n`` not an integer.
    ValueError
        If ``indices`` are not a non-empty 1-D array in ``[0, n)``, an array's first axis
        does not match ``indices`` or a dataset index is missing from every shard.
    """
    import torch.distributed as dist

    n = integer(n, "n", minimum=1)
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices: expected integer dataset indices (from shard_indices), got "
                        f"{describe(indices)} of dtype {indices.dtype}")  # fmt: skip
    if indices.ndim != 1 or len(indices) == 0 or indices.min() < 0 or indices.max() >= n:
        raise ValueError(f"indices: expected a non-empty 1-D array of indices in [0, {n}), got "
                         f"{describe(indices)}")  # fmt: skip
    if not isinstance(results, dict):
        raise TypeError(f"results: expected a dict of name -> array, got {describe(results)}")
    indices = indices.astype(np.int64)
    for key, value in results.items():
        if np.asarray(value).shape[:1] != indices.shape:
            raise ValueError(f"results[{key!r}]: first axis {np.asarray(value).shape[:1]} does "
                             f"not match the {len(indices)} indices")  # fmt: skip
    shards = [(indices, results)]
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        shards = [None] * dist.get_world_size()
        dist.all_gather_object(shards, (indices, {k: np.asarray(v) for k, v in results.items()}))
    order = np.concatenate([s[0] for s in shards])
    first = np.unique(order, return_index=True)[1]  # the first copy of each index
    if not np.array_equal(order[first], np.arange(n)):
        raise ValueError(f"the shards do not cover the dataset 0..{n - 1}")
    return {key: np.concatenate([np.asarray(s[1][key]) for s in shards])[first]
            for key in results}  # fmt: skip
