"""Tests of utils.shapley: brute-force Shapley values and the SHAP-by-hand check."""

from __future__ import annotations

import numpy as np
import pytest

from utils.checks import STRICT_ENV_VAR
from utils.shapley import (
    MAX_FEATURES,
    check_shapley_values,
    coalition_values,
    exact_shapley_values,
)


def toy_model(X: np.ndarray) -> np.ndarray:
    """3 features with an interaction between the first and the third."""
    return 3 * X[:, 0] + 2 * X[:, 1] + 4 * X[:, 0] * X[:, 2]


@pytest.fixture
def forest_case():
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.1 * rng.normal(size=200)
    model = RandomForestRegressor(n_estimators=20, max_depth=5, random_state=0).fit(X, y)
    return model.predict, X[0], X[1:9]


def test_hand_example():
    phi = exact_shapley_values(toy_model, [1, 1, 1], [0, 0, 0])
    np.testing.assert_allclose(phi, [5.0, 2.0, 2.0])


def test_coalition_values_order():
    v = coalition_values(toy_model, [1, 1, 1], np.zeros((2, 3)))
    assert v.shape == (8,)
    # bit i set <=> feature i in the coalition; {0, 2} is mask 0b101 = 5
    np.testing.assert_allclose(v[[0, 1, 2, 5, 7]], [0.0, 3.0, 2.0, 7.0, 9.0])


def test_matches_shap_kernel_explainer(forest_case):
    # With 5 features KernelSHAP enumerates all 2**5 - 2 coalitions, so it is exact.
    # (shap's ExactExplainer would do too, but its first call JIT-compiles for ~40 s.)
    shap = pytest.importorskip("shap")
    predict, x, background = forest_case
    explainer = shap.KernelExplainer(predict, background)
    values = explainer.shap_values(x[None, :], nsamples=1000, l1_reg=False, silent=True)
    ours = exact_shapley_values(predict, x, background)
    np.testing.assert_allclose(ours, np.ravel(values), atol=1e-8)
    np.testing.assert_allclose(predict(background).mean(), explainer.expected_value)


def test_linear_model_closed_form():
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=6), 0.5
    background = rng.normal(size=(10, 6))
    x = rng.normal(size=6)
    phi = exact_shapley_values(lambda X: X @ w + b, x, background)
    np.testing.assert_allclose(phi, w * (x - background.mean(axis=0)), atol=1e-12)


def test_efficiency(forest_case):
    predict, x, background = forest_case
    phi = exact_shapley_values(predict, x, background)
    np.testing.assert_allclose(phi.sum(), predict(x[None])[0] - predict(background).mean())


def test_symmetry_and_dummy():
    # features 0 and 1 enter symmetrically; feature 2 is ignored by the model
    f = lambda X: X[:, 0] * X[:, 1] + X[:, 0] + X[:, 1]  # noqa: E731
    phi = exact_shapley_values(f, [2.0, 2.0, 5.0], [[0.0, 0.0, 1.0], [1.0, 1.0, -3.0]])
    assert phi[0] == pytest.approx(phi[1])
    assert phi[2] == pytest.approx(0.0)


def test_accepts_2d_row_and_column_output():
    phi = exact_shapley_values(lambda X: toy_model(X)[:, None], [[1, 1, 1]], [0, 0, 0])
    np.testing.assert_allclose(phi, [5.0, 2.0, 2.0])


def test_check_accepts_correct_values(capsys, monkeypatch):
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    assert check_shapley_values([5.0, 2.0, 2.0], toy_model, [1, 1, 1], [0, 0, 0])
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint_part"),
    [
        ([2.0, 5.0, 2.0], "efficiency holds"),  # swapped: sum still right
        ([5.0, 2.0, 2.0 + 1e-3], "do not add up"),  # perturbed
        ([3.0, 2.0, 0.0], "do not add up"),  # interaction ignored
        ([7.0, 2.0, 0.0], "efficiency holds"),  # interaction given to one feature
        ([5.0, 2.0], "shape"),  # wrong length
        (None, "no answer"),  # placeholder
    ],
)
def test_check_rejects_wrong_values(wrong, hint_part, capsys, monkeypatch):
    monkeypatch.delenv(STRICT_ENV_VAR, raising=False)
    assert not check_shapley_values(wrong, toy_model, [1, 1, 1], [0, 0, 0])
    out = capsys.readouterr().out
    assert "not yet" in out and hint_part in out
    assert "5.0" not in out  # never reveals the answer


def test_check_raises_in_strict_mode(monkeypatch):
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    with pytest.raises(AssertionError):
        check_shapley_values([2.0, 5.0, 2.0], toy_model, [1, 1, 1], [0, 0, 0])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((toy_model, np.zeros((2, 3)), np.zeros(3)), ValueError, "one row of shape"),
        ((toy_model, np.zeros(3), np.zeros((2, 4))), ValueError, "background has 4 features"),
        ((toy_model, np.zeros(3), np.zeros((0, 3))), ValueError, "at least one row"),
        ((toy_model, [np.nan, 0, 0], np.zeros(3)), ValueError, "NaN"),
        (("model", np.zeros(3), np.zeros(3)), TypeError, "predict must be a function"),
        ((lambda X: X, np.zeros(3), np.zeros(3)), ValueError, "one number per row"),
        (
            (lambda X: X.sum(1), np.zeros(MAX_FEATURES + 1), np.zeros(MAX_FEATURES + 1)),
            ValueError,
            "too many",
        ),
    ],
)
def test_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        exact_shapley_values(*args)
