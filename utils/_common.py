"""Small input checks shared by the utils modules (private)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """Return the device of a model's parameters, with clear errors for non-models."""
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
    if isinstance(values, torch.Tensor):
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
