"""Random-forest proximities and cluster stability, written out for teaching.

Forest-Guided Clustering (Barros de Andrade e Sousa et al. 2025, *Forest-Guided
Clustering - Shedding Light into the Random Forest Black Box*, arXiv:2507.19455)
clusters samples by how a fitted random forest routes them:

.. math::

    \\operatorname{prox}(i, j) = \\frac{1}{T} \\sum_{t=1}^{T}
        \\mathbb{1}[\\operatorname{leaf}_t(x_i) = \\operatorname{leaf}_t(x_j)],
    \\qquad d(i, j) = 1 - \\operatorname{prox}(i, j),

then runs k-medoids on ``d`` and rates each ``k`` by the bootstrap Jaccard
stability of its clusters. The package ``fgclustering`` does all of this; the
functions here make the two core quantities visible and testable.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _leaves(model: Any, X: Any) -> np.ndarray:
    if not hasattr(model, "apply") or not hasattr(model, "estimators_"):
        raise TypeError(
            "model must be a fitted scikit-learn forest (RandomForestClassifier/Regressor) "
            f"with .apply(), got {type(model).__name__}"
        )
    if len(np.shape(X)) != 2 or len(X) == 0:
        raise ValueError(f"X must be 2-D (n_samples, n_features) with at least one row, got "
                         f"shape {np.shape(X)}")  # fmt: skip
    return np.asarray(model.apply(X))


def proximity_matrix(model: Any, X: Any) -> np.ndarray:
    """Share of trees in which two samples end in the same leaf.

    Parameters
    ----------
    model : fitted RandomForestClassifier or RandomForestRegressor
        Anything with ``apply(X) -> (n_samples, n_trees)`` leaf indices.
    X : array_like or DataFrame, shape (n_samples, n_features)
        Samples, in the format the model was fitted on.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_samples)
        Symmetric, ones on the diagonal, values in multiples of ``1 / n_trees``.

    Raises
    ------
    TypeError
        If ``model`` is not a fitted forest.
    ValueError
        If ``X`` is not 2-D with at least one row.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> proximity_matrix(rf, X[:3]).shape
    (3, 3)
    """
    leaves = _leaves(model, X)
    n, n_trees = leaves.shape
    prox = np.zeros((n, n))
    for t in range(n_trees):
        col = leaves[:, t]
        prox += col[:, None] == col[None, :]
    return prox / n_trees


def _labels(labels: Any, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of cluster labels, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite labels")
    return arr


def jaccard_matrix(labels_a: Any, labels_b: Any) -> np.ndarray:
    """Jaccard index between every cluster of one labelling and every cluster of another.

    ``J[i, j] = |A_i ∩ B_j| / |A_i ∪ B_j|`` where ``A_i`` is the set of samples with
    the ``i``-th smallest label in ``labels_a`` (same for ``B_j``). Both labellings
    must describe the same samples in the same order.

    Parameters
    ----------
    labels_a, labels_b : array_like, shape (n_samples,)

    Returns
    -------
    numpy.ndarray, shape (n_clusters_a, n_clusters_b)

    Raises
    ------
    ValueError
        If a labelling is not a non-empty 1-D array, holds NaN, or the lengths differ.

    Examples
    --------
    >>> jaccard_matrix([0, 0, 1, 1], [1, 1, 1, 0]).round(2)
    array([[0.  , 0.67],
           [0.5 , 0.33]])
    """
    a, b = _labels(labels_a, "labels_a"), _labels(labels_b, "labels_b")
    if len(a) != len(b):
        raise ValueError(f"labellings have different lengths: {len(a)} and {len(b)}")
    A = a[:, None] == np.unique(a)[None, :]  # one-hot membership (n, ka)
    B = b[:, None] == np.unique(b)[None, :]
    inter = A.T.astype(int) @ B.astype(int)
    union = A.sum(0)[:, None] + B.sum(0)[None, :] - inter
    return inter / union


def matched_jaccard(labels_ref: Any, labels_other: Any) -> np.ndarray:
    """Jaccard index of each reference cluster with its greedily matched partner.

    As in ``fgclustering``'s stability estimate: repeatedly take the largest entry of
    :func:`jaccard_matrix`, assign that pair and remove its row and column. Reference
    clusters left without a partner get 0.

    Parameters
    ----------
    labels_ref, labels_other : array_like, shape (n_samples,)
        E.g. the full-data clustering restricted to a bootstrap sample, and the
        clustering of that bootstrap sample.

    Returns
    -------
    numpy.ndarray, shape (n_clusters_ref,)
        One value per reference cluster, in the order of ``np.unique(labels_ref)``.

    Raises
    ------
    ValueError
        As :func:`jaccard_matrix`.
    """
    J = jaccard_matrix(_labels(labels_ref, "labels_ref"),
                       _labels(labels_other, "labels_other")).astype(float)  # fmt: skip
    best = np.zeros(J.shape[0])
    for _ in range(min(J.shape)):
        i, j = np.unravel_index(np.argmax(J), J.shape)
        best[i] = J[i, j]
        J[i, :] = -np.inf
        J[:, j] = -np.inf
    return best
