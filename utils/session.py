"""One explicit call that prepares a notebook: seeds, plot style, device."""

from __future__ import annotations

import os
import random

import matplotlib as mpl
import numpy as np
import torch

from .device import get_device

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


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and all GPUs) for repeatable results.

    Parameters
    ----------
    seed : int, default 0
        A non-negative integer.

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
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def set_plot_style() -> None:
    """Apply the course's matplotlib style (see :data:`PLOT_STYLE`)."""
    mpl.rcParams.update(PLOT_STYLE)


def setup_notebook(seed: int = 0, device: str | None = None) -> torch.device:
    """Prepare a notebook: seed everything, set the plot style, report the device.

    Parameters
    ----------
    seed : int, default 0
        Seed for Python, NumPy and torch.
    device : str, optional
        Force ``"cuda"``, ``"mps"`` or ``"cpu"``; by default the environment
        variable ``XAI_DEVICE`` or the best available device.

    Returns
    -------
    torch.device
        The device the notebook should use.

    Examples
    --------
    >>> DEVICE = setup_notebook(seed=0)  # doctest: +SKIP
    Using CPU (2 threads)
    """
    seed_everything(seed)
    set_plot_style()
    return get_device(device, verbose=True)
