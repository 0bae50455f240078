r"""Localisation: does a map point at the region where the evidence is known to be?

Where the truth is planted (the shortcut marker of an image, the abnormal wave of an ECG
beat, the one feature a tabular model uses) a map can be scored against it:

* :func:`mass_in_region` - the share of the map's mass inside the region,

  .. math::

      \text{share} = \frac{\sum_{p \in R} m_p}{\sum_p m_p},\qquad
      m = |a| \text{ (default) or } \max(a, 0);

* :func:`pointing_game` - whether the map's maximum lies inside the region (Zhang et
  al., 2018, *Top-down Neural Attention by Excitation Backprop*, IJCV), without tolerance
  (pass a larger region for one);
* :func:`region_fraction` - the region's share of the positions: what a map without
  information scores on average on both (the random baseline). Always report it, and the
  scores of a *class-independent control region* of the same size.

One convention for every data type: a **mask** is a boolean array (0/1 accepted) of the
map's shape, or one that broadcasts to it (one region for a whole batch); ``axis`` works
as in NumPy: ``None`` scores the whole array as one map (for a batch: the pooled share),
``axis=-1`` (signals, tables) or ``axis=(-2, -1)`` (images) gives one score per map.
:func:`interval_mask` makes masks from ``[start, stop)`` intervals of signals;
:func:`utils.marker_region` makes the corner masks of images.

Examples
--------
>>> a = np.array([0.0, 3.0, 1.0, 0.0, -1.0])
>>> inside = interval_mask([1, 3], 5)[0]
>>> float(mass_in_region(a, inside))
0.8
>>> float(mass_in_region(a, inside, positive=True))
1.0
>>> float(pointing_game(a, inside)), float(region_fraction(inside))
(1.0, 0.4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._common import finite_array, integer

__all__ = ["interval_mask", "mass_in_region", "pointing_game", "region_fraction"]


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalise ``axis`` (None, an int or a tuple of ints) to sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    values = (axis,) if not isinstance(axis, tuple) else axis
    if not values or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                             for v in values):  # fmt: skip
        raise TypeError(f"axis: expected None, an int or a tuple of ints, got {axis!r}")
    if any(not -ndim <= v < ndim for v in values):
        raise ValueError(f"axis {axis!r} is out of range for a map with {ndim} axes")
    axes = tuple(sorted({int(v) % ndim for v in values}))
    if len(axes) != len(values):
        raise ValueError(f"axis: repeated axis in {axis!r}")
    return axes


def _map_and_mask(attribution: Any, mask: Any, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    a = finite_array(attribution, "attribution")
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"attribution: expected a map with at least one value, got shape "
                         f"{a.shape}")  # fmt: skip
    m = _mask(mask)
    try:
        if np.broadcast_shapes(a.shape, m.shape) != a.shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"mask of shape {m.shape} does not fit attribution of shape {a.shape}: expected "
            "the same shape or one that broadcasts to it (e.g. one region for a batch)"
        ) from None
    magnitude = np.clip(a, 0, None) if positive else np.abs(a)
    return magnitude, np.broadcast_to(m, a.shape)


def _mask(mask: Any) -> np.ndarray:
    m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask)
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.isin(m, (0, 1)).all():
            raise ValueError(f"mask: expected booleans (or 0/1), got dtype {m.dtype}")
        m = m.astype(bool)
    if m.ndim == 0 or m.size == 0:
        raise ValueError(f"mask: expected an array of booleans, got shape {m.shape}")
    return m


def mass_in_region(attribution: Any, mask: Any, positive: bool = False,
                   axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:  # fmt: skip
    """Share of a map's mass inside ``mask``.

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        A map or a batch of maps: ``(F,)``, ``(T,)``, ``(H, W)``, ``(n, H, W)``, ...
    mask : array-like of bool
        The region: the map's shape or one that broadcasts to it.
    positive : bool, default False
        ``False``: mass = ``|a|`` (evidence for and against). ``True``: mass = ``max(a, 0)``
        (evidence *for* the class only, e.g. CAM-like maps, or to ignore negative IG).
    axis : None, int or tuple of int, default None
        The axes of one map: ``None`` pools over the whole array; ``-1`` or ``(-2, -1)``
        returns one share per map of a batch.

    Returns
    -------
    float or numpy.ndarray
        In [0, 1]; ``nan`` for a map without mass (all zero). A float for ``axis=None``, else
        float64 of the remaining axes.

    Raises
    ------
    TypeError
        If the map is not numbers or ``axis`` not None/int/tuple.
    ValueError
        For an empty or non-finite map, a mask that is not boolean or does not fit,
        or an axis out of range.

    Examples
    --------
    >>> maps = np.array([[1.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    >>> mass_in_region(maps, np.array([True, True, False, False]), axis=-1)
    array([0.5, nan])
    """
    m, inside = _map_and_mask(attribution, mask, bool(positive))
    axes = _axes(axis, m.ndim)
    total = m.sum(axis=axes)
    within = (m * inside).sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, within / np.where(total > 0, total, 1.0), np.nan)
    return float(share) if axis is None else share


def pointing_game(attribution: Any, mask: Any, positive: bool = False,
                  axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:  # fmt: skip
    """Whether the maximum of a map lies inside ``mask`` (1.0 hit, 0.0 miss).

    The maximum is that of ``|a|`` (or of ``max(a, 0)`` with ``positive=True``). Ties are
    shared: a map with several equal maxima scores the share of them inside the region, so
    a constant map scores :func:`region_fraction` and not whatever position comes first.
    The mean over maps is the hit rate.

    Parameters
    ----------
    attribution, mask, positive, axis :
        As in :func:`mass_in_region`.

    Returns
    -------
    float or numpy.ndarray
        In [0, 1] (fractions only for ties). A float for ``axis=None``.

    Raises
    ------
    TypeError, ValueError
        As :func:`mass_in_region`, and for a map whose region is empty.

    Examples
    --------
    >>> maps = np.zeros((2, 4, 4)); maps[0, 1, 1] = 5.0; maps[1, 3, 3] = -5.0
    >>> region = np.zeros((4, 4), dtype=bool); region[:2, :2] = True
    >>> pointing_game(maps, region, axis=(-2, -1)).tolist()
    [1.0, 0.0]
    """
    m, inside = _map_and_mask(attribution, mask, bool(positive))
    axes = _axes(axis, m.ndim)
    if not inside.any(axis=axes).all():
        raise ValueError("mask is empty (no True position) for at least one map")
    peaks = m == m.max(axis=axes, keepdims=True)
    hits = (peaks & inside).sum(axis=axes) / peaks.sum(axis=axes)
    return float(hits) if axis is None else hits.astype(np.float64)


def region_fraction(mask: Any, axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:
    """The region's share of the positions: the chance level of both localisation scores.

    A map that carries no information about the region puts, on average, this share of
    its mass inside it, and its maximum falls inside it with this probability.

    Parameters
    ----------
    mask : array-like of bool
        One region or a batch of them.
    axis : None, int or tuple of int, default None
        As in :func:`mass_in_region`.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        If the mask is not boolean (or 0/1) or the axis is out of range.

    Examples
    --------
    >>> region_fraction(interval_mask([[1, 3], [0, 1]], 4), axis=-1)
    array([0.5 , 0.25])
    """
    m = _mask(mask)
    axes = _axes(axis, m.ndim)
    fraction = m.mean(axis=axes)
    return float(fraction) if axis is None else fraction


def interval_mask(regions: Any, length: int) -> np.ndarray:
    """Boolean masks ``(n, length)`` that are True on each ``[start, stop)`` interval.

    Parameters
    ----------
    regions : array-like of int
        ``(n, 2)`` pairs, or one ``(2,)`` pair (giving ``(1, length)``).
    length : int
        Number of positions (samples of a signal).

    Returns
    -------
    numpy.ndarray
        bool ``(n, length)``.

    Raises
    ------
    ValueError
        For no regions, regions that are not integer ``[start, stop)`` pairs inside
        ``[0, length]``, or a ``length`` that is not a positive integer.

    Examples
    --------
    >>> interval_mask([1, 3], 4).astype(int)
    array([[0, 1, 1, 0]])
    """
    length = integer(length, "length", minimum=1)
    r = np.asarray(regions.detach().cpu() if hasattr(regions, "detach") else regions)
    if r.ndim == 1:
        r = r[None]
    if r.ndim != 2 or r.shape[1] != 2 or r.dtype.kind not in "iu" or len(r) == 0:
        raise ValueError(f"regions: expected integer [start, stop) pairs of shape (n, 2) or "
                         f"(2,), got shape {r.shape} and dtype {r.dtype}")  # fmt: skip
    bad = (r[:, 0] < 0) | (r[:, 1] > length) | (r[:, 0] >= r[:, 1])
    if bad.any():
        raise ValueError(f"regions: expected 0 <= start < stop <= {length}, got "
                         f"{r[bad][:3].tolist()}")  # fmt: skip
    t = np.arange(length)
    return (t >= r[:, :1]) & (t < r[:, 1:])
