"""Runtime detection of the compute device (CUDA, then Apple MPS, then CPU)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in the functions: `import utils` does not load torch
    import torch

#: Environment variable that forces a device, e.g. ``XAI_DEVICE=cpu``.
DEVICE_ENV_VAR = "XAI_DEVICE"
_VALID = ("cuda", "mps", "cpu")


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    return "google.colab" in sys.modules


def get_device(prefer: str | None = None, verbose: bool = False) -> torch.device:
    """Choose the compute device: CUDA, then Apple MPS, then CPU.

    Parameters
    ----------
    prefer : str, optional
        ``"cuda"``, ``"mps"`` or ``"cpu"`` to force a device. When omitted the
        environment variable ``XAI_DEVICE`` is read, and when that is unset the
        best available device is used.
    verbose : bool, default False
        Print one line saying which device was found (and, in Colab without a
        GPU, how to switch one on).

    Returns
    -------
    torch.device
        The device. A CUDA device is returned as ``cuda`` (the current device),
        never as a fixed index.

    Raises
    ------
    TypeError
        If ``prefer`` is neither None nor a string.
    ValueError
        If the requested device name is unknown or the device is not available.

    Examples
    --------
    >>> get_device("cpu")
    device(type='cpu')
    """
    import torch

    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"prefer: expected a device name {_VALID} or None, got "
                        f"{type(prefer).__name__}")  # fmt: skip
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV_VAR) or None
    if choice is not None:
        choice = choice.strip().lower()
        if choice not in _VALID:
            raise ValueError(
                f"Unknown device {choice!r} (from {'argument' if prefer else DEVICE_ENV_VAR}); "
                f"expected one of {_VALID}."
            )
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("Device 'cuda' was requested but no CUDA GPU is available.")
        if choice == "mps" and not _mps_available():
            raise ValueError("Device 'mps' was requested but Apple MPS is not available.")
        device = torch.device(choice)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif _mps_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose:
        print(device_banner(device))
    return device


def device_banner(device: torch.device) -> str:
    """Return a one-line description of ``device`` for the notebook header.

    Raises
    ------
    TypeError
        If ``device`` is not a :class:`torch.device` (e.g. from :func:`get_device`).
    """
    import torch

    if not isinstance(device, torch.device):
        raise TypeError(f"device: expected a torch.device (e.g. from utils.get_device()), got "
                        f"{type(device).__name__}")  # fmt: skip
    if device.type == "cuda":
        text = f"Using GPU: {torch.cuda.get_device_name(device)} (CUDA)"
    elif device.type == "mps":
        text = "Using Apple GPU (MPS)"
    else:
        text = f"Using CPU ({torch.get_num_threads()} threads)"
        if in_colab():
            text += " - in Colab: Runtime > Change runtime type > GPU for a GPU"
    return text


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
