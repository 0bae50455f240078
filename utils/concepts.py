"""Concept-based explanations: TCAV and regression concept vectors.

A *concept activation vector* (CAV) is the normal of a linear classifier that separates the
activations of concept examples from those of random examples at one layer; the directional
derivative of a class logit along it says whether the concept raises the class score (Kim et
al., 2018, *Interpretability Beyond Feature Attribution: Quantitative Testing with Concept
Activation Vectors (TCAV)*, ICML). A *regression concept vector* (RCV) is the direction of a
linear regression of a continuous concept measure on the activations (Graziani et al., 2018,
*Regression Concept Vectors for Bidirectional Explanations in Histopathology*, iMIMIC workshop
at MICCAI).

==================================  =========================================================
function                            returns
==================================  =========================================================
:func:`layer_gradients`             activations and logit gradients at a layer, ``(n, d)``
:func:`concept_activation_vector`   unit CAV (logistic regression), pointing to the concept
:func:`concept_sensitivity`         directional derivatives ``S(x) = grad . v / |v|``
:func:`tcav_score`                  share of inputs with ``S(x) > 0``
:func:`tcav_p_value`                two-sided t-test of concept vs random TCAV scores
:func:`regression_concept_vector`   unit RCV (ridge regression) and its held-out R^2
:func:`stroke_thickness`            ink area / skeleton length of binarised strokes (pixels)
==================================  =========================================================

Examples
--------
>>> rng = np.random.default_rng(0)
>>> concept = rng.normal(size=(40, 5)) + [2, 0, 0, 0, 0]
>>> random = rng.normal(size=(40, 5))
>>> v = concept_activation_vector(concept, random)
>>> bool(v[0] > 0.9)          # the CAV points along the first axis
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import describe, finite_array, finite_batch, integer, model_device, real_number

if TYPE_CHECKING:
    from torch import nn


def _matrix(values: Any, name: str, min_rows: int = 1) -> np.ndarray:
    """A finite float64 array ``(n, d)`` with at least ``min_rows`` rows."""
    array = finite_array(values, name)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_examples, n_features), got shape "
                         f"{array.shape}; flatten the activations first")  # fmt: skip
    if len(array) < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {len(array)}")
    return array


def _vector(values: Any, name: str, length: int | None = None, min_length: int = 1) -> np.ndarray:
    array = finite_array(values, name)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {array.shape}")
    if length is not None and len(array) != length:
        raise ValueError(f"{name}: expected {length} values, got {len(array)}")
    if len(array) < min_length:
        raise ValueError(f"{name}: expected at least {min_length} values, got {len(array)}")
    return array


def _unit(direction: Any, n_features: int) -> np.ndarray:
    v = _vector(direction, "direction", length=n_features)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError("direction: expected a non-zero vector, got all zeros")
    return v / norm


def layer_gradients(
    model: nn.Module, layer: Any, x: Any, target: int | Sequence[int], batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Return a layer's activations and the gradient of a class logit with respect to them.

    Parameters
    ----------
    model : torch.nn.Module
        Used in eval mode (its mode is restored afterwards).
    layer : str or torch.nn.Module
        A name from :func:`utils.layer_names` or the module itself.
    x : numpy.ndarray or torch.Tensor
        Input batch ``(n, ...)``.
    target : int or sequence of int
        The logit to differentiate: one class for all inputs or one per input.
    batch_size : int, default 256

    Returns
    -------
    activations, gradients : numpy.ndarray
        float64 ``(n, d)`` each, the layer output flattened per input, and
        :math:`\\partial F_{target}(x) / \\partial f_l(x)` flattened the same way.

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``x`` not numbers or ``target`` not integers.
    ValueError
        For an unknown layer, an empty or non-finite ``x``, a class outside the logits, a
        ``target`` list of the wrong length or a bad ``batch_size``.
    """
    import torch

    from .hooks import get_layer

    device = model_device(model)
    _, module = get_layer(model, layer)
    x = finite_batch(x, "x")
    batch_size = integer(batch_size, "batch_size", minimum=1)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer, Sequence, np.ndarray)) \
            or isinstance(target, str):  # fmt: skip
        raise TypeError(f"target: expected a class index or a sequence of them, got "
                        f"{describe(target)}")  # fmt: skip
    if isinstance(target, (int, np.integer)):
        targets = np.full(len(x), int(target))
    else:
        targets = np.asarray(target)
        if targets.ndim != 1 or targets.dtype.kind not in "iu":
            raise TypeError(f"target: expected integers, got {describe(target)}")
        if len(targets) != len(x):
            raise ValueError(f"target: expected {len(x)} classes (one per input), got "
                             f"{len(targets)}")  # fmt: skip
    store: dict[str, torch.Tensor] = {}

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer: its output is {type(output).__name__}, not a tensor")
        store["a"] = output

    was_training = model.training
    model.eval()
    handle = module.register_forward_hook(hook)
    activations, gradients = [], []
    try:
        for start in range(0, len(x), batch_size):
            chunk = x[start : start + batch_size].to(device)
            logits = model(chunk)
            rows = torch.as_tensor(targets[start : start + len(chunk)], device=logits.device)
            if int(rows.min()) < 0 or int(rows.max()) >= logits.shape[1]:
                raise ValueError(f"target: expected classes in [0, {logits.shape[1] - 1}], "
                                 f"got {targets.min()}..{targets.max()}")  # fmt: skip
            (grad,) = torch.autograd.grad(logits.gather(1, rows[:, None]).sum(), store["a"])
            activations.append(store["a"].detach().flatten(1).cpu().double().numpy())
            gradients.append(grad.detach().flatten(1).cpu().double().numpy())
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(activations), np.concatenate(gradients)


def concept_activation_vector(concept: Any, random: Any, C: float = 1.0) -> np.ndarray:
    """Return the unit CAV: the normal of a logistic regression, concept vs random.

    The classifier is scikit-learn's ``LogisticRegression`` (L2 penalty ``1 / C``, L-BFGS,
    deterministic) trained with label 1 for the concept examples and 0 for the random ones;
    the CAV is its weight vector divided by its norm, so it points *towards* the concept.

    Parameters
    ----------
    concept, random : array-like
        Activations ``(n_concept, d)`` and ``(n_random, d)``, at least 2 rows each.
    C : float, default 1.0
        Inverse regularisation strength, ``> 0``.

    Returns
    -------
    numpy.ndarray
        ``(d,)``, unit length.

    Raises
    ------
    TypeError
        If the activations are not numbers or ``C`` is not a number.
    ValueError
        For arrays that are not 2-D, differ in ``d``, have fewer than 2 rows or non-finite
        values, or ``C <= 0``.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    concept = _matrix(concept, "concept", min_rows=2)
    random = _matrix(random, "random", min_rows=2)
    if concept.shape[1] != random.shape[1]:
        raise ValueError(f"random: expected {concept.shape[1]} features like concept, got "
                         f"{random.shape[1]}")  # fmt: skip
    C = real_number(C, "C", minimum=0.0, strict=True)
    X = np.vstack([concept, random])
    y = np.r_[np.ones(len(concept)), np.zeros(len(random))]
    with threadpool_limits(1):  # a small problem: more BLAS threads only add overhead
        weights = LogisticRegression(C=C, max_iter=5000).fit(X, y).coef_[0]
    norm = float(np.linalg.norm(weights))
    if norm == 0.0:
        raise ValueError("concept: the classifier found no direction (the two sets are "
                         "identical?)")  # fmt: skip
    return weights / norm


def concept_sensitivity(gradients: Any, direction: Any) -> np.ndarray:
    r"""Return the directional derivatives :math:`S(x) = \nabla F(x) \cdot v / \lVert v \rVert`.

    Parameters
    ----------
    gradients : array-like
        ``(n, d)`` gradients of a class logit at a layer (:func:`layer_gradients`).
    direction : array-like
        ``(d,)`` a CAV or RCV; it is divided by its norm.

    Returns
    -------
    numpy.ndarray
        ``(n,)``: positive where moving the activations along the concept raises the logit.

    Raises
    ------
    TypeError
        If the inputs are not numbers.
    ValueError
        For wrong shapes, non-finite values or an all-zero direction.
    """
    gradients = _matrix(gradients, "gradients")
    return gradients @ _unit(direction, gradients.shape[1])


def tcav_score(gradients: Any, direction: Any) -> float:
    """Return the TCAV score: the share of inputs whose concept sensitivity is positive.

    Kim et al. (2018): :math:`\\mathrm{TCAV} = |\\{x : S(x) > 0\\}| / |X|`, computed over
    the inputs of one class with the gradients of that class's logit. 0.5 is what a
    direction unrelated to the class would give on average, but single random
    directions often score near 0 or 1: compare with random CAVs (:func:`tcav_p_value`).

    Parameters
    ----------
    gradients : array-like
        ``(n, d)`` gradients of the class logit at the layer.
    direction : array-like
        ``(d,)`` the CAV.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    TypeError, ValueError
        As :func:`concept_sensitivity`.
    """
    return float(np.mean(concept_sensitivity(gradients, direction) > 0))


def tcav_p_value(concept_scores: Any, random_scores: Any) -> float:
    """Two-sided t-test: do the concept's TCAV scores differ from those of random CAVs?

    Kim et al. (2018) train the CAV many times, each against another random set, and test
    the scores against those of random CAVs (random set vs random set) with a two-sided
    Student's t-test (``scipy.stats.ttest_ind``, equal variances, as the reference TCAV
    implementation). If both samples are constant (no variance), the p-value is 1.0 for
    equal and 0.0 for different values.

    Parameters
    ----------
    concept_scores, random_scores : array-like
        ``(n_runs,)`` TCAV scores in [0, 1], at least 2 each.

    Returns
    -------
    float
        The p-value in [0, 1]; compare it with a threshold such as 0.05 (divided by the
        number of concepts tested, Bonferroni).

    Raises
    ------
    TypeError
        If the scores are not numbers.
    ValueError
        For scores that are not 1-D, fewer than 2, non-finite or outside [0, 1].
    """
    import warnings

    from scipy import stats

    concept_scores = _vector(concept_scores, "concept_scores", min_length=2)
    random_scores = _vector(random_scores, "random_scores", min_length=2)
    for name, scores in (("concept_scores", concept_scores), ("random_scores", random_scores)):
        if scores.min() < 0 or scores.max() > 1:
            raise ValueError(f"{name}: expected TCAV scores in [0, 1], got values in "
                             f"[{scores.min():.3g}, {scores.max():.3g}]")  # fmt: skip
    if np.ptp(concept_scores) == 0 and np.ptp(random_scores) == 0:
        return 1.0 if concept_scores[0] == random_scores[0] else 0.0
    with warnings.catch_warnings():  # one constant sample (all 1.0) is fine for the pooled test
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(concept_scores, random_scores).pvalue)


def regression_concept_vector(
    activations: Any, values: Any, test_activations: Any, test_values: Any, alpha: float = 1.0,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """Return the unit RCV of a continuous concept and the regression's R^2 on held-out data.

    Fits scikit-learn's ``Ridge(alpha)`` (with intercept) of the concept measure on the
    activations; the RCV is its weight vector divided by its norm, pointing towards larger
    values of the concept (Graziani et al., 2018, who use least squares; the ridge penalty
    keeps the fit stable when there are more features than examples).

    Parameters
    ----------
    activations : array-like
        ``(n, d)`` training activations.
    values : array-like
        ``(n,)`` the concept measure of each training example.
    test_activations, test_values : array-like
        ``(m, d)`` and ``(m,)`` held-out examples for the R^2.
    alpha : float, default 1.0
        Ridge penalty, ``>= 0``.

    Returns
    -------
    direction : numpy.ndarray
        ``(d,)``, unit length.
    r2 : float
        Coefficient of determination on the held-out examples (``<= 1``; negative when the
        fit is worse than predicting the mean).

    Raises
    ------
    TypeError
        If the inputs are not numbers.
    ValueError
        For mismatched shapes, fewer than 3 examples, non-finite values, constant values,
        a negative ``alpha`` or an all-zero fit.
    """
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from threadpoolctl import threadpool_limits

    activations = _matrix(activations, "activations", min_rows=3)
    values = _vector(values, "values", length=len(activations))
    test_activations = _matrix(test_activations, "test_activations", min_rows=2)
    if test_activations.shape[1] != activations.shape[1]:
        raise ValueError(f"test_activations: expected {activations.shape[1]} features like "
                         f"activations, got {test_activations.shape[1]}")  # fmt: skip
    test_values = _vector(test_values, "test_values", length=len(test_activations))
    alpha = real_number(alpha, "alpha", minimum=0.0)
    for name, v in (("values", values), ("test_values", test_values)):
        if np.ptp(v) == 0:
            raise ValueError(f"{name}: expected a concept measure that varies, got a constant")
    with threadpool_limits(1):  # more BLAS threads only add overhead at this size
        model = Ridge(alpha=alpha).fit(activations, values)
    norm = float(np.linalg.norm(model.coef_))
    if norm == 0.0:
        raise ValueError("activations: the regression found no direction (constant features?)")
    return model.coef_ / norm, float(r2_score(test_values, model.predict(test_activations)))


def stroke_thickness(images: Any, threshold: float = 0.5) -> np.ndarray:
    """Return the mean stroke thickness of each image in pixels: ink area / skeleton length.

    The strokes are the pixels above ``threshold``; the skeleton (``skimage.morphology.
    skeletonize``) is their one-pixel-wide centre line. A straight bar of width ``w`` and
    length ``L >> w`` gives about ``w``.

    Parameters
    ----------
    images : array-like
        ``(n, H, W)`` or ``(n, 1, H, W)`` grey values in [0, 1].
    threshold : float, default 0.5
        Ink is what lies above it, in (0, 1).

    Returns
    -------
    numpy.ndarray
        float ``(n,)``; 0.0 for an image without ink.

    Raises
    ------
    TypeError
        If ``images`` is not numbers or ``threshold`` not a number.
    ValueError
        For another shape, non-finite values or values outside [0, 1], or a
        ``threshold`` outside (0, 1).
    """
    from skimage.morphology import skeletonize

    images = finite_array(images, "images")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images: expected (n, H, W) or (n, 1, H, W), got shape {images.shape}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"images: expected grey values in [0, 1], got values in "
                         f"[{images.min():.3g}, {images.max():.3g}]")  # fmt: skip
    threshold = real_number(threshold, "threshold", minimum=0.0, maximum=1.0, strict=True)
    ink = images > threshold
    result = np.zeros(len(images))
    for i, strokes in enumerate(ink):
        length = int(skeletonize(strokes).sum())
        result[i] = strokes.sum() / length if length else 0.0
    return result
