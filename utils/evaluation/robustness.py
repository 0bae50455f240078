r"""Robustness: does a small change of the input change the explanation a lot?

:func:`max_sensitivity` (Yeh et al., 2019, *On the (In)fidelity and Sensitivity of
Explanations*, NeurIPS) draws uniform noise in an :math:`L_\infty` ball around each input
and reports the largest relative change of the map. A map that moves a lot under noise
that does not change the prediction is easy to manipulate (see day 2's notebook 14).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._common import describe, finite_array, finite_batch, integer, real_number

__all__ = ["max_sensitivity"]


def max_sensitivity(explain: Callable[[torch.Tensor], Any], x: Any, radius: float,
                    n_samples: int = 10, seed: int = 0,
                    normalise: bool = True) -> np.ndarray:  # fmt: skip
    r"""Monte-Carlo max-sensitivity of an explanation (Yeh et al., 2019), per image.

    .. math::

        \mathrm{SENS}_{\max}(\Phi, x) = \max_{k \le K}
        \frac{\lVert \Phi(x + \delta_k) - \Phi(x) \rVert_F}{\lVert \Phi(x) \rVert_F},
        \qquad \delta_k \sim \mathcal{U}\big([-r, r]^d\big),

    the lower bound of the supremum over the :math:`L_\infty` ball of radius :math:`r` that
    ``n_samples`` = :math:`K` uniform draws give (no clipping to the pixel range). The noise of
    draw :math:`k` is ``RandomState(seed).uniform(-r, r, size=x.shape)``, the k-th call, the
    same numbers as ``quantus.MaxSensitivity`` (defaults, ``lower_bound=r``) after
    ``np.random.seed(seed)``; ``normalise=False`` drops the denominator.

    Parameters
    ----------
    explain : callable
        ``explain(x_batch)`` returns one map per image, ``(n, ...)`` (array or tensor), for
        the class of the *unperturbed* image (fix the class outside, e.g. with a closure).
    x : numpy.ndarray or torch.Tensor
        Input batch ``(n, ...)``.
    radius : float
        :math:`r > 0`.
    n_samples : int, default 10
        :math:`K \ge 1`.
    seed : int, default 0
    normalise : bool, default True
        Divide by :math:`\lVert\Phi(x)\rVert_F` (``nan`` where that is 0).

    Returns
    -------
    numpy.ndarray
        float64 ``(n,)``.

    Raises
    ------
    TypeError
        If ``explain`` is not callable or ``x`` not numbers.
    ValueError
        For an empty or non-finite ``x``, ``radius <= 0``, ``n_samples < 1``, or maps that are
        not one per image or not finite.
    """
    if not callable(explain):
        raise TypeError(f"explain: expected a callable explain(x_batch), got {describe(explain)}")
    x = finite_batch(x, "x")
    radius = real_number(radius, "radius", minimum=0.0, strict=True)
    n_samples = integer(n_samples, "n_samples", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    rng = np.random.RandomState(seed)

    def flat(batch: torch.Tensor) -> np.ndarray:
        maps = finite_array(explain(batch), "explain(x)")
        if maps.shape[0] != len(x):
            raise ValueError(f"explain(x): expected one map per image ({len(x)}), got shape "
                             f"{maps.shape}")  # fmt: skip
        return maps.reshape(len(x), -1)

    base = flat(x)
    worst = np.zeros(len(x))
    for _ in range(n_samples):
        noise = rng.uniform(-radius, radius, size=tuple(x.shape))
        moved = flat(x + torch.as_tensor(noise, dtype=x.dtype, device=x.device))
        worst = np.maximum(worst, np.linalg.norm(moved - base, axis=1))
    if not normalise:
        return worst
    norms = np.linalg.norm(base, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, worst / np.where(norms > 0, norms, 1.0), np.nan)
