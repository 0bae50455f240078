r"""Faithfulness: does removing (or adding) what a map calls important change the output?

An attribution map ranks the positions of an input (pixels or patches of an image,
samples or segments of a signal, features of a table). The *deletion* test (Petsiuk et
al., 2018, *RISE: Randomized Input Sampling for Explanation of Black-box Models*, BMVC;
the "most relevant first" region perturbation of Samek et al., 2017, *Evaluating the
visualization of what a deep neural network has learned*, IEEE TNNLS) replaces them by a
baseline in that order and records the probability of the explained class after each step.
A faithful map makes the probability fall fast, so the area under the curve (AUC) is small:

.. math::

    p_k = \mathrm{softmax}\big(f(x^{(k)})\big)_c,\qquad
    \mathrm{AUC} = \sum_{k=1}^{K} \tfrac12 (p_{k-1} + p_k)\,(\phi_k - \phi_{k-1}),

with :math:`x^{(k)}` the input after the first steps up to :math:`k` and :math:`\phi_k`
the fraction of patches replaced. The *insertion* test starts from the baseline and puts
the patches back in the same order: a faithful map makes the probability rise fast (large
AUC). Compare both with the AUC of random orders. Patches with tied scores are replaced in
every order of the tie (or a seeded sample of them) and the curves averaged, so a map is
never rewarded or punished for the order in which the code lists its tied patches.
Replacing by a constant creates inputs the model never saw; :mod:`utils.evaluation.road`
imputes instead. :func:`completeness_gap` checks an attribution's sum (IG's axiom).

===========================  =============================================================
function                     what it does
===========================  =============================================================
:func:`patch_scores`         a map -> one score per patch (squares, segments)
:func:`deletion_curves`      most important first -> baseline, class probability per step
:func:`insertion_curves`     baseline -> most important first back in, probability per step
:func:`deletion_curve`       the deletion curve of one input
:func:`deletion_auc`         the area under that curve (lower = more faithful)
:func:`area_under_curve`     trapezoidal area under any of these curves
:func:`tie_break_orders`     the orders of a map whose patches tie (averaged over)
:func:`completeness_gap`     ``sum(a) - (F(x) - F(x'))`` (Integrated Gradients' axiom)
===========================  =============================================================

Examples
--------
>>> fractions, probs = deletion_curves(model, x, grad_cam_maps, patch_size=7)  # doctest: +SKIP
>>> deletion_auc(model, x[0], grad_cam_map, patch_size=7)  # doctest: +SKIP
0.21
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._common import finite_array, model_device


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def patch_scores(attribution: Any, patch_size: int) -> np.ndarray:
    """Average an attribution map over non-overlapping patches of side ``patch_size``.

    A patch is a square of an image map ``(H, W)``, a segment of a signal map ``(T,)``
    (a box in general: the map may have any number of axes).

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        A map with at least one axis; every side must be a multiple of ``patch_size``.
    patch_size : int
        Side of a patch in positions (1 returns the map unchanged, as float64).

    Returns
    -------
    numpy.ndarray
        float64, every side divided by ``patch_size``: the mean of each patch.

    Raises
    ------
    ValueError
        If the map has no axis or its sides are not multiples of ``patch_size``.

    Examples
    --------
    >>> patch_scores(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> patch_scores([1.0, 3.0, 5.0, 7.0], 2)
    array([2., 6.])
    """
    p = _positive_int(patch_size, "patch_size")
    a = finite_array(attribution, "attribution")
    if a.ndim == 0 or any(side % p for side in a.shape):
        raise ValueError(
            f"attribution: expected a map whose sides are multiples of patch_size={p}, "
            f"got shape {a.shape}"
        )
    split = [v for side in a.shape for v in (side // p, p)]
    return a.reshape(split).mean(axis=tuple(range(1, 2 * a.ndim, 2)))


def _patch_scores(attribution: np.ndarray, spatial: tuple[int, ...], patch_size: int) -> np.ndarray:
    """Return one score per patch of one map, flattened row-major over the patch grid."""
    grid = tuple(side // patch_size for side in spatial)
    if attribution.shape == spatial:
        return patch_scores(attribution, patch_size).ravel()
    if attribution.shape == grid:
        return attribution.ravel()
    raise ValueError(
        f"attribution: expected a map of the input's shape {spatial} or one score per "
        f"patch {grid} (patch_size={patch_size}), got shape {attribution.shape}"
    )


def _patch_ids(spatial: tuple[int, ...], patch_size: int) -> np.ndarray:
    """The patch index (row-major over the patch grid) of every position."""
    if any(side % patch_size for side in spatial):
        raise ValueError(
            f"patch_size={patch_size} must divide every side of the map, got sides {spatial}"
        )
    grid = tuple(side // patch_size for side in spatial)
    return np.ravel_multi_index(tuple(np.indices(spatial) // patch_size), grid)


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def tie_break_orders(scores: Any, tie_breaks: int = 10, seed: int = 0) -> np.ndarray:
    """Deletion orders of a map's patches, most important first, with ties broken at random.

    A map that gives several patches exactly the same score (e.g. the zeros Grad-CAM's ReLU
    leaves, or an all-zero map) does not say which of them comes first. A stable sort
    would delete tied patches in row-major order, which is an arbitrary choice of the code
    and can make a map look better or worse than it is. Instead, the orders of the tied
    patches are averaged over: if the number of distinct orders (the product of the
    factorials of the tie groups' sizes) is at most ``tie_breaks``, all of them are
    returned (the average is then exact); otherwise ``tie_breaks`` random orders are drawn
    with ``numpy.random.default_rng(seed)``. The random keys depend only on ``seed`` and
    the number of patches, so a map gets the same orders whatever other maps are scored.
    The price: maps with the same tie pattern (e.g. constant maps of many inputs) get the
    *same* sampled orders, so averaging over inputs does not average the sampling error
    away; with few ``tie_breaks`` a constant map's curve can be far from the random-order
    expectation (measured on day 3's notebook 08: a deletion AUC of 0.646 with 4 orders of 6
    tied features against the exact 0.749). Use all orders where there are few (``6! = 720``)
    or enough samples.

    Parameters
    ----------
    scores : array_like
        One score per patch (any shape; flattened row-major), higher = more important.
    tie_breaks : int, default 10
        How many orders to return at most when there are ties.
    seed : int, default 0
        Seed of the random tie-breaks.

    Returns
    -------
    numpy.ndarray
        int64 ``(m, n_patches)``: ``m = 1`` without ties, else ``m <= tie_breaks``; each row
        is a permutation of the patch indices sorted by decreasing score.

    Examples
    --------
    >>> tie_break_orders([3.0, 1.0, 2.0])
    array([[0, 2, 1]])
    >>> tie_break_orders([3.0, 1.0, 1.0])
    array([[0, 1, 2],
           [0, 2, 1]])
    """
    s = finite_array(scores, "scores").ravel()
    m = _positive_int(tie_breaks, "tie_breaks")
    seed = _non_negative_int(seed, "seed")
    _, group, sizes = np.unique(-s, return_inverse=True, return_counts=True)  # best group first
    n_orders = 1
    for size in sizes:
        n_orders *= math.factorial(int(size))
        if n_orders > m:
            break
    if n_orders <= m:  # all of them: the mean over the orders is the exact expectation
        members = [np.flatnonzero(group.ravel() == g) for g in range(len(sizes))]
        return np.array([np.concatenate(choice) for choice in
                         itertools.product(*(itertools.permutations(ms) for ms in members))])
    rng = np.random.default_rng(seed)
    return np.stack([np.lexsort((rng.random(s.size), -s)) for _ in range(m)])


def _replaced(
    start: torch.Tensor, end: torch.Tensor, orders: np.ndarray, counts: np.ndarray,
    patch_id: np.ndarray,
) -> tuple[torch.Tensor, np.ndarray]:
    """Replace the first ``counts[k]`` patches of each order in ``start`` by ``end``.

    Deletion replaces the input by the baseline, insertion the baseline by the input.
    Returns the distinct images ``(m, *start.shape)`` and ``(len(orders), len(counts))``
    indices into them. Two steps give the same image when their sets differ only in
    patches where ``start`` already equals ``end`` (e.g. the empty background of a digit),
    so each distinct image is evaluated once, however many tie-break orders lead to it.
    """
    k = patch_id.ndim  # the map's (spatial) axes are the input's trailing axes
    differs_at = (start != end).reshape(-1, *patch_id.shape).any(0).numpy()
    differs = np.bincount(patch_id.ravel(), weights=differs_at.ravel(),
                          minlength=orders.shape[1]) > 0  # fmt: skip
    position: dict[bytes, int] = {}
    masks = []
    index = np.empty((len(orders), len(counts)), dtype=np.int64)
    for o, order in enumerate(orders):
        replaced = np.zeros(orders.shape[1], dtype=bool)
        for step, count in enumerate(counts):
            replaced[order[:count]] = True
            key = (replaced & differs).tobytes()
            if key not in position:
                position[key] = len(masks)
                masks.append(replaced[patch_id])
            index[o, step] = position[key]
    channels = (1,) * (start.ndim - k)
    mask = torch.as_tensor(np.stack(masks), dtype=start.dtype)
    mask = mask.reshape(len(masks), *channels, *patch_id.shape)
    return start[None] * (1 - mask) + end[None] * mask, index


def _class_probabilities(model: nn.Module, batch: torch.Tensor, batch_size: int) -> np.ndarray:
    """``softmax(model(x))`` of a batch in eval mode, without gradients, in float64."""
    from ..training import _eval_outputs

    logits = _eval_outputs(model, batch, batch_size)
    if logits.ndim != 2:
        raise ValueError(
            f"model output: expected logits (n, n_classes), got shape {tuple(logits.shape)}"
        )
    return torch.softmax(logits.double(), dim=1).numpy()


def _targets(targets: Any, n: int, n_classes: int) -> np.ndarray | None:
    if targets is None:
        return None
    chosen = np.atleast_1d(np.asarray(targets))
    if chosen.dtype.kind not in "iu" or chosen.ndim != 1 or len(chosen) not in (1, n):
        raise ValueError(f"targets: expected one class index or {n} of them (one per "
                         f"input), got {targets!r}")  # fmt: skip
    if chosen.min() < 0 or chosen.max() >= n_classes:
        raise ValueError(f"target must be a class index in [0, {n_classes - 1}], got {targets!r}")
    return np.broadcast_to(chosen, (n,))


def _inputs_and_maps(inputs: Any, attributions: Any) -> tuple[torch.Tensor, np.ndarray]:
    xs = torch.as_tensor(finite_array(inputs, "inputs"), dtype=torch.float32)
    maps = finite_array(attributions, "attributions")
    if xs.ndim < 2 or len(xs) == 0:
        raise ValueError(f"inputs: expected a non-empty batch (n, ...), got shape "
                         f"{tuple(xs.shape)}")  # fmt: skip
    if maps.ndim < 2 or maps.ndim > xs.ndim or len(maps) != len(xs):
        raise ValueError(
            f"attributions: expected one map per input, shape ({len(xs)}, ...) with the "
            f"input's trailing axes (maps of inputs {tuple(xs.shape)} are e.g. "
            f"{(len(xs), *xs.shape[2:])}), got shape {maps.shape}"
        )
    return xs, maps


def _baseline(baseline: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if isinstance(baseline, (int, float, np.floating)) and not isinstance(baseline, bool):
        return torch.full(shape, float(baseline))
    base = torch.as_tensor(finite_array(baseline, "baseline"), dtype=torch.float32)
    if tuple(base.shape) != shape:
        raise ValueError(f"baseline: expected a number or an array of one input's shape "
                         f"{shape}, got shape {tuple(base.shape)}")  # fmt: skip
    return base


def _curves(
    model: nn.Module, inputs: Any, attributions: Any, insert: bool, patch_size: int,
    targets: Any, steps: int | None, baseline: Any, batch_size: int, tie_breaks: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The deletion (``insert=False``) or insertion curves of a batch (see the public ones)."""
    model_device(model)
    p = _positive_int(patch_size, "patch_size")
    xs, maps = _inputs_and_maps(inputs, attributions)
    n = len(xs)
    tie_breaks = _positive_int(tie_breaks, "tie_breaks")
    seed = _non_negative_int(seed, "seed")
    batch_size = _positive_int(batch_size, "batch_size")
    spatial = tuple(xs.shape[xs.ndim - (maps.ndim - 1):])
    patch_id = _patch_ids(spatial, p)
    orders = [tie_break_orders(_patch_scores(m, spatial, p), tie_breaks, seed) for m in maps]
    n_patches = orders[0].shape[1]
    n_steps = n_patches if steps is None else _positive_int(steps, "steps")
    if n_steps > n_patches:
        raise ValueError(
            f"steps must be at most the number of patches ({n_patches}), got {n_steps}"
        )
    base = _baseline(baseline, tuple(xs.shape[1:]))
    counts = np.rint(np.arange(n_steps + 1) * n_patches / n_steps).astype(int)
    parts, indices, offset = [], [], 0
    for x, o in zip(xs, orders, strict=True):
        start, end = (base, x) if insert else (x, base)
        images, index = _replaced(start, end, o, counts, patch_id)
        parts.append(images)
        indices.append(index + offset)  # (orders of this map, steps + 1) rows of the batch
        offset += len(images)
    probs = _class_probabilities(model, torch.cat(parts), batch_size)
    chosen = _targets(targets, n, probs.shape[1])
    if chosen is None:  # the class predicted for the intact input
        intact = [index[0, -1] if insert else index[0, 0] for index in indices]
        chosen = probs[intact].argmax(axis=1)
    # the curve of a map: the mean over its tie-break orders
    curves = np.stack([probs[index, c].mean(0) for index, c in zip(indices, chosen, strict=True)])
    return counts / n_patches, curves


_CURVE_PARAMETERS = """
    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``.
    inputs : numpy.ndarray or torch.Tensor
        ``(n, *channels, *spatial)``: tabular rows ``(n, F)``, signals ``(n, C, T)``,
        images ``(n, C, H, W)``.
    attributions : numpy.ndarray or torch.Tensor
        ``(n, *spatial)``, one map per input over the input's trailing axes (all channels of
        a position are replaced together), or one score per patch
        ``(n, *spatial / patch_size)``. Higher = more important (signed: pass ``abs`` of a
        map to rank by magnitude).
    patch_size : int, default 1
        Side of the replaced patches (squares of an image, segments of a signal); must
        divide every spatial side. 1 = position by position (feature by feature).
    targets : int or sequence of int, optional
        One class for all inputs or one per input; default: each input's predicted class.
    steps : int, optional
        Number of steps, at most the number of patches; default: one patch per step.
    baseline : float or array_like, default 0.0
        The value of "absent": a number, or an array of one input's shape (e.g. a blurred
        copy, the training mean).
    batch_size : int, default 256
        How many perturbed inputs are evaluated at once.
    tie_breaks : int, default 10
        Patches with exactly the same score have no order: the curve is the mean over the
        orders of the tied patches (:func:`tie_break_orders`), exact when there are at most
        ``tie_breaks`` of them, else a seeded random sample of that many. A constant map
        gives the expected curve of a random order.
    seed : int, default 0
        Seed of the random tie-breaks. A map's curve does not depend on the other maps.

    Returns
    -------
    fractions : numpy.ndarray
        float64 ``(steps + 1,)``, the fraction of patches replaced, from 0 to 1.
    probabilities : numpy.ndarray
        float64 ``(n, steps + 1)``, row ``i`` is the curve of input ``i`` (the mean over
        its tie-break orders).

    Raises
    ------
    ValueError
        For maps that are not one per input over the input's trailing axes (or its patch
        grid), a patch size that does not divide them, ``steps`` out of range, targets out
        of range, a baseline of the wrong shape, ``tie_breaks`` < 1, a negative ``seed``,
        or a model that does not return ``(n, n_classes)``.
"""


def deletion_curves(
    model: nn.Module,
    inputs: Any,
    attributions: Any,
    patch_size: int = 1,
    targets: Any = None,
    steps: int | None = None,
    baseline: float | Any = 0.0,
    batch_size: int = 256,
    tie_breaks: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Delete patches most important first and record the class probability, per input.

    Step ``k`` replaces the first ``round(k * n_patches / steps)`` patches of the map's
    order (highest score first) by ``baseline``; every step is evaluated with
    ``softmax(model(x))[target]`` in eval mode, without gradients, on the model's device,
    all inputs together in batches. A faithful map makes the probability fall fast: the
    area under the curve (:func:`area_under_curve`) is small. ``probabilities[:, 0]`` is the
    intact input's, ``probabilities[:, -1]`` the baseline's.
    """
    return _curves(model, inputs, attributions, False, patch_size, targets, steps, baseline,
                   batch_size, tie_breaks, seed)  # fmt: skip


def insertion_curves(
    model: nn.Module,
    inputs: Any,
    attributions: Any,
    patch_size: int = 1,
    targets: Any = None,
    steps: int | None = None,
    baseline: float | Any = 0.0,
    batch_size: int = 256,
    tie_breaks: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Insert patches most important first into the baseline and record the class probability.

    The mirror of :func:`deletion_curves` (Petsiuk et al., 2018): step ``k`` starts from
    ``baseline`` and puts back the first ``round(k * n_patches / steps)`` patches of the
    input in the map's order. A faithful map makes the probability rise fast: the area
    under the curve is large. ``probabilities[:, 0]`` is the baseline's,
    ``probabilities[:, -1]`` the intact input's; the default target is the class predicted
    for the intact input.
    """
    return _curves(model, inputs, attributions, True, patch_size, targets, steps, baseline,
                   batch_size, tie_breaks, seed)  # fmt: skip


deletion_curves.__doc__ = (deletion_curves.__doc__ or "") + _CURVE_PARAMETERS
insertion_curves.__doc__ = (insertion_curves.__doc__ or "") + _CURVE_PARAMETERS


def deletion_curve(
    model: nn.Module,
    image: Any,
    attribution: Any,
    patch_size: int = 1,
    target: int | None = None,
    steps: int | None = None,
    baseline: float | Any = 0.0,
    batch_size: int = 64,
    tie_breaks: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`deletion_curves` of one input.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``.
    image : numpy.ndarray or torch.Tensor
        One input without the batch axis, e.g. an image ``(C, H, W)`` or a signal ``(C, T)``.
    attribution : numpy.ndarray or torch.Tensor
        Its map over the input's trailing axes, e.g. ``(H, W)``, or one score per patch,
        e.g. a ViT's 4x4 token map with ``patch_size=7``.
    target : int, optional
        The class whose probability is tracked; default: the predicted class.
    patch_size, steps, baseline, batch_size, tie_breaks, seed :
        As in :func:`deletion_curves`.

    Returns
    -------
    fractions : numpy.ndarray
        float64 ``(steps + 1,)``.
    probabilities : numpy.ndarray
        float64 ``(steps + 1,)``.

    Raises
    ------
    ValueError
        As :func:`deletion_curves`, and for a ``target`` that is not an int.

    Examples
    --------
    >>> fractions, probs = deletion_curve(vit, x[0], rollout_4x4, patch_size=7)  # doctest: +SKIP
    >>> fractions[:3]  # doctest: +SKIP
    array([0.    , 0.0625, 0.125 ])
    """
    x = finite_array(image, "image")
    a = finite_array(attribution, "attribution")
    if x.ndim < 1 or a.ndim < 1 or a.ndim > x.ndim:
        raise ValueError(f"image and attribution: expected one input and its map over the "
                         f"input's trailing axes, got shapes {x.shape} and {a.shape}")  # fmt: skip
    if target is not None and (isinstance(target, bool)
                               or not isinstance(target, (int, np.integer))):  # fmt: skip
        raise ValueError(f"target must be a class index (int), got {target!r}")
    fractions, probabilities = deletion_curves(
        model, x[None], a[None], patch_size=patch_size, targets=target, steps=steps,
        baseline=baseline, batch_size=batch_size, tie_breaks=tie_breaks, seed=seed,
    )
    return fractions, probabilities[0]


def area_under_curve(fractions: Any, values: Any) -> float | np.ndarray:
    """Trapezoidal area under a curve ``values(fractions)`` (fractions increasing).

    Parameters
    ----------
    fractions : array_like
        1-D, at least 2 values, non-decreasing.
    values : array_like
        One curve of the length of ``fractions``, or a batch of curves ``(n, len)`` (e.g.
        the ``probabilities`` of :func:`deletion_curves`), one per row.

    Returns
    -------
    float or numpy.ndarray
        The area of one curve, or float64 ``(n,)``: one area per curve.

    Examples
    --------
    >>> area_under_curve([0.0, 0.5, 1.0], [1.0, 0.5, 0.0])
    0.5
    >>> area_under_curve([0.0, 1.0], [[1.0, 0.0], [1.0, 1.0]])
    array([0.5, 1. ])
    """
    f, v = finite_array(fractions, "fractions"), finite_array(values, "values")
    if f.ndim != 1 or v.ndim not in (1, 2) or v.shape[-1] != len(f) or len(f) < 2:
        raise ValueError(
            f"fractions and values: expected two 1-D arrays of the same length >= 2 (values "
            f"may also be a batch of such curves, one per row), got shapes {f.shape} and "
            f"{v.shape}"
        )
    if np.any(np.diff(f) < 0):
        raise ValueError("fractions must be non-decreasing")
    areas = np.sum(0.5 * (v[..., 1:] + v[..., :-1]) * np.diff(f), axis=-1)
    return float(areas) if v.ndim == 1 else areas


def deletion_auc(
    model: nn.Module,
    image: Any,
    attribution: Any,
    patch_size: int = 1,
    target: int | None = None,
    steps: int | None = None,
    baseline: float | Any = 0.0,
    tie_breaks: int = 10,
    seed: int = 0,
) -> float:
    """Area under the :func:`deletion_curve` (trapezoidal rule); lower = more faithful.

    Parameters are those of :func:`deletion_curve`. The AUC lies in [0, 1]; compare it with
    the AUC of random orders of the same patches (e.g. the mean over several random maps).

    Returns
    -------
    float

    Examples
    --------
    >>> deletion_auc(vit, x[0], gradcam_map, patch_size=7)  # doctest: +SKIP
    0.18
    """
    fractions, probabilities = deletion_curve(
        model, image, attribution, patch_size=patch_size, target=target, steps=steps,
        baseline=baseline, tie_breaks=tie_breaks, seed=seed,
    )
    return area_under_curve(fractions, probabilities)


def _as_tensor(values: Any, name: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu()
    return torch.as_tensor(finite_array(values, name), dtype=torch.float32)


def completeness_gap(
    model: nn.Module, inputs: Any, attributions: Any, baselines: Any, target: int | Sequence[int]
) -> np.ndarray:
    r"""Return ``sum(attributions) - (F(x) - F(x'))`` for each input.

    Integrated Gradients satisfies *completeness*: the attributions of an input
    add up to the difference of the explained output between the input and the
    baseline,

    .. math::

        \sum_i \mathrm{IG}_i(x) = F_c(x) - F_c(x').

    A numerical IG (a finite sum over ``n_steps``) meets it only approximately;
    the gap measures the error (captum calls it the *convergence delta*).

    Parameters
    ----------
    model : torch.nn.Module
        Returns outputs ``(n, n_outputs)``; evaluated without gradients on its
        own device. Put it in eval mode first.
    inputs : torch.Tensor or numpy.ndarray
        ``(n, ...)``, the explained inputs ``x``.
    attributions : torch.Tensor or numpy.ndarray
        Same shape as ``inputs``.
    baselines : float, torch.Tensor or numpy.ndarray
        ``x'``: a number (e.g. 0.0), or a tensor of the shape of ``inputs`` or
        of one input with a leading axis of 1 (broadcast to all inputs).
    target : int or sequence of int
        The explained output index ``c``, one for all inputs or one per input.

    Returns
    -------
    numpy.ndarray
        float64 ``(n,)``: the gap per input (0 = complete).

    Raises
    ------
    ValueError
        If shapes do not match or a target is out of range.

    Examples
    --------
    >>> model = nn.Linear(3, 2)  # doctest: +SKIP
    >>> x = torch.ones(1, 3)  # doctest: +SKIP
    >>> ig = (x - 0) * model.weight[1]  # IG is exact for a linear model  # doctest: +SKIP
    >>> completeness_gap(model, x, ig, 0.0, target=1)  # doctest: +SKIP
    array([0.])
    """
    device = model_device(model)
    x = _as_tensor(inputs, "inputs")
    attr = _as_tensor(attributions, "attributions")
    if x.ndim < 2:
        raise ValueError(f"inputs: expected a batch (n, ...), got shape {tuple(x.shape)}")
    if attr.shape != x.shape:
        raise ValueError(
            f"attributions must have the shape of inputs {tuple(x.shape)}, "
            f"got {tuple(attr.shape)}"
        )
    if isinstance(baselines, (int, float)) and not isinstance(baselines, bool):
        base = torch.full_like(x, float(baselines))
    else:
        base = _as_tensor(baselines, "baselines")
        if base.shape != x.shape and not (base.shape[0] == 1 and base.shape[1:] == x.shape[1:]):
            raise ValueError(
                f"baselines: expected a number or shape {tuple(x.shape)} or "
                f"(1, {', '.join(map(str, x.shape[1:]))}), got {tuple(base.shape)}"
            )
        base = base.expand_as(x)
    targets = np.broadcast_to(np.asarray(target), (len(x),)) if np.ndim(target) == 0 else None
    if targets is None:
        targets = np.asarray(target)
        if targets.shape != (len(x),):
            raise ValueError(
                f"target: expected one int or {len(x)} ints, got shape {targets.shape}"
            )
    if targets.dtype.kind not in "iu":
        raise TypeError(f"target: expected integers, got dtype {targets.dtype}")
    with torch.no_grad():
        out_x = model(x.to(device)).cpu()
        out_base = model(base.to(device)).cpu()
    if out_x.ndim != 2:
        raise ValueError(f"model output: expected shape (n, n_outputs), got {tuple(out_x.shape)}")
    if targets.min() < 0 or targets.max() >= out_x.shape[1]:
        raise ValueError(
            f"target must lie in [0, {out_x.shape[1] - 1}], got {sorted(set(targets.tolist()))}"
        )
    idx = torch.as_tensor(targets.astype(np.int64))[:, None]
    difference = (out_x.gather(1, idx) - out_base.gather(1, idx))[:, 0].double()
    total = attr.reshape(len(x), -1).double().sum(1)
    return (total - difference).numpy()
