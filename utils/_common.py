"""Small input checks shared by the utils modules (private)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
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


def describe(value: Any) -> str:
    """A short description of a value for error messages (arrays by type and shape)."""
    shape = getattr(value, "shape", None)
    if shape is not None and not np.isscalar(value):
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} {text[:50]}..."


def finite_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` (array, list or tensor) as a finite, non-empty float64 NumPy array.

    Raises
    ------
    TypeError
        If ``values`` is None, a string or not numbers.
    ValueError
        If it is empty or contains NaN or infinite values.
    """
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError(f"{name}: expected numbers (a NumPy array or tensor), got "
                        f"{describe(values)}")  # fmt: skip
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: expected numbers (a NumPy array or tensor), got {type(values).__name__}"
        ) from err
    if array.size == 0:
        raise ValueError(f"{name}: expected at least one value, got an empty array of shape "
                         f"{array.shape}")  # fmt: skip
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def finite_batch(x: Any, name: str) -> torch.Tensor:
    """Return a model input batch ``(n, ...)`` as a tensor, checked to be non-empty and finite.

    Tensors are returned as they are (any dtype and device); anything else is converted to
    a float32 tensor on the CPU.

    Raises
    ------
    TypeError
        If ``x`` is not numbers.
    ValueError
        If ``x`` has no sample axis, no samples, or NaN or infinite values.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        if x is None or isinstance(x, (str, bytes)):
            raise TypeError(f"{name}: expected a batch (n, ...) as a NumPy array or tensor, "
                            f"got {describe(x)}")  # fmt: skip
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected a batch (n, ...) of numbers, got "
                            f"{describe(x)}") from err  # fmt: skip
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{name}: expected a non-empty batch (n, ...), got shape "
                         f"{tuple(x.shape)}")  # fmt: skip
    if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def integer(value: Any, name: str, minimum: int | None = None,
            maximum: int | None = None) -> int:  # fmt: skip
    """Return ``value`` as an int after checking it is an integer in ``[minimum, maximum]``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (bools are not).
    ValueError
        If it lies outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {describe(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: expected an integer {_bounds(minimum, maximum, False)}, "
                         f"got {value!r}")  # fmt: skip
    return int(value)


def _bounds(minimum: float | None, maximum: float | None, strict: bool) -> str:
    """Say ``>= 1``, ``< 5`` or ``in [0, 1]`` / ``in (0, 1)``."""
    if minimum is not None and maximum is not None:
        return f"in {'(' if strict else '['}{minimum}, {maximum}{')' if strict else ']'}"
    if minimum is not None:
        return f"{'>' if strict else '>='} {minimum}"
    return f"{'<' if strict else '<='} {maximum}" if maximum is not None else ""


def real_number(value: Any, name: str, minimum: float | None = None,
                maximum: float | None = None, strict: bool = False) -> float:  # fmt: skip
    """Return ``value`` as a float after checking it is a finite number within the bounds.

    ``strict=True`` excludes the bounds themselves (e.g. a learning rate ``> 0``).

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools are not).
    ValueError
        If it is NaN, infinite or outside the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {describe(value)}")
    number = float(value)
    below = minimum is not None and (number <= minimum if strict else number < minimum)
    above = maximum is not None and (number >= maximum if strict else number > maximum)
    if not np.isfinite(number) or below or above:
        raise ValueError(f"{name}: expected a finite number {_bounds(minimum, maximum, strict)}, "
                         f"got {value!r}")  # fmt: skip
    return number


def one_of(value: Any, name: str, options: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of the strings ``options``.

    Raises
    ------
    TypeError
        If ``value`` is not a string.
    ValueError
        If it is not among ``options``.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {list(options)}, got {describe(value)}")
    if value not in options:
        raise ValueError(f"{name}: expected one of {list(options)}, got {value!r}")
    return value


def strings(value: Any, name: str, length: int | None = None) -> list[str]:
    """Return a sequence of strings (labels, tokens, texts) as a list, checking its length.

    Raises
    ------
    TypeError
        If ``value`` is a single string, not a sequence, or holds something else than strings.
    ValueError
        If it does not have ``length`` entries.
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
            or not hasattr(value, "__iter__"):  # fmt: skip
        raise TypeError(f"{name}: expected a sequence of strings, got {describe(value)}")
    items = list(value)
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise TypeError(f"{name}: expected a sequence of strings, got an item {describe(bad[0])}")
    if length is not None and len(items) != length:
        raise ValueError(f"{name}: expected {length} strings, got {len(items)}")
    return items


def as_path(value: Any, name: str) -> Path:
    """Return a file path (str or path-like object) as a :class:`pathlib.Path`.

    Raises
    ------
    TypeError
        If ``value`` is neither a string nor a path-like object.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path (str or pathlib.Path), got "
                        f"{describe(value)}")  # fmt: skip
    return Path(value)


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


def class_indices(value: Any, name: str, n: int, n_classes: int) -> torch.Tensor:
    """Return one class index per sample (an int is repeated), checked against ``n_classes``.

    Raises
    ------
    TypeError
        If ``value`` is not an int or a sequence of ints (a bool, float, str or None).
    ValueError
        If it holds neither one nor ``n`` indices, or an index outside ``[0, n_classes)``.
    """
    import torch

    if value is None or isinstance(value, (str, bytes, bool, float)):
        raise TypeError(f"{name}: expected an int or a sequence of {n} ints, got "
                        f"{describe(value)}")  # fmt: skip
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    values = np.atleast_1d(np.asarray(value))
    if values.dtype.kind not in "iu" or values.ndim != 1:
        raise TypeError(f"{name}: expected an int or a sequence of {n} ints, got "
                        f"{describe(value)}")  # fmt: skip
    if len(values) == 1:
        values = np.repeat(values, n)
    if len(values) != n:
        raise ValueError(f"{name}: expected one int or {n} ints (one per sample), got "
                         f"{len(values)}")  # fmt: skip
    if values.min() < 0 or values.max() >= n_classes:
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}] for a model with "
                         f"{n_classes} outputs, got {values.tolist()}")  # fmt: skip
    return torch.as_tensor(values.astype(np.int64))
