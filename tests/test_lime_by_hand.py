"""Hand-written LIME (utils.lime_by_hand) against the lime package and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from lime.lime_tabular import LimeTabularExplainer
from sklearn.linear_model import Ridge

from utils.lime_by_hand import (
    RecordingPredictFn,
    default_kernel_width,
    explain_by_hand,
    fit_local_surrogate,
    interpretable_representation,
    lime_kernel,
    lime_weights,
    top_k_stability,
    weighted_r2,
)


def _data(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    continuous = rng.normal(size=(n, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, 1.0]
    categorical = rng.integers(0, [3, 2], size=(n, 2))
    return np.column_stack([continuous, categorical]).astype(float)


W_TRUE = np.array([0.3, -0.05, 1.0, 0.2, -0.4])


def _explainer(X, mode="regression", seed=0, **kw):
    return LimeTabularExplainer(X, mode=mode, categorical_features=[3, 4],
                                feature_names=list("abcde"), random_state=seed, **kw)  # fmt: skip


# --- kernel ---------------------------------------------------------------------------------
def test_kernel_values():
    w = 1.7
    np.testing.assert_allclose(lime_kernel([0.0, w], w), [1.0, np.exp(-0.5)])
    d = np.linspace(0, 5, 11)
    np.testing.assert_allclose(lime_kernel(d, 2.0), np.exp(-(d**2) / (2 * 2.0**2)))
    assert default_kernel_width(16) == pytest.approx(3.0)


def test_kernel_bad_input():
    with pytest.raises(ValueError, match="kernel_width must be a positive number"):
        lime_kernel([1.0], 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        lime_kernel([-1.0], 1.0)
    with pytest.raises(ValueError, match="n_features must be positive"):
        default_kernel_width(0)


# --- surrogate ------------------------------------------------------------------------------
def test_surrogate_matches_sklearn_ridge():
    rng = np.random.default_rng(1)
    Z, y, w = rng.normal(size=(200, 4)), rng.normal(size=200), rng.uniform(0.1, 1, 200)
    intercept, coefs, score = fit_local_surrogate(Z, y, w, alpha=2.0)
    ridge = Ridge(alpha=2.0).fit(Z, y, sample_weight=w)
    np.testing.assert_allclose(coefs, ridge.coef_, atol=1e-10)
    assert intercept == pytest.approx(ridge.intercept_)
    assert score == pytest.approx(ridge.score(Z, y, sample_weight=w))
    assert weighted_r2(y, y, w) == 1.0


def test_surrogate_bad_input():
    Z = np.ones((5, 2))
    with pytest.raises(ValueError, match="Z has 5 rows but predictions has 4"):
        fit_local_surrogate(Z, np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="not all zero"):
        fit_local_surrogate(Z, np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="Z must be a 2-D array"):
        fit_local_surrogate(np.ones(5), np.ones(5), np.ones(5))


# --- acceptance: hand-written LIME == lime on the same perturbations ------------------------
@pytest.mark.parametrize("discretize", [True, False])
def test_by_hand_equals_lime_on_linear_model(discretize):
    X = _data()
    explainer = _explainer(X, discretize_continuous=discretize)
    predict = RecordingPredictFn(lambda A: A @ W_TRUE + 0.5)
    exp = explainer.explain_instance(X[7], predict, num_features=5, num_samples=2000)
    assert predict.n_calls == 1 and predict.inputs[0].shape == (2000, 5)
    Z = interpretable_representation(explainer, predict.inputs[0])
    assert not discretize or np.all(Z[0] == 1)  # row 0 is the instance itself
    mine = explain_by_hand(Z, predict.outputs[0])
    np.testing.assert_allclose(mine.coefs, lime_weights(exp, 5), atol=1e-10)
    assert mine.intercept == pytest.approx(exp.intercept[1])
    assert mine.score == pytest.approx(exp.score)
    if not discretize:  # standardised space: the surrogate recovers w * std of each feature
        scale = explainer.scaler.scale_[:3]
        np.testing.assert_allclose(mine.coefs[:3], W_TRUE[:3] * scale, rtol=0.02)


def test_by_hand_equals_lime_classification_with_width():
    X = _data()
    explainer = _explainer(X, mode="classification", kernel_width=1.0)

    def proba(A):
        p = 1 / (1 + np.exp(-(A @ W_TRUE - 2.0)))
        return np.column_stack([1 - p, p])

    predict = RecordingPredictFn(proba)
    exp = explainer.explain_instance(X[3], predict, num_features=5, num_samples=1000)
    Z = interpretable_representation(explainer, predict.inputs[0])
    mine = explain_by_hand(Z, predict.outputs[0][:, 1], kernel_width=1.0)
    np.testing.assert_allclose(mine.coefs, lime_weights(exp, 5, label=1), atol=1e-10)
    assert mine.score == pytest.approx(exp.score)


def test_representation_and_weights_bad_input():
    X = _data()
    with pytest.raises(TypeError, match="LimeTabularExplainer"):
        interpretable_representation(object(), X)
    with pytest.raises(ValueError, match="samples have 3 columns"):
        interpretable_representation(_explainer(X), X[:, :3])
    with pytest.raises(TypeError, match="lime Explanation"):
        lime_weights("not an explanation", 5)
    with pytest.raises(TypeError, match="callable"):
        RecordingPredictFn(3)


# --- stability ------------------------------------------------------------------------------
def test_top_k_stability():
    assert top_k_stability([[3, 2, 1], [-3, 2, 0]], k=2) == 1.0
    assert top_k_stability([[3, 2, 1], [3, 1, 2]], k=2) == pytest.approx(1 / 3)
    # brute force over three runs
    W = np.array([[5, 4, 0, 0], [0, 4, 5, 0], [0, 0, 4, 5]])
    tops = [{0, 1}, {1, 2}, {2, 3}]
    pairs = [(0, 1), (0, 2), (1, 2)]
    brute = np.mean([len(tops[i] & tops[j]) / len(tops[i] | tops[j]) for i, j in pairs])
    assert top_k_stability(W, 2) == pytest.approx(brute)
    with pytest.raises(ValueError, match="at least two"):
        top_k_stability([[1, 2]], 1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 2\]"):
        top_k_stability([[1, 2], [2, 1]], 3)
