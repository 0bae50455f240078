"""Plant a "Clever Hans" shortcut into image data and measure where attributions fall.

A model trained on images where one class always carries a small bright square
learns the square instead of the object (Lapuschkin et al., 2019, *Unmasking
Clever Hans predictors and assessing what machines really learn*, Nature
Communications). :func:`add_marker` plants such a marker and :func:`marker_region`
says where it is; :func:`utils.mass_in_region` measures how much of an
explanation falls on it and :func:`utils.pointing_game` whether its maximum
does (:mod:`utils.evaluation.localisation`).

Examples
--------
>>> images = np.zeros((4, 1, 28, 28), dtype=np.float32)
>>> labels = np.array([7, 1, 7, 3])
>>> marked, mask = add_marker(images, labels, target_class=7)
>>> mask.any(axis=(1, 2, 3)).tolist()          # which images carry the marker
[True, False, True, False]
>>> bool(marked[0, 0][marker_region((28, 28))].all())   # the marker is where it says
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import describe, real_number

#: Corners accepted by :func:`marker_region` and :func:`add_marker`.
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _to_numpy(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    if not isinstance(values, np.ndarray):
        try:
            values = np.asarray(values)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected an array, got {type(values).__name__}") from err
    return values


def marker_region(shape: Sequence[int], size: int = 4, corner: str = "top-left") -> np.ndarray:
    """Return a boolean mask that is True on a ``size x size`` square in one corner.

    Parameters
    ----------
    shape : sequence of int
        Shape of one image, ``(H, W)`` or ``(C, H, W)``; the square covers all
        channels.
    size : int, default 4
        Side of the square in pixels, ``1 <= size <= min(H, W)``.
    corner : {"top-left", "top-right", "bottom-left", "bottom-right"}

    Returns
    -------
    numpy.ndarray
        bool array of shape ``shape``.

    Raises
    ------
    TypeError
        If ``shape`` is not a sequence of ints or ``size`` not an integer.
    ValueError
        For a shape that is not ``(H, W)`` / ``(C, H, W)``, a ``size`` that does not fit
        or an unknown ``corner``.

    Examples
    --------
    >>> marker_region((4, 4), size=2, corner="bottom-right").astype(int)
    array([[0, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 1, 1],
           [0, 0, 1, 1]])
    """
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as err:
        raise TypeError(f"shape must be a sequence of ints like (28, 28), got {shape!r}") from err
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) or (C, H, W) with positive sides, got {shape}")
    height, width = shape[-2:]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer, got {size!r}")
    if not 1 <= size <= min(height, width):
        raise ValueError(f"size must lie in [1, {min(height, width)}] for {shape} images, "
                         f"got {size}")  # fmt: skip
    if not isinstance(corner, str) or corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    rows = slice(0, size) if corner.startswith("top") else slice(height - size, height)
    cols = slice(0, size) if corner.endswith("left") else slice(width - size, width)
    mask = np.zeros(shape, dtype=bool)
    mask[..., rows, cols] = True
    return mask


def add_marker(
    images: Any,
    labels: Any,
    target_class: int | Sequence[int] | None,
    size: int = 4,
    value: float = 1.0,
    corner: str = "top-left",
    fraction: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Plant a bright square (the shortcut) into the images of one class.

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        ``(n, H, W)`` or ``(n, C, H, W)``; not modified (a copy is returned).
    labels : array-like
        ``(n,)`` class labels.
    target_class : int, sequence of int or None
        Class(es) whose images get the marker; ``None`` marks every image (to
        test whether the marker alone flips predictions).
    size : int, default 4
        Side of the square in pixels.
    value : float, default 1.0
        Pixel value of the square (1.0 = white for images in [0, 1]).
    corner : {"top-left", "top-right", "bottom-left", "bottom-right"}
    fraction : float, default 1.0
        Share of the eligible images that get the marker, in [0, 1]; which ones
        is drawn with ``seed``.
    seed : int, default 0

    Returns
    -------
    marked_images : numpy.ndarray
        Copy of ``images`` (same shape and dtype) with the markers.
    marker_mask : numpy.ndarray
        bool, same shape as ``images``: True exactly on the planted pixels.
        ``marker_mask.any(axis=tuple(range(1, marker_mask.ndim)))`` says which
        images were marked; ``marker_mask[i]`` is the region of image ``i``.

    Raises
    ------
    TypeError
        If ``fraction`` is not a number.
    ValueError
        For bad shapes, NaN or infinite pixels, a class that does not occur in
        ``labels``, or ``fraction`` outside [0, 1].
    """
    images = _to_numpy(images, "images")
    labels = _to_numpy(labels, "labels")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (n, H, W) or (n, C, H, W), got shape {images.shape}")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise ValueError("images contains NaN or infinite values")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"labels must have shape ({len(images)},) to match images, got {labels.shape}"
        )
    if not 0.0 <= real_number(fraction, "fraction") <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    region = marker_region(images.shape[1:], size, corner)
    if target_class is None:
        eligible = np.ones(len(images), dtype=bool)
    else:
        classes = np.atleast_1d(np.asarray(target_class))
        if classes.ndim != 1 or len(classes) == 0:
            raise ValueError(f"target_class: expected a class, a list of classes or None, got "
                             f"{describe(target_class)}")  # fmt: skip
        missing = [c for c in classes.tolist() if c not in set(labels.tolist())]
        if missing:
            raise ValueError(
                f"target_class {missing} does not occur in labels; present classes: "
                f"{sorted(set(labels.tolist()))}"
            )
        eligible = np.isin(labels, classes)
    candidates = np.flatnonzero(eligible)
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(candidates)[: int(round(fraction * len(candidates)))]
    marker_mask = np.zeros(images.shape, dtype=bool)
    marker_mask[chosen] = region
    marked = images.copy()
    marked[marker_mask] = value
    return marked, marker_mask
