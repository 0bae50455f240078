"""LIME for tabular data written out step by step, to compare with the ``lime`` package.

LIME (Ribeiro, Singh & Guestrin 2016, *"Why should I trust you?" Explaining the
predictions of any classifier*, KDD) explains one prediction ``f(x)`` by a
linear model ``g`` fitted to the black box's outputs on perturbed copies
``z`` of ``x``, each weighted by its proximity to ``x``:

.. math::

    \\pi_x(z) = \\sqrt{\\exp(-d(x, z)^2 / w^2)} = \\exp(-d(x, z)^2 / (2 w^2)),

    g = \\arg\\min_g \\sum_z \\pi_x(z) (f(z) - g(z))^2 + \\alpha \\lVert \\beta \\rVert^2 .

The functions below reproduce ``lime.lime_tabular.LimeTabularExplainer``
(version 0.2.0.1) exactly when they are fed the same perturbations; record
them with :class:`RecordingPredictFn`.

Examples
--------
>>> import numpy as np
>>> float(lime_kernel(np.array([0.0]), kernel_width=2.0)[0])
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from ._common import finite_array, integer, real_number


def _as_float_array(value: object, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from err
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def default_kernel_width(n_features: int) -> float:
    """Return lime's default kernel width ``0.75 * sqrt(n_features)``.

    Parameters
    ----------
    n_features : int
        Number of columns of the tabular data (positive).
    """
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
        raise TypeError(f"n_features must be an integer, got {type(n_features).__name__}")
    if n_features < 1:
        raise ValueError(f"n_features must be positive, got {n_features}")
    return 0.75 * float(np.sqrt(n_features))


def lime_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """Exponential proximity kernel of lime: ``sqrt(exp(-d**2 / w**2))``.

    The distance is squared once; the square root makes it a Gaussian with
    standard deviation ``w``: ``exp(-d**2 / (2 w**2))``.

    Parameters
    ----------
    distances : array_like
        Non-negative (Euclidean) distances of the samples to the explained instance.
    kernel_width : float
        Width ``w`` > 0. lime's default is :func:`default_kernel_width`.

    Returns
    -------
    numpy.ndarray
        Weights in (0, 1], same shape as ``distances``; 1 at distance 0 and
        ``exp(-1/2)`` at distance ``w``.

    Raises
    ------
    TypeError
        If ``distances`` or ``kernel_width`` are not numbers.
    ValueError
        For empty, non-finite or negative distances, or a width that is not positive.

    Examples
    --------
    >>> lime_kernel([0.0, 1.0], kernel_width=1.0).round(4)
    array([1.    , 0.6065])
    """
    d = finite_array(distances, "distances")
    if np.any(d < 0):
        raise ValueError("distances must be finite and non-negative")
    w = real_number(kernel_width, "kernel_width")
    if w <= 0:
        raise ValueError(f"kernel_width must be a positive number, got {kernel_width!r}")
    return np.sqrt(np.exp(-(d**2) / w**2))


def weighted_r2(y: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> float:
    """Weighted coefficient of determination, as ``Ridge.score(..., sample_weight=w)``.

    ``R^2 = 1 - sum w (y - y_pred)^2 / sum w (y - ybar_w)^2`` with the weighted mean
    ``ybar_w``. lime reports it as ``explanation.score`` (the surrogate's fidelity on
    the perturbed samples).

    Raises
    ------
    TypeError
        If an input is not numbers.
    ValueError
        For empty, non-finite or not 1-D inputs, different lengths, or weights that are
        negative or all zero.
    """
    y = _as_float_array(y, "y", 1)
    y_pred = _as_float_array(y_pred, "y_pred", 1)
    w = _as_float_array(weights, "weights", 1)
    if not len(y) == len(y_pred) == len(w):
        raise ValueError(f"lengths differ: y {len(y)}, y_pred {len(y_pred)}, weights {len(w)}")
    if np.any(w < 0) or w.sum() == 0:
        raise ValueError("weights must be non-negative and not all zero")
    ybar = np.average(y, weights=w)
    total = np.sum(w * (y - ybar) ** 2)
    if total == 0:
        return 1.0 if np.allclose(y, y_pred) else 0.0
    return float(1.0 - np.sum(w * (y - y_pred) ** 2) / total)


def fit_local_surrogate(
    Z: np.ndarray, predictions: np.ndarray, weights: np.ndarray, alpha: float = 1.0
) -> tuple[float, np.ndarray, float]:
    """Fit lime's weighted ridge surrogate in closed form.

    Solves ``min_b sum_i w_i (y_i - b0 - Z_i b)^2 + alpha ||b||^2`` (the intercept is
    not penalised) like ``sklearn.linear_model.Ridge(alpha).fit(Z, y, sample_weight=w)``:
    centre ``Z`` and ``y`` with weighted means, then
    ``b = (Zc^T W Zc + alpha I)^-1 Zc^T W yc`` and ``b0 = ybar - zbar . b``.

    Parameters
    ----------
    Z : array_like, shape (n_samples, n_features)
        Perturbed samples in the interpretable representation (row 0: the instance).
    predictions : array_like, shape (n_samples,)
        Black-box outputs for the explained class on the same samples.
    weights : array_like, shape (n_samples,)
        Non-negative kernel weights (not all zero).
    alpha : float, default 1.0
        Ridge penalty (lime uses 1).

    Returns
    -------
    intercept : float
    coefs : numpy.ndarray, shape (n_features,)
    score : float
        Weighted R^2 of the surrogate on the samples (lime's ``explanation.score``).

    Raises
    ------
    TypeError
        If an input is not numbers.
    ValueError
        For empty, non-finite or wrongly shaped inputs, weights that are negative or all
        zero, or a negative ``alpha``.
    """
    Z = _as_float_array(Z, "Z", 2)
    y = _as_float_array(predictions, "predictions", 1)
    w = _as_float_array(weights, "weights", 1)
    if not Z.shape[0] == len(y) == len(w):
        raise ValueError(
            f"Z has {Z.shape[0]} rows but predictions has {len(y)} and weights {len(w)}; "
            "expected one prediction and one weight per sample"
        )
    if np.any(w < 0) or w.sum() == 0:
        raise ValueError("weights must be non-negative and not all zero")
    alpha = real_number(alpha, "alpha", minimum=0.0)
    z_mean = np.average(Z, axis=0, weights=w)
    y_mean = np.average(y, weights=w)
    Zc, yc = Z - z_mean, y - y_mean
    gram = Zc.T @ (w[:, None] * Zc) + alpha * np.eye(Z.shape[1])
    coefs = np.linalg.lstsq(gram, Zc.T @ (w * yc), rcond=None)[0]
    intercept = float(y_mean - z_mean @ coefs)
    score = weighted_r2(y, intercept + Z @ coefs, w)
    return intercept, coefs, score


class RecordingPredictFn:
    """Wrap a prediction function and keep a copy of every array it receives.

    lime calls ``predict_fn`` once per explanation with all ``num_samples``
    perturbed rows (in the model's input space); recording them lets us
    redo the explanation by hand on exactly the same samples.

    Parameters
    ----------
    predict_fn : callable
        E.g. ``model.predict_proba``.

    Attributes
    ----------
    inputs, outputs : list of numpy.ndarray
        What each call received and returned.
    """

    def __init__(self, predict_fn: Callable[[np.ndarray], np.ndarray]) -> None:
        if not callable(predict_fn):
            raise TypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
        self.predict_fn = predict_fn
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.inputs.append(np.array(X, copy=True))
        out = np.asarray(self.predict_fn(X))
        self.outputs.append(out)
        return out

    @property
    def n_calls(self) -> int:
        """Number of calls so far."""
        return len(self.inputs)


def interpretable_representation(explainer: Any, samples: np.ndarray) -> np.ndarray:
    """Map perturbed samples to the space where lime fits its surrogate.

    Row 0 of ``samples`` must be the explained instance (as lime generates them).

    * With ``discretize_continuous=True`` (lime's default) every feature becomes
      binary: 1 if the sample falls in the same quartile bin (continuous) or has
      the same category (categorical) as the instance, else 0.
    * Without discretizer, continuous features are standardised with the
      explainer's training mean and standard deviation; categorical ones are binary.

    Parameters
    ----------
    explainer : lime.lime_tabular.LimeTabularExplainer
        The explainer that generated the samples.
    samples : array_like, shape (n_samples, n_features)
        What the explainer passed to ``predict_fn`` (see :class:`RecordingPredictFn`).

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_features)

    Raises
    ------
    TypeError
        If ``explainer`` is not a LimeTabularExplainer or ``samples`` not numbers.
    ValueError
        For empty, non-finite or not 2-D samples, or a number of columns that does not fit.
    """
    X = _as_float_array(samples, "samples", 2)
    scaler = getattr(explainer, "scaler", None)
    if scaler is None or not hasattr(explainer, "categorical_features"):
        raise TypeError(
            f"explainer must be a lime LimeTabularExplainer, got {type(explainer).__name__}"
        )
    if X.shape[1] != len(scaler.scale_):
        raise ValueError(
            f"samples have {X.shape[1]} columns, the explainer was built on {len(scaler.scale_)}"
        )
    instance = X[0]
    if explainer.discretizer is not None:
        binned = explainer.discretizer.discretize(X)
        return (binned == binned[0]).astype(float)
    Z = (X - scaler.mean_) / scaler.scale_
    for j in explainer.categorical_features:
        Z[:, j] = (X[:, j] == instance[j]).astype(float)
    return Z


@dataclass
class LocalSurrogate:
    """Result of :func:`explain_by_hand`.

    Attributes
    ----------
    intercept : float
    coefs : numpy.ndarray
        One weight per feature of the interpretable representation.
    score : float
        Weighted R^2 (fidelity of the surrogate on the samples).
    distances, weights : numpy.ndarray
        Euclidean distance of each sample to the instance and its kernel weight.

    Raises
    ------
    TypeError
        If a field is not numbers.
    ValueError
        For non-finite values, empty arrays, or distances and weights that are negative
        or of different lengths.
    """

    intercept: float
    coefs: np.ndarray
    score: float
    distances: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        """Check the fields: finite numbers, one distance and one weight per sample."""
        real_number(self.intercept, "intercept")
        real_number(self.score, "score")
        _as_float_array(self.coefs, "coefs", 1)
        distances = _as_float_array(self.distances, "distances", 1)
        weights = _as_float_array(self.weights, "weights", 1)
        if distances.shape != weights.shape or np.any(distances < 0) or np.any(weights < 0):
            raise ValueError(f"distances and weights: expected two non-negative arrays of the "
                             f"same length, got shapes {distances.shape} and {weights.shape}")


def explain_by_hand(
    Z: np.ndarray,
    predictions: np.ndarray,
    kernel_width: float | None = None,
    alpha: float = 1.0,
) -> LocalSurrogate:
    """Run LIME's last three steps: distances, kernel weights, weighted ridge.

    Parameters
    ----------
    Z : array_like, shape (n_samples, n_features)
        Samples in the interpretable representation; row 0 is the instance
        (see :func:`interpretable_representation`).
    predictions : array_like, shape (n_samples,)
        Black-box output for the explained class on each sample.
    kernel_width : float, optional
        Default: ``0.75 * sqrt(n_features)`` as in lime.
    alpha : float, default 1.0
        Ridge penalty.

    Returns
    -------
    LocalSurrogate

    Raises
    ------
    TypeError
        If an input is not numbers.
    ValueError
        As :func:`fit_local_surrogate` and :func:`lime_kernel`.
    """
    Z = _as_float_array(Z, "Z", 2)
    if kernel_width is None:
        kernel_width = default_kernel_width(Z.shape[1])
    distances = np.linalg.norm(Z - Z[0], axis=1)
    weights = lime_kernel(distances, kernel_width)
    intercept, coefs, score = fit_local_surrogate(Z, predictions, weights, alpha)
    return LocalSurrogate(intercept, coefs, score, distances, weights)


def lime_weights(explanation: Any, n_features: int, label: int = 1) -> np.ndarray:
    """Return a lime explanation's weights as a dense vector (0 for unselected features).

    Parameters
    ----------
    explanation : lime.explanation.Explanation
    n_features : int
        Number of features of the data.
    label : int, default 1
        The explained class.

    Raises
    ------
    TypeError
        If ``explanation`` is not a lime Explanation, or ``n_features`` or ``label``
        not an integer.
    ValueError
        If ``label`` was not explained or a feature index is out of range.
    """
    local_exp = getattr(explanation, "local_exp", None)
    if not isinstance(local_exp, dict):
        raise TypeError(f"expected a lime Explanation, got {type(explanation).__name__}")
    n_features = integer(n_features, "n_features", minimum=1)
    label = integer(label, "label")
    if label not in local_exp:
        raise ValueError(f"label {label} was not explained; available: {sorted(local_exp)}")
    vec = np.zeros(int(n_features))
    for j, w in local_exp[label]:
        if not 0 <= j < n_features:
            raise ValueError(f"feature index {j} is out of range for n_features={n_features}")
        vec[j] = w
    return vec


def top_k_stability(weight_vectors: Sequence[np.ndarray] | np.ndarray, k: int) -> float:
    """Mean pairwise Jaccard index of the top-``k`` features of several explanations.

    For each explanation (one row, e.g. LIME weights from one random seed) take the
    set of the ``k`` features with the largest absolute weight; return the mean of
    ``|A ∩ B| / |A ∪ B|`` over all pairs of rows. 1 means every run names the same
    ``k`` features; ties are broken by feature index.

    Parameters
    ----------
    weight_vectors : array_like, shape (n_runs, n_features)
        At least two runs.
    k : int
        Between 1 and ``n_features``.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> top_k_stability([[3, 2, 1], [3, 1, 2]], k=2)
    0.3333333333333333
    """
    W = _as_float_array(weight_vectors, "weight_vectors", 2)
    if W.shape[0] < 2:
        raise ValueError(f"weight_vectors: need at least two explanations (rows), got "
                         f"{W.shape[0]}")  # fmt: skip
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= W.shape[1]:
        raise ValueError(f"k must be an integer in [1, {W.shape[1]}], got {k!r}")
    tops = [set(np.argsort(-np.abs(row), kind="stable")[:k].tolist()) for row in W]
    return float(np.mean([len(a & b) / len(a | b) for a, b in combinations(tops, 2)]))
