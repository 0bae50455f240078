r"""Deletion test: does removing what a map calls important hurt the prediction?

An attribution map ranks the regions of an input. The *deletion* test (Petsiuk et al.,
2018, *RISE: Randomized Input Sampling for Explanation of Black-box Models*, BMVC; the
"most relevant first" region perturbation of Samek et al., 2017, *Evaluating the
visualization of what a deep neural network has learned*, IEEE TNNLS) removes the regions
in that order, replacing them by a baseline, and records the probability of the explained
class after each step. A faithful map makes the probability fall fast, so the area under
the curve (AUC) is small:

.. math::

    p_k = \mathrm{softmax}\big(f(x^{(k)})\big)_c,\qquad
    \mathrm{AUC} = \sum_{k=1}^{K} \tfrac12 (p_{k-1} + p_k)\,(\phi_k - \phi_{k-1}),

with :math:`x^{(k)}` the input after deleting the first regions up to step :math:`k` and
:math:`\phi_k` the fraction of regions deleted. Compare with the AUC of a random order.
Regions with tied scores are deleted in every order of the tie (or a seeded sample of
them) and the curves averaged, so a map is never rewarded or punished for the order in
which the code happens to list its tied regions.

===========================  =============================================================
function                     what it does
===========================  =============================================================
:func:`patch_scores`         a pixel map ``(H, W)`` -> one score per patch ``(H/p, W/p)``
:func:`deletion_curve`       fractions deleted and class probabilities after each step
:func:`deletion_curves`      the same for a batch of images (one map each), evaluated together
:func:`deletion_auc`         the area under that curve (lower = more faithful)
:func:`tie_break_orders`     the deletion orders of a map whose patches tie (averaged over)
===========================  =============================================================

Examples
--------
>>> fractions, probs = deletion_curve(model, x[0], grad_cam_map, patch_size=7)  # doctest: +SKIP
>>> deletion_auc(model, x[0], grad_cam_map, patch_size=7)  # doctest: +SKIP
0.21
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import finite_array, model_device


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def patch_scores(attribution: Any, patch_size: int) -> np.ndarray:
    """Average a pixel attribution map over non-overlapping square patches.

    Parameters
    ----------
    attribution : numpy.ndarray or torch.Tensor
        ``(H, W)`` map; ``H`` and ``W`` must be multiples of ``patch_size``.
    patch_size : int
        Side of a patch in pixels (1 returns the map unchanged, as float64).

    Returns
    -------
    numpy.ndarray
        float64 ``(H / patch_size, W / patch_size)``: the mean of each patch.

    Raises
    ------
    ValueError
        If the map is not 2-D or its sides are not multiples of ``patch_size``.

    Examples
    --------
    >>> patch_scores(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    p = _positive_int(patch_size, "patch_size")
    a = finite_array(attribution, "attribution")
    if a.ndim != 2 or a.shape[0] % p or a.shape[1] % p:
        raise ValueError(
            f"attribution: expected a 2-D map (H, W) with H and W multiples of "
            f"patch_size={p}, got shape {a.shape}"
        )
    h, w = a.shape[0] // p, a.shape[1] // p
    return a.reshape(h, p, w, p).mean(axis=(1, 3))


def _image(image: Any, name: str = "image") -> torch.Tensor:
    x = torch.as_tensor(finite_array(image, name), dtype=torch.float32)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        raise ValueError(
            f"{name}: expected one image (C, H, W) or (1, C, H, W), got shape {tuple(x.shape)}"
        )
    return x


def _patch_scores(attribution: Any, image_hw: tuple[int, int], patch_size: int) -> np.ndarray:
    """Return one score per patch, flattened row-major over the patch grid."""
    H, W = image_hw
    if H % patch_size or W % patch_size:
        raise ValueError(
            f"patch_size={patch_size} must divide the image's height and width, "
            f"got an image of {H}x{W}"
        )
    grid = (H // patch_size, W // patch_size)
    a = finite_array(attribution, "attribution")
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.shape == (H, W):
        scores = patch_scores(a, patch_size)
    elif a.shape == grid:
        scores = a
    else:
        raise ValueError(
            f"attribution: expected a pixel map {(H, W)} or one score per patch {grid} "
            f"(patch_size={patch_size}), got shape {a.shape}"
        )
    return scores.ravel()


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


def _deleted_images(
    x: torch.Tensor, base: torch.Tensor, orders: np.ndarray, counts: np.ndarray, p: int
) -> tuple[torch.Tensor, np.ndarray]:
    """Delete the first ``counts[k]`` patches of each order from ``x``.

    Returns the distinct deleted images ``(m, C, H, W)`` and ``(len(orders), len(counts))``
    indices into them. Two steps give the same image when their deleted sets differ only in
    patches that already equal the baseline (e.g. empty patches of a black-background digit),
    so each distinct image is evaluated once, however many tie-break orders lead to it.
    """
    _, H, W = x.shape
    grid = (H // p, W // p)
    differs = (x != base).any(0).reshape(grid[0], p, grid[1], p).any(axis=(1, 3)).numpy().ravel()
    position: dict[bytes, int] = {}
    masks = []
    index = np.empty((len(orders), len(counts)), dtype=np.int64)
    for o, order in enumerate(orders):
        deleted = np.zeros(grid[0] * grid[1], dtype=bool)
        for k, count in enumerate(counts):
            deleted[order[:count]] = True
            key = (deleted & differs).tobytes()
            if key not in position:
                position[key] = len(masks)
                masks.append(deleted.reshape(grid).repeat(p, axis=0).repeat(p, axis=1))
            index[o, k] = position[key]
    mask = torch.as_tensor(np.stack(masks), dtype=x.dtype)[:, None]
    return x[None] * (1 - mask) + base[None] * mask, index


def deletion_curves(
    model: nn.Module,
    images: Any,
    attributions: Any,
    patch_size: int = 1,
    targets: Any = None,
    steps: int | None = None,
    baseline: float | Any = 0.0,
    batch_size: int = 256,
    tie_breaks: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion curves of a batch of images, one map per image (see :func:`deletion_curve`).

    All perturbed images of all inputs are evaluated together in batches of ``batch_size``,
    which is much faster than calling :func:`deletion_curve` image by image.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``.
    images : numpy.ndarray or torch.Tensor
        ``(n, C, H, W)``.
    attributions : numpy.ndarray or torch.Tensor
        ``(n, H, W)`` pixel maps or ``(n, H / patch_size, W / patch_size)`` patch scores.
    patch_size, steps, baseline, tie_breaks, seed :
        As in :func:`deletion_curve`; a baseline image has shape ``(C, H, W)`` (the same for
        all inputs). A map's curve does not depend on the other maps of the batch.
    targets : int or sequence of int, optional
        One class for all images or one per image; default: each image's predicted class.
    batch_size : int, default 256
        How many perturbed images are evaluated at once.

    Returns
    -------
    fractions : numpy.ndarray
        float64 ``(steps + 1,)``, the fraction of patches deleted, from 0 to 1.
    probabilities : numpy.ndarray
        float64 ``(n, steps + 1)``, row ``i`` is the curve of image ``i``.

    Raises
    ------
    ValueError
        As :func:`deletion_curve`, and if the numbers of images, maps and targets differ.
    """
    device = model_device(model)
    p = _positive_int(patch_size, "patch_size")
    xs = torch.as_tensor(finite_array(images, "images"), dtype=torch.float32)
    if xs.ndim != 4 or len(xs) == 0:
        raise ValueError(f"images: expected a non-empty batch (n, C, H, W), got shape "
                         f"{tuple(xs.shape)}")  # fmt: skip
    maps = finite_array(attributions, "attributions")
    if maps.ndim != 3 or len(maps) != len(xs):
        raise ValueError(
            f"attributions: expected one 2-D map per image, shape ({len(xs)}, h, w), "
            f"got shape {maps.shape}"
        )
    n, C, H, W = xs.shape
    tie_breaks = _positive_int(tie_breaks, "tie_breaks")
    seed = _non_negative_int(seed, "seed")
    orders = [tie_break_orders(_patch_scores(m, (H, W), p), tie_breaks, seed) for m in maps]
    n_patches = orders[0].shape[1]
    n_steps = n_patches if steps is None else _positive_int(steps, "steps")
    if n_steps > n_patches:
        raise ValueError(
            f"steps must be at most the number of patches ({n_patches}), got {n_steps}"
        )
    batch_size = _positive_int(batch_size, "batch_size")
    if isinstance(baseline, (int, float, np.floating)) and not isinstance(baseline, bool):
        base = torch.full_like(xs[0], float(baseline))
    else:
        base = _image(baseline, "baseline")
        if base.shape != xs[0].shape:
            raise ValueError(
                f"baseline: expected a number or an image of shape {tuple(xs[0].shape)}, "
                f"got shape {tuple(base.shape)}"
            )
    counts = np.rint(np.arange(n_steps + 1) * n_patches / n_steps).astype(int)
    parts, indices, offset = [], [], 0
    for x, o in zip(xs, orders, strict=True):
        deleted, index = _deleted_images(x, base, o, counts, p)
        parts.append(deleted)
        indices.append(index + offset)  # (orders of this map, steps + 1) rows of the batch
        offset += len(deleted)
    batch = torch.cat(parts)

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = torch.cat([model(chunk.to(device)).cpu()
                                for chunk in batch.split(batch_size)])  # fmt: skip
    finally:
        model.train(was_training)
    if logits.ndim != 2:
        raise ValueError(
            f"model output: expected logits (n, n_classes), got shape {tuple(logits.shape)}"
        )
    n_classes = logits.shape[1]
    probs = torch.softmax(logits.double(), dim=1).numpy()  # (distinct images, n_classes)
    if targets is None:
        chosen = np.array([probs[index[0, 0]].argmax() for index in indices])
    else:
        chosen = np.atleast_1d(np.asarray(targets))
        if chosen.dtype.kind not in "iu" or chosen.ndim != 1 or len(chosen) not in (1, n):
            raise ValueError(f"targets: expected one class index or {n} of them (one per "
                             f"image), got {targets!r}")  # fmt: skip
        if chosen.min() < 0 or chosen.max() >= n_classes:
            raise ValueError(
                f"target must be a class index in [0, {n_classes - 1}], got {targets!r}"
            )
        chosen = np.broadcast_to(chosen, (n,))
    # the curve of a map: the mean over its tie-break orders
    curves = np.stack([probs[index, c].mean(0) for index, c in zip(indices, chosen, strict=True)])
    return counts / n_patches, curves

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
    """Delete patches in the order of an attribution map and record the class probability.

    Patches are ranked by their score (the mean of the map over the patch, or the map's
    own value if it has one value per patch), highest first. Step ``k`` replaces the
    first ``round(k * n_patches / steps)`` patches of that order by ``baseline`` (all
    channels). Patches with exactly the same score (e.g. the zeros of a map after a ReLU;
    all patches of an all-zero map) have no order: the curve is the mean over the orders
    of the tied patches (:func:`tie_break_orders`), exact when there are at most
    ``tie_breaks`` of them, else a seeded random sample. A map without ties gives the
    curve of its plain ranking; a constant map gives the expected curve of a random order.
    Every step is evaluated with ``softmax(model(x))[target]`` in eval mode, without
    gradients, on the model's device.
    For many images at once use :func:`deletion_curves`.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``.
    image : numpy.ndarray or torch.Tensor
        One image ``(C, H, W)`` (or ``(1, C, H, W)``).
    attribution : numpy.ndarray or torch.Tensor
        Higher = more important. Either a pixel map ``(H, W)`` (averaged per patch) or one
        score per patch ``(H / patch_size, W / patch_size)``, e.g. a ViT's 4x4 token map.
    patch_size : int, default 1
        Side of the deleted squares in pixels; must divide ``H`` and ``W``
        (1 = pixel by pixel; a ViT's patch size deletes whole tokens).
    target : int, optional
        The class whose probability is tracked; default: the class the model predicts
        for the intact image.
    steps : int, optional
        Number of deletion steps, at most the number of patches; default: one patch per
        step.
    baseline : float or array_like, default 0.0
        The value deleted pixels get: a number, or an image of shape ``(C, H, W)``
        (e.g. a blurred copy of the image).
    batch_size : int, default 64
        How many perturbed images are evaluated at once.
    tie_breaks : int, default 10
        At most this many orders of tied patches are averaged (see above).
    seed : int, default 0
        Seed of the random tie-breaks (used only when there are more orders than
        ``tie_breaks``).

    Returns
    -------
    fractions : numpy.ndarray
        float64 ``(steps + 1,)``, the fraction of patches deleted, from 0 to 1.
    probabilities : numpy.ndarray
        float64 ``(steps + 1,)``, the probability of ``target`` after each step (the mean
        over the tie-break orders);
        ``probabilities[0]`` is the intact image's, ``probabilities[-1]`` the baseline's.

    Raises
    ------
    ValueError
        For a map whose shape fits neither the image nor its patch grid, a patch size
        that does not divide the image, ``steps`` out of range, a ``target`` out of range,
        a baseline of the wrong shape, ``tie_breaks`` < 1, a negative ``seed``, or a model
        that does not return ``(n, n_classes)``.

    Examples
    --------
    >>> fractions, probs = deletion_curve(vit, x[0], rollout_4x4, patch_size=7)  # doctest: +SKIP
    >>> fractions[:3]  # doctest: +SKIP
    array([0.    , 0.0625, 0.125 ])
    """
    model_device(model)
    x = _image(image)
    a = finite_array(attribution, "attribution")
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(
            f"attribution: expected one 2-D map, a pixel map {tuple(x.shape[1:])} or one score "
            f"per patch, got shape {a.shape}"
        )
    if target is not None and (isinstance(target, bool)
                               or not isinstance(target, (int, np.integer))):  # fmt: skip
        raise ValueError(f"target must be a class index (int), got {target!r}")
    fractions, probabilities = deletion_curves(
        model, x[None], a[None], patch_size=patch_size, targets=target, steps=steps,
        baseline=baseline, batch_size=batch_size, tie_breaks=tie_breaks, seed=seed,
    )
    return fractions, probabilities[0]


def area_under_curve(fractions: Any, values: Any) -> float:
    """Trapezoidal area under a curve ``values(fractions)`` (fractions increasing).

    Parameters
    ----------
    fractions, values : array_like
        1-D, same length (at least 2), ``fractions`` non-decreasing.

    Returns
    -------
    float

    Examples
    --------
    >>> area_under_curve([0.0, 0.5, 1.0], [1.0, 0.5, 0.0])
    0.5
    """
    f, v = finite_array(fractions, "fractions"), finite_array(values, "values")
    if f.ndim != 1 or f.shape != v.shape or len(f) < 2:
        raise ValueError(
            f"fractions and values: expected two 1-D arrays of the same length >= 2, "
            f"got shapes {f.shape} and {v.shape}"
        )
    if np.any(np.diff(f) < 0):
        raise ValueError("fractions must be non-decreasing")
    return float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(f)))


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
