"""Small input checks shared by the utils modules (private)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: tabular notebooks never load it
    import torch
    from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """Return the device of a model's parameters, with clear errors for non-models."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    try:
        return next(model.parameters()).device
    except StopIteration:
        raise ValueError(
            f"model: {type(model).__name__} has no parameters, so its device is unknown"
        ) from None


def finite_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` (array, list or tensor) as a finite float64 NumPy array."""
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: expected numbers (a NumPy array or tensor), got {type(values).__name__}"
        ) from err
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def resize_linear(values: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Resize the last ``len(size)`` axes (1 or 2) linearly / bilinearly.

    Sample and pixel centres are aligned (``align_corners=False``), as in ``cv2.resize``
    and ``pytorch_grad_cam``; edges are clamped. Leading axes are batch axes and the
    dtype is kept (float32 or float64).
    """
    import torch
    import torch.nn.functional as F

    k = len(size)
    if k not in (1, 2):
        raise ValueError(f"size: expected 1 or 2 target lengths, got {tuple(size)}")
    lead, spatial = values.shape[:-k], values.shape[-k:]
    batch = torch.from_numpy(np.ascontiguousarray(values)).reshape(-1, 1, *spatial)
    mode = "linear" if k == 1 else "bilinear"
    out = F.interpolate(batch, size=tuple(int(s) for s in size), mode=mode, align_corners=False)
    return out.reshape(*lead, *size).numpy()
