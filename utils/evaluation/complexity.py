r"""Complexity: how concentrated is a map? (Whether it is *right* is another question.)

* :func:`sparseness` - the Gini index of ``|a|`` (Chalasani et al., 2020, *Concise
  Explanations of Neural Networks using Adversarial Training*, ICML): 0 for a uniform map,
  :math:`1 - 1/d` for a map with one non-zero of :math:`d` positions;
* :func:`entropy_complexity` - the Shannon entropy of the normalised magnitudes
  :math:`p = |a| / \sum |a|` (Bhatt et al., 2020, *Evaluating and Aggregating
  Feature-based Model Explanations*, IJCAI), in nats: 0 for one position,
  :math:`\log d` for a uniform map.

Both reward peaky maps whether or not the peak is on the evidence: read them next to a
faithfulness or localisation score, never alone. ``axis`` works as in
:func:`utils.mass_in_region`.

Examples
--------
>>> round(float(sparseness([0.0, 0.0, 0.0, 4.0])), 3), float(sparseness([1.0, 1.0]))
(0.75, 0.0)
>>> round(float(entropy_complexity([1.0, 1.0, 1.0, 1.0])), 4)  # log 4
1.3863
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._common import finite_array
from .localisation import _axes

__all__ = ["entropy_complexity", "sparseness"]


def _magnitudes(attribution: Any, axis: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    a = finite_array(attribution, "attribution")
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"attribution: expected a map with at least one value, got shape "
                         f"{a.shape}")  # fmt: skip
    return np.abs(a), _axes(axis, a.ndim)


def _flatten(m: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Move the map axes last and flatten them: ``(rest..., d)``."""
    rest = [i for i in range(m.ndim) if i not in axes]
    moved = np.transpose(m, rest + list(axes))
    return moved.reshape(*moved.shape[: len(rest)], -1)


def sparseness(attribution: Any, axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:
    r"""Gini index of ``|a|``: 0 = uniform, towards 1 = all mass on one position.

    .. math::

        G = \frac{\sum_{i=1}^{d} (2i - d - 1)\, m_{(i)}}{d \sum_i m_{(i)}},

    with :math:`m_{(i)}` the magnitudes sorted ascending (the formula of
    ``quantus.Sparseness``).

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        A map or a batch of maps.
    axis : None, int or tuple of int, default None
        The axes of one map (``None``: the whole array).

    Returns
    -------
    float or numpy.ndarray
        In [0, 1); ``nan`` for an all-zero map.

    Raises
    ------
    TypeError, ValueError
        For maps that are not finite numbers, or an axis out of range.
    """
    m, axes = _magnitudes(attribution, axis)
    flat = np.sort(_flatten(m, axes), axis=-1)
    d = flat.shape[-1]
    weights = 2 * np.arange(1, d + 1) - d - 1
    total = flat.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        gini = np.where(total > 0, (flat * weights).sum(axis=-1)
                        / (d * np.where(total > 0, total, 1.0)), np.nan)  # fmt: skip
    return float(gini) if axis is None else gini


def entropy_complexity(
    attribution: Any, axis: int | tuple[int, ...] | None = None
) -> np.ndarray | float:
    r"""Shannon entropy of :math:`p = |a| / \sum |a|` in nats: lower = more concentrated.

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        A map or a batch of maps.
    axis : None, int or tuple of int, default None
        The axes of one map (``None``: the whole array).

    Returns
    -------
    float or numpy.ndarray
        In :math:`[0, \log d]`; ``nan`` for an all-zero map.

    Raises
    ------
    TypeError, ValueError
        For maps that are not finite numbers, or an axis out of range.
    """
    m, axes = _magnitudes(attribution, axis)
    flat = _flatten(m, axes)
    total = flat.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = flat / np.where(total > 0, total, 1.0)
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = np.where(total[..., 0] > 0, terms.sum(axis=-1), np.nan)
    return float(entropy) if axis is None else entropy
