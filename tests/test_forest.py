"""utils.forest against brute force and fgclustering."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from utils.forest import jaccard_matrix, matched_jaccard, proximity_matrix


@pytest.fixture(scope="module")
def forest():
    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y), X[::5]


def test_proximity_brute_force(forest):
    model, X = forest
    P = proximity_matrix(model, X)
    n = len(X)
    brute = np.zeros((n, n))
    for tree in model.estimators_:
        leaf = tree.apply(X)
        for i in range(n):
            for j in range(n):
                brute[i, j] += leaf[i] == leaf[j]
    np.testing.assert_allclose(P, brute / len(model.estimators_))
    assert np.allclose(np.diag(P), 1) and np.allclose(P, P.T)


def test_proximity_matches_fgclustering(forest):
    from fgclustering import DistanceRandomForestProximity

    model, X = forest
    dist = DistanceRandomForestProximity()
    dist.calculate_forest_encoding(model, X)
    D, _ = dist.calculate_distance_matrix(sample_indices=None)
    np.testing.assert_allclose(1 - proximity_matrix(model, X), D, atol=1e-6)


def test_proximity_bad_input(forest):
    with pytest.raises(TypeError, match="fitted scikit-learn forest"):
        proximity_matrix(object(), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="must be 2-D"):
        proximity_matrix(forest[0], np.zeros(4))


def test_jaccard_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 50), rng.integers(1, 5, 50)
    J = jaccard_matrix(a, b)
    for i, ca in enumerate(np.unique(a)):
        for j, cb in enumerate(np.unique(b)):
            A, B = set(np.flatnonzero(a == ca)), set(np.flatnonzero(b == cb))
            assert J[i, j] == pytest.approx(len(A & B) / len(A | B))


def test_matched_jaccard():
    # same partition with other label names -> perfect match
    np.testing.assert_allclose(matched_jaccard([0, 0, 1, 2], [5, 5, 7, 6]), [1, 1, 1])
    # greedy: the best pair first, the leftover cluster gets 0
    np.testing.assert_allclose(matched_jaccard([0, 0, 0, 1, 2], [1, 1, 1, 1, 1]), [0.6, 0, 0])
    with pytest.raises(ValueError, match="different lengths"):
        jaccard_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="1-D array"):
        matched_jaccard([], [])
