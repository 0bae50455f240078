"""Exact Shapley values by brute force, and the "SHAP by hand" exercise check.

The value of a coalition ``S`` of features is the interventional expectation
(Lundberg & Lee 2017, *A Unified Approach to Interpreting Model Predictions*,
NeurIPS)::

    v(S) = mean over background rows b of f(x_S, b_rest)

i.e. the features in ``S`` keep the values of the explained row ``x`` and all
others are taken from a background row. The Shapley value (Shapley 1953) of
feature ``i`` is the weighted average of its marginal contributions::

    phi_i = sum over S not containing i of |S|! (M - |S| - 1)! / M! * (v(S + i) - v(S))

Enumerating all ``2**M`` coalitions is only feasible for a few features, so
:func:`exact_shapley_values` refuses more than :data:`MAX_FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial

import numpy as np

from ._common import finite_array
from .checks import CheckResult, check_close

#: Largest number of features :func:`exact_shapley_values` enumerates (2**12 coalitions).
MAX_FEATURES = 12


def _validate(
    predict: Callable[[np.ndarray], object], x: object, background: object
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``x`` as a 1-D and ``background`` as a 2-D float array, or raise."""
    if not callable(predict):
        raise TypeError(
            "predict must be a function mapping an (n, M) array to n outputs, "
            f"got {type(predict).__name__}"
        )
    x_arr = finite_array(x, "x")
    if x_arr.ndim == 2 and x_arr.shape[0] == 1:
        x_arr = x_arr[0]
    if x_arr.ndim != 1:
        raise ValueError(f"x must be one row of shape (M,) or (1, M), got shape {x_arr.shape}")
    # an empty background is left to the shape check below, which says what is missing
    bg = (np.asarray(background, dtype=float) if np.size(background) == 0
          else finite_array(background, "background"))  # fmt: skip
    if bg.ndim == 1:
        bg = bg[None, :]
    if bg.ndim != 2 or bg.shape[0] == 0:
        raise ValueError(
            f"background must be a 2-D array of shape (n_rows, M) with at least one row, "
            f"got shape {bg.shape}"
        )
    n_features = x_arr.shape[0]
    if bg.shape[1] != n_features:
        raise ValueError(
            f"background has {bg.shape[1]} features but x has {n_features}; "
            "they must have the same columns"
        )
    if n_features == 0:
        raise ValueError("x has no features")
    if n_features > MAX_FEATURES:
        raise ValueError(
            f"exact Shapley values enumerate all 2**M coalitions; M={n_features} features is "
            f"too many (at most {MAX_FEATURES}). Use shap's TreeExplainer, KernelExplainer "
            "or PermutationExplainer instead."
        )
    if not (np.all(np.isfinite(x_arr)) and np.all(np.isfinite(bg))):
        raise ValueError("x and background must not contain NaN or infinite values")
    return x_arr, bg


def coalition_values(
    predict: Callable[[np.ndarray], object], x: object, background: object
) -> np.ndarray:
    """Return the value ``v(S)`` of every coalition of features.

    Parameters
    ----------
    predict : callable
        Maps an ``(n, M)`` array to ``n`` numbers (one output per row), e.g.
        ``lambda X: model.predict_proba(X)[:, 1]``.
    x : array_like, shape (M,) or (1, M)
        The explained row.
    background : array_like, shape (n_rows, M) or (M,)
        Reference rows; features outside a coalition take their values.

    Returns
    -------
    numpy.ndarray, shape (2**M,)
        ``v[mask]`` where bit ``i`` of the integer ``mask`` says whether feature
        ``i`` is in the coalition: ``v[0]`` is the mean prediction on the
        background, ``v[2**M - 1]`` the prediction for ``x``.

    Raises
    ------
    TypeError, ValueError
        For a non-callable ``predict``, inputs that are not finite numbers, mismatched
        shapes, more than :data:`MAX_FEATURES` features or a ``predict`` that returns
        the wrong shape.
    """
    x_arr, bg = _validate(predict, x, background)
    n_features, n_bg = x_arr.shape[0], bg.shape[0]
    masks = np.arange(2**n_features)
    in_coalition = ((masks[:, None] >> np.arange(n_features)) & 1).astype(bool)  # (2**M, M)
    rows = np.where(in_coalition[:, None, :], x_arr, bg[None, :, :]).reshape(-1, n_features)
    out = np.asarray(predict(rows), dtype=float)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (rows.shape[0],):
        raise ValueError(
            f"predict must return one number per row: for input of shape {rows.shape} "
            f"expected output shape ({rows.shape[0]},), got {out.shape}. For a classifier "
            "select one class, e.g. lambda X: model.predict_proba(X)[:, 1]"
        )
    return out.reshape(2**n_features, n_bg).mean(axis=1)


def exact_shapley_values(
    predict: Callable[[np.ndarray], object], x: object, background: object
) -> np.ndarray:
    """Exact interventional Shapley values of one row, by enumerating all coalitions.

    Parameters
    ----------
    predict : callable
        Maps an ``(n, M)`` array to ``n`` numbers, e.g.
        ``lambda X: model.predict_proba(X)[:, 1]``.
    x : array_like, shape (M,) or (1, M)
        The explained row.
    background : array_like, shape (n_rows, M) or (M,)
        Reference rows (a single row is a baseline). The model is evaluated on
        ``2**M * n_rows`` rows in one call, so keep the background small.

    Returns
    -------
    numpy.ndarray, shape (M,)
        One Shapley value per feature. They add up to
        ``predict(x) - mean(predict(background))`` (efficiency).

    Raises
    ------
    TypeError, ValueError
        As :func:`coalition_values`; at most :data:`MAX_FEATURES` features.

    Examples
    --------
    >>> f = lambda X: 3 * X[:, 0] + 2 * X[:, 1] + 4 * X[:, 0] * X[:, 2]
    >>> exact_shapley_values(f, [1, 1, 1], [0, 0, 0])
    array([5., 2., 2.])
    """
    v = coalition_values(predict, x, background)
    n_features = int(np.log2(v.shape[0]))
    masks = np.arange(v.shape[0])
    sizes = np.array([bin(m).count("1") for m in masks])
    weights = np.array(
        [factorial(s) * factorial(n_features - s - 1) / factorial(n_features) if s < n_features
         else 0.0 for s in sizes]
    )  # fmt: skip
    phi = np.empty(n_features)
    for i in range(n_features):
        without_i = (masks >> i) & 1 == 0
        phi[i] = np.sum(weights[without_i] * (v[masks[without_i] | (1 << i)] - v[without_i]))
    return phi


def check_shapley_values(
    values: object,
    predict: Callable[[np.ndarray], object],
    x: object,
    background: object,
    name: str = "Shapley values",
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> CheckResult:
    """Check Shapley values computed by hand against the exact brute-force ones.

    Prints "correct" or "not yet" with a hint that never reveals the values.

    Parameters
    ----------
    values : array_like, shape (M,)
        The student's Shapley values, one per feature.
    predict, x, background
        The model, the explained row and the background, as in
        :func:`exact_shapley_values`.
    name : str
        What is checked, used in the message.
    rtol, atol : float
        Tolerances as in :func:`numpy.allclose`.

    Returns
    -------
    CheckResult
        Truthy when the values match (raises ``AssertionError`` instead of
        failing when ``XAI_STRICT_CHECKS=1``).

    Examples
    --------
    >>> f = lambda X: X.sum(axis=1)
    >>> check_shapley_values([1.0, 2.0], f, [1.0, 2.0], [0.0, 0.0])
    ✅ Shapley values: correct.
    CheckResult('Shapley values', passed=True)
    """
    reference = exact_shapley_values(predict, x, background)
    hint = "compare your steps with the Shapley formula in the text."
    try:
        got = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        got = None
    if got is not None and got.shape == reference.shape and np.all(np.isfinite(got)):
        v = coalition_values(predict, x, background)
        gap = v[-1] - v[0]  # f(x) - E[f(background)]
        if np.isclose(got.sum(), gap, rtol=rtol, atol=max(atol, 1e-9 * abs(gap))):
            hint = ("your values add up to f(x) - E[f(background)] (efficiency holds), but "
                    "they are split wrongly among the features: check the weights "
                    "|S|!(M-|S|-1)!/M! and which feature each marginal contribution "
                    "belongs to.")  # fmt: skip
        else:
            hint = ("your values do not add up to f(x) - E[f(background)] (efficiency): "
                    "check the coalition values v(S) (features outside S come from the "
                    "background rows, averaged) and that the weights of each feature sum "
                    "to 1.")  # fmt: skip
    return check_close(values, reference, name=name, hint=hint, rtol=rtol, atol=atol)
