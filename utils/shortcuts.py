"""Plant a "Clever Hans" shortcut into image data and measure where attributions fall.

A model trained on images where one class always carries a small bright square
learns the square instead of the object (Lapuschkin et al., 2019, *Unmasking
Clever Hans predictors and assessing what machines really learn*, Nature
Communications). :func:`add_marker` plants such a marker, :func:`marker_region`
says where it is, :func:`attribution_mass_in_region` measures how much of an
explanation falls on it, and :func:`peak_in_region` whether its maximum does.

Examples
--------
>>> images = np.zeros((4, 1, 28, 28), dtype=np.float32)
>>> labels = np.array([7, 1, 7, 3])
>>> marked, mask = add_marker(images, labels, target_class=7)
>>> mask.any(axis=(1, 2, 3)).tolist()          # which images carry the marker
[True, False, True, False]
>>> attribution_mass_in_region(marked[0], marker_region((28, 28)))
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import describe, finite_array, real_number

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


def _bool_mask(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` as bool; 0/1 values are accepted, anything else is an error."""
    if mask.dtype == bool:
        return mask
    if not np.isin(mask, (0, 1)).all():
        raise ValueError("mask must be boolean (or 0/1), got other values")
    return mask.astype(bool)


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


def attribution_mass_in_region(attribution: Any, mask: Any) -> float:
    r"""Return the share of absolute attribution that falls inside ``mask``.

    .. math::

        \text{share} = \frac{\sum_{p \in \text{mask}} |a_p|}{\sum_p |a_p|}

    1.0 means the explanation lies entirely on the region; a uniform attribution
    gives the region's area fraction (e.g. 16 / 784 = 0.02 for a 4x4 marker on a
    28x28 image), the baseline to compare against.

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        ``(H, W)``, ``(C, H, W)``, or a batch ``(n, C, H, W)`` / ``(n, H, W)``.
        For a batch the share is pooled over all images.
    mask : array-like of bool
        Same shape as ``attribution``, or a shape that broadcasts to it with the
        same ``(H, W)`` (e.g. one ``(H, W)`` region for a whole batch).
        Leading axes of length 1 are dropped if ``mask`` has more axes.

    Returns
    -------
    float
        In [0, 1]; ``nan`` if the attribution is zero everywhere.

    Raises
    ------
    TypeError
        If the attribution is not numbers.
    ValueError
        If the shapes do not fit, the mask is not boolean (or 0/1), or the
        attribution is empty or contains NaN or infinite values.
    """
    attribution = finite_array(attribution, "attribution")
    mask = _to_numpy(mask, "mask")
    if attribution.ndim < 2:
        raise ValueError(f"attribution must have at least 2 axes (H, W), got {attribution.shape}")
    mask = _bool_mask(mask)
    while mask.ndim > attribution.ndim and mask.shape[0] == 1:
        mask = mask[0]
    try:
        fits = mask.ndim >= 2 and mask.shape[-2:] == attribution.shape[-2:]
        fits = fits and np.broadcast_shapes(attribution.shape, mask.shape) == attribution.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {mask.shape} does not fit attribution of shape "
            f"{attribution.shape}: expected the same shape or one that broadcasts to it "
            "with the same (H, W)"
        )
    magnitude = np.abs(attribution)
    total = magnitude.sum()
    if total == 0:
        return float("nan")
    inside = (magnitude * np.broadcast_to(mask, attribution.shape)).sum()
    return float(inside / total)


def peak_in_region(attribution: Any, mask: Any) -> np.ndarray:
    """Return, for each map of a batch, whether its maximum lies inside ``mask``.

    The pointing game of Zhang et al. (2018, *Top-down Neural Attention by
    Excitation Backprop*, IJCV), without tolerance (pass a larger ``mask`` for
    one), for image-shaped maps; :func:`utils.pointing_game` is the 1D version.
    It complements :func:`attribution_mass_in_region`: a coarse map (Grad-CAM on
    a 14x14 layer) can point at a small region while most of its mass lies
    elsewhere. Magnitudes count, as there: the maximum of ``|a|``, summed over
    channels. Ties are shared: a map with several equal maxima scores the share
    of them inside ``mask``, so a constant map scores the region's area fraction
    (the baseline) and not whatever the first pixel in reading order says.

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        A batch of maps ``(n, H, W)`` or ``(n, C, H, W)``; for one map pass
        ``a[None]``.
    mask : array-like of bool
        ``(H, W)`` for all maps or ``(n, H, W)``, one region per map.

    Returns
    -------
    numpy.ndarray
        float ``(n,)`` in [0, 1]: 1.0 for a hit, 0.0 for a miss (fractions only
        for ties). Its mean is the hit rate.

    Raises
    ------
    TypeError
        If the attribution is not numbers.
    ValueError
        If the shapes do not fit, the attribution is empty or contains NaN or
        infinite values, or the mask is not boolean (or 0/1) or empty.

    Examples
    --------
    >>> region = marker_region((4, 4), size=2)
    >>> maps = np.zeros((2, 4, 4)); maps[0, 1, 1] = 5.0; maps[1, 3, 3] = -5.0
    >>> peak_in_region(maps, region).tolist()
    [1.0, 0.0]
    """
    attribution = finite_array(attribution, "attribution")
    mask = _to_numpy(mask, "mask")
    if attribution.ndim not in (3, 4):
        raise ValueError(
            f"attribution must be a batch (n, H, W) or (n, C, H, W), got shape "
            f"{attribution.shape}; for one map pass a[None]"
        )
    magnitude = np.abs(attribution)
    if magnitude.ndim == 4:
        magnitude = magnitude.sum(axis=1)
    n, height, width = magnitude.shape
    mask = _bool_mask(mask)
    if mask.shape not in ((height, width), (n, height, width)):
        raise ValueError(
            f"mask of shape {mask.shape} does not fit maps of shape {(n, height, width)}: "
            f"expected {(height, width)} or {(n, height, width)}"
        )
    masks = np.broadcast_to(mask, magnitude.shape)
    if not masks.any(axis=(1, 2)).all():
        raise ValueError("mask is empty (no True pixel) for at least one map")
    peaks = magnitude == magnitude.max(axis=(1, 2), keepdims=True)
    return (peaks & masks).sum(axis=(1, 2)) / peaks.sum(axis=(1, 2))
