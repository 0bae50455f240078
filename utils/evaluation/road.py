r"""ROAD: remove the positions a map ranks first and *impute* them, then ask the model.

Deleting to a constant (:func:`utils.deletion_curves`) makes inputs the model never saw:
the probability may fall because the input is strange, not because the evidence is gone,
and the *shape* of the removed region can leak the class. ROAD (Rong et al., 2022, *A
Consistent and Efficient Evaluation Strategy for Attribution Methods*, ICML) replaces the
removed positions by a **noisy linear imputation**: each removed value becomes the weighted
mean of its neighbours (solved jointly, because neighbours may be removed too) plus a
little Gaussian noise,

.. math::

    x_i = \frac{\sum_{j \in N(i)} w_{ij}\, x_j}{\sum_{j \in N(i)} w_{ij}} + \varepsilon_i,
    \qquad \varepsilon_i \sim \mathcal{N}(0, \sigma^2),

with the 8-neighbourhood of a pixel (weights 1/6 for the four direct, 1/12 for the four
diagonal neighbours, as in the authors' code and ``quantus``) or the two neighbours of a
signal sample (weight 1/2 each). The curve records the class probability after removing
a growing fraction of the positions, most relevant first (MoRF: a faithful map makes it
fall fast) or least relevant first (LeRF: it should stay high). Tabular features have no
neighbours, so ROAD does not apply to them.

Examples
--------
>>> x = np.array([[[0.0, 1.0, 5.0, 3.0, 4.0]]])            # one signal, one channel
>>> noisy_linear_imputation(x, np.array([[False, False, True, False, False]]), noise=0.0)
array([[[0., 1., 2., 3., 4.]]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from .._common import finite_array, integer, model_device, one_of, real_number
from .faithfulness import _class_probabilities, _targets, tie_break_orders

__all__ = ["noisy_linear_imputation", "road_curves"]

_NEIGHBOURS = {
    1: [((-1,), 0.5), ((1,), 0.5)],
    2: [((0, 1), 1 / 6), ((0, -1), 1 / 6), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
        ((1, 1), 1 / 12), ((1, -1), 1 / 12), ((-1, 1), 1 / 12), ((-1, -1), 1 / 12)],
}  # fmt: skip


def _impute(values: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """Linear imputation of one input ``(channels, *spatial)`` at ``removed`` (``spatial``)."""
    spatial = removed.shape
    flat = values.reshape(-1, removed.size)  # (channels, positions)
    unknown = np.flatnonzero(removed.ravel())
    if len(unknown) == 0:
        return values.copy()
    variable = np.full(removed.size, -1)
    variable[unknown] = np.arange(len(unknown))
    coords = np.array(np.unravel_index(unknown, spatial))  # (ndim, unknowns)
    rows, cols, weights = [], [], []
    rhs = np.zeros((len(unknown), flat.shape[0]))
    diagonal = np.zeros(len(unknown))
    for offset, weight in _NEIGHBOURS[len(spatial)]:
        moved = coords + np.array(offset)[:, None]
        valid = np.all((moved >= 0) & (moved < np.array(spatial)[:, None]), axis=0)
        ids = np.flatnonzero(valid)
        neighbour = np.ravel_multi_index(tuple(moved[:, valid]), spatial)
        diagonal[ids] += weight
        is_unknown = variable[neighbour] >= 0
        rows.append(ids[is_unknown])
        cols.append(variable[neighbour[is_unknown]])
        weights.append(np.full(is_unknown.sum(), -weight))
        np.add.at(rhs, ids[~is_unknown], weight * flat[:, neighbour[~is_unknown]].T)
    n = len(unknown)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    weights.append(diagonal)
    system = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n)).tocsc()  # fmt: skip
    solution = spsolve(system, rhs).reshape(n, -1)  # (unknowns, channels)
    out = flat.astype(np.float64).copy()
    out[:, unknown] = solution.T
    return out.reshape(values.shape)


def noisy_linear_imputation(inputs: Any, masks: Any, noise: float = 0.01,
                            seed: int = 0) -> np.ndarray:  # fmt: skip
    """Replace the masked positions of each input by ROAD's noisy linear imputation.

    Parameters
    ----------
    inputs : numpy.ndarray or torch.Tensor
        ``(n, *channels, *spatial)`` with one spatial axis (signals ``(n, C, T)``) or two
        (images ``(n, C, H, W)``); the spatial axes are those of ``masks``.
    masks : array-like of bool
        ``(n, *spatial)``, one mask per input: True = removed. All channels of a removed
        position are imputed, each on its own.
    noise : float, default 0.01
        Standard deviation of the Gaussian noise added to the imputed values (0 = the plain
        linear imputation).
    seed : int, default 0
        Seed of the noise (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``inputs``; positions outside the masks are unchanged.

    Raises
    ------
    ValueError
        For masks that are not boolean or not 1-D / 2-D over the inputs' trailing axes,
        non-finite inputs, or a negative ``noise``.
    """
    x = finite_array(inputs, "inputs")
    m = np.asarray(masks.detach().cpu() if hasattr(masks, "detach") else masks)
    if m.dtype != bool:
        raise ValueError(f"masks: expected booleans, got dtype {m.dtype}")
    noise = real_number(noise, "noise", minimum=0.0)
    seed = integer(seed, "seed", minimum=0)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"inputs: expected a non-empty batch (n, ...), got shape {x.shape}")
    k = m.ndim - 1
    if k not in (1, 2) or len(m) != len(x) or x.ndim < k + 1 or x.shape[x.ndim - k:] != m.shape[1:]:
        raise ValueError(
            f"masks: expected one mask per input, (n, *spatial) with one or two spatial axes "
            f"that are the trailing axes of inputs {x.shape}; got shape {m.shape}"
        )
    masks_n = m
    rng = np.random.default_rng(seed)
    out = np.empty_like(x, dtype=np.float64)
    for i in range(len(x)):
        out[i] = _impute(x[i], masks_n[i])
        removed = np.broadcast_to(masks_n[i], x[i].shape)
        out[i][removed] += noise * rng.standard_normal(int(removed.sum()))
    return out


def road_curves(
    model: nn.Module,
    inputs: Any,
    attributions: Any,
    fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    order: str = "morf",
    targets: Any = None,
    noise: float = 0.01,
    tie_breaks: int = 1,
    batch_size: int = 256,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """ROAD curves: the class probability after removing and imputing a growing fraction.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``.
    inputs : numpy.ndarray or torch.Tensor
        ``(n, C, T)`` signals or ``(n, C, H, W)`` images.
    attributions : numpy.ndarray or torch.Tensor
        ``(n, T)`` or ``(n, H, W)``: one map per input at the input's resolution (upsample
        coarse maps first), higher = more relevant (signed; pass ``abs`` to rank by
        magnitude).
    fractions : sequence of float, default 0.1, ..., 0.9
        Increasing fractions of the positions to remove, each in (0, 1].
    order : {"morf", "lerf"}, default "morf"
        Most relevant first or least relevant first.
    targets : int or sequence of int, optional
        One class for all inputs or one per input; default: each input's predicted class.
    noise : float, default 0.01
        Standard deviation of the imputation noise.
    tie_breaks : int, default 1
        Orders of tied positions to average over (:func:`utils.tie_break_orders`); each
        costs one imputation per fraction.
    batch_size : int, default 256
    seed : int, default 0
        Seed of the tie-breaks and of the noise.

    Returns
    -------
    fractions : numpy.ndarray
        float64 ``(len(fractions) + 1,)``, starting with 0.
    probabilities : numpy.ndarray
        float64 ``(n, len(fractions) + 1)``; column 0 is the intact input's probability.

    Raises
    ------
    ValueError
        For maps that are not one per input at its resolution, fractions outside (0, 1] or
        not increasing, an unknown ``order``, or targets out of range.
    """
    model_device(model)
    x = finite_array(inputs, "inputs")
    maps = finite_array(attributions, "attributions")
    order = one_of(order, "order", ("morf", "lerf"))
    tie_breaks = integer(tie_breaks, "tie_breaks", minimum=1)
    batch_size = integer(batch_size, "batch_size", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    k = maps.ndim - 1
    if k not in (1, 2) or x.ndim < k + 2 or len(maps) != len(x) or x.shape[-k:] != maps.shape[1:]:
        raise ValueError(
            f"attributions: expected one map per input at its resolution, (n, T) for signals "
            f"(n, C, T) or (n, H, W) for images (n, C, H, W); got maps {maps.shape} for "
            f"inputs {x.shape}"
        )
    try:
        steps = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"fractions: expected increasing values in (0, 1], got {fractions!r}") \
            from None
    if steps.ndim != 1 or len(steps) == 0 or not np.all((steps > 0) & (steps <= 1)) \
            or np.any(np.diff(steps) <= 0):  # fmt: skip
        raise ValueError(f"fractions: expected increasing values in (0, 1], got {fractions!r}")
    size = int(np.prod(maps.shape[1:]))
    counts = np.rint(steps * size).astype(int)
    images, owner = [x.astype(np.float64)], []
    for i, a in enumerate(maps):
        scores = a.ravel() if order == "morf" else -a.ravel()
        for o, ranking in enumerate(tie_break_orders(scores, tie_breaks, seed)):
            removed = np.zeros((len(counts), size), dtype=bool)
            for s, count in enumerate(counts):
                removed[s, ranking[:count]] = True
            batch = np.broadcast_to(x[i], (len(counts), *x.shape[1:]))
            images.append(noisy_linear_imputation(batch, removed.reshape(len(counts), *a.shape),
                                                  noise=noise, seed=seed + o))  # fmt: skip
            owner.append(i)
    batch = torch.as_tensor(np.concatenate(images), dtype=torch.float32)
    probs = _class_probabilities(model, batch, batch_size)
    intact, perturbed = probs[: len(x)], probs[len(x):].reshape(len(owner), len(counts), -1)
    chosen = _targets(targets, len(x), probs.shape[1])
    if chosen is None:
        chosen = intact.argmax(axis=1)
    owner_arr = np.array(owner)
    curves = np.empty((len(x), len(counts) + 1))
    for i in range(len(x)):
        curves[i, 0] = intact[i, chosen[i]]
        curves[i, 1:] = perturbed[owner_arr == i, :, chosen[i]].mean(axis=0)
    return np.concatenate([[0.0], steps]), curves
