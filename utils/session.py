"""One explicit call that prepares a notebook: seeds, plot style, device."""

from __future__ import annotations

import os
import random
import sys
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np

from .device import get_device

if TYPE_CHECKING:  # imported in the functions: tabular notebooks never load torch
    import torch

#: The course's plot style, applied by :func:`set_plot_style`.
PLOT_STYLE: dict[str, object] = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def seed_everything(seed: int = 0, torch_too: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and all GPUs) for repeatable results.

    Parameters
    ----------
    seed : int, default 0
        A non-negative integer.
    torch_too : bool, default True
        Import and seed torch. With ``False`` torch is seeded only if it is
        already imported (a tabular notebook then never loads it).

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    if torch_too or "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def set_plot_style() -> None:
    """Apply the course's matplotlib style (see :data:`PLOT_STYLE`)."""
    mpl.rcParams.update(PLOT_STYLE)


def setup_notebook(
    seed: int = 0, device: str | None = None, deep_learning: bool = True
) -> torch.device | None:
    """Prepare a notebook: seed everything, set the plot style, report the device.

    Parameters
    ----------
    seed : int, default 0
        Seed for Python, NumPy and torch.
    device : str, optional
        Force ``"cuda"``, ``"mps"`` or ``"cpu"``; by default the environment
        variable ``XAI_DEVICE`` or the best available device.
    deep_learning : bool, default True
        ``False`` for notebooks without neural networks (day 1): torch is not
        imported (about 0.5 GB and seconds saved), no device is chosen.

    Returns
    -------
    torch.device or None
        The device the notebook should use; ``None`` when ``deep_learning`` is False.

    Examples
    --------
    >>> DEVICE = setup_notebook(seed=0)  # doctest: +SKIP
    Using CPU (2 threads)
    """
    if not isinstance(deep_learning, bool):
        raise TypeError(f"deep_learning: expected True or False, got {deep_learning!r}")
    if not deep_learning and device is not None:
        raise ValueError("device: a notebook with deep_learning=False uses no device")
    seed_everything(seed, torch_too=deep_learning)
    set_plot_style()
    if not deep_learning:
        print("Tabular notebook: scikit-learn only, no deep-learning framework loaded")
        return None
    _threads_from_slurm()
    return get_device(device, verbose=True)


def _threads_from_slurm() -> None:
    """Use exactly the cores a SLURM job was given, unless OMP_NUM_THREADS says otherwise.

    Without this, torch starts one thread per core of the whole node and a job that was
    given a few cores oversubscribes them.
    """
    cpus = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if cpus.isdigit() and int(cpus) > 0 and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(int(cpus))
