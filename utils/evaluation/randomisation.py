"""Randomisation and agreement: do two maps rank the input the same way?

* :func:`rank_correlation` and :func:`agreement_matrix`: Spearman rank
  correlation between maps, to compare methods or a map before and after a
  change of the model or the input.
* :func:`randomize_layers`: a copy of a model with re-initialised layers, the
  model-randomisation test of Adebayo et al. (2018, *Sanity Checks for Saliency
  Maps*, NeurIPS).

Examples
--------
>>> a = np.array([[0.0, 1.0], [2.0, 3.0]])
>>> rank_correlation(a, 10 * a)                 # same ranking
1.0
>>> rank_correlation(a, -a, absolute=False)     # reversed ranking
-1.0
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn

from .._common import describe, finite_array, integer, model_device


def _ranks(values: np.ndarray) -> np.ndarray:
    return rankdata(values, method="average")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def rank_correlation(map_a: Any, map_b: Any, absolute: bool = True) -> float:
    """Spearman rank correlation between two attribution maps of one input.

    The maps are flattened; tied values get their average rank. Rank
    correlation ignores the scale of a map, so maps of different methods (or of
    a model before and after randomisation) can be compared directly.

    Parameters
    ----------
    map_a, map_b : numpy.ndarray or torch.Tensor
        Maps of the same shape, e.g. ``(H, W)`` or ``(C, H, W)``.
    absolute : bool, default True
        Compare ``|map|`` (importance regardless of sign), as Adebayo et al.
        (2018) do for their main results; ``False`` compares signed values.

    Returns
    -------
    float
        In [-1, 1]; ``nan`` if one map is constant.

    Raises
    ------
    ValueError
        If the shapes differ or a map has fewer than two values.

    Examples
    --------
    >>> rank_correlation([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    0.5
    """
    a, b = finite_array(map_a, "map_a"), finite_array(map_b, "map_b")
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape, got {a.shape} and {b.shape}")
    if a.size < 2:
        raise ValueError(f"maps need at least 2 values, got shape {a.shape}")
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return _pearson(_ranks(a.ravel()), _ranks(b.ravel()))


def mean_rank_correlation(maps_a: Any, maps_b: Any, absolute: bool = True) -> float:
    """Average :func:`rank_correlation` over a batch of maps ``(n, ...)``.

    Pairs ``(maps_a[i], maps_b[i])`` are compared image by image; constant maps
    (``nan``) are left out of the mean.

    Parameters
    ----------
    maps_a, maps_b : numpy.ndarray or torch.Tensor
        Same shape ``(n, ...)``, one map per image.
    absolute : bool, default True
        As in :func:`rank_correlation`.

    Returns
    -------
    float
        The mean correlation; ``nan`` if every pair has a constant map.
    """
    a, b = finite_array(maps_a, "maps_a"), finite_array(maps_b, "maps_b")
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(
            f"expected two batches of maps (n, ...) of the same shape, got {a.shape} and {b.shape}"
        )
    values = np.array([rank_correlation(a[i], b[i], absolute) for i in range(len(a))])
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def agreement_matrix(maps: Mapping[str, Any], absolute: bool = True) -> pd.DataFrame:
    """Mean rank correlation between the maps of several methods, as a matrix.

    Parameters
    ----------
    maps : mapping of str to array
        Method name -> maps ``(n, H, W)`` (or ``(n, C, H, W)``) of the *same*
        ``n`` images, in the same order and at the same resolution (upsample
        coarse maps such as Grad-CAM's to the input size first).
    absolute : bool, default True
        As in :func:`rank_correlation`.

    Returns
    -------
    pandas.DataFrame
        Symmetric, methods x methods, 1 on the diagonal; entry ``(i, j)`` is
        :func:`mean_rank_correlation` of methods ``i`` and ``j``.

    Raises
    ------
    ValueError
        If fewer than two methods are given or their shapes differ.
    """
    if not isinstance(maps, Mapping):
        raise TypeError(f"maps: expected a dict name -> maps, got {type(maps).__name__}")
    if len(maps) < 2:
        raise ValueError(f"maps: expected at least 2 methods, got {len(maps)}")
    arrays = {str(name): finite_array(value, f"maps[{name!r}]") for name, value in maps.items()}
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"every method needs maps of the same shape (n, H, W), got {shapes}")
    names = list(arrays)
    matrix = np.eye(len(names))
    for i, first in enumerate(names):
        for j in range(i + 1, len(names)):
            value = mean_rank_correlation(arrays[first], arrays[names[j]], absolute)
            matrix[i, j] = matrix[j, i] = value
    return pd.DataFrame(matrix, index=names, columns=names)


def randomize_layers(model: nn.Module, layers: str | Sequence[str], seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` whose named layers are re-initialised at random.

    The model-randomisation test of Adebayo et al. (2018): if an explanation
    barely changes when the weights it should depend on are destroyed, it does
    not explain the model. Each layer gets fresh weights from its own
    ``reset_parameters()`` (PyTorch's default initialisation), drawn on the
    CPU with ``seed`` so the result is the same on every device; the original
    model is not changed.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str or sequence of str
        Names as in ``model.named_modules()``, e.g. ``"classifier.2"`` (the
        last linear layer of :class:`utils.models.MnistCNN`). Give several names
        for a *cascading* randomisation.
    seed : int, default 0

    Returns
    -------
    torch.nn.Module
        The copy, on the model's device, in the model's train/eval mode.

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``layers`` not names or ``seed`` not an integer.
    ValueError
        If a name does not exist (the message lists the layers that can be
        reset), a layer has no ``reset_parameters`` or ``seed`` is negative.

    Examples
    --------
    >>> random_head = randomize_layers(model, "classifier.2")  # doctest: +SKIP
    """
    device = model_device(model)
    if not isinstance(layers, (str, list, tuple)):
        raise TypeError(f"layers: expected a layer name or a list of names, got {describe(layers)}")
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"layers: expected a layer name or a list of names, got {layers!r}")
    seed = integer(seed, "seed", minimum=0)
    modules = dict(model.named_modules())
    resettable = [n for n, m in modules.items() if n and hasattr(m, "reset_parameters")]
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown}; layers with weights: {resettable}")
    without = [n for n in names if n not in resettable]
    if without:
        raise ValueError(
            f"layer(s) {without} have no parameters to reset; choose from {resettable}"
        )
    copied = copy.deepcopy(model).cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in names:
            copied.get_submodule(name).reset_parameters()
    return copied.to(device)
