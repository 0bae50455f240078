"""Unit tests of utils.evaluation.randomisation and completeness_gap (exact, scipy, captum)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import IntegratedGradients
from scipy.stats import spearmanr
from torch import nn

from utils.evaluation.faithfulness import completeness_gap
from utils.evaluation.randomisation import (
    agreement_matrix,
    mean_rank_correlation,
    randomize_layers,
    rank_correlation,
)


def _linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(6, 3).eval()


# --- completeness_gap ----------------------------------------------------------------------
def test_completeness_exact_for_linear_model_ig():
    """For F(x) = w.x + b, IG = (x - x') * w exactly, so the gap is 0."""
    model = _linear_model()
    x = torch.randn(4, 6)
    baseline = torch.randn(1, 6)
    target = [0, 2, 1, 2]
    ig = (x - baseline) * model.weight[target].detach()
    gap = completeness_gap(model, x, ig, baseline, target)
    assert gap.shape == (4,)
    np.testing.assert_allclose(gap, 0.0, atol=1e-5)
    # captum's IG on the linear model agrees with the closed form
    captum_ig = IntegratedGradients(model).attribute(x, baseline.expand_as(x), target=target)
    np.testing.assert_allclose(captum_ig.numpy(), ig.numpy(), atol=1e-5)


def test_completeness_gap_matches_captum_delta_on_nonlinear_model():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).eval()
    x = torch.randn(3, 5)
    attr, delta = IntegratedGradients(model).attribute(
        x, baselines=0.0 * x, target=1, n_steps=5, method="riemann_right",
        return_convergence_delta=True,
    )
    gap = completeness_gap(model, x, attr, 0.0, target=1)
    np.testing.assert_allclose(gap, delta.numpy(), atol=1e-5)


def test_completeness_gap_nonzero_for_wrong_attributions():
    model = _linear_model()
    x = torch.ones(1, 6)
    with torch.no_grad():
        expected = float(model(x)[0, 0] - model(torch.zeros(1, 6))[0, 0])
    gap = completeness_gap(model, x, torch.zeros(1, 6), 0.0, 0)
    np.testing.assert_allclose(gap, [-expected], atol=1e-6)


def test_completeness_gap_input_errors():
    model = _linear_model()
    x = torch.ones(2, 6)
    with pytest.raises(ValueError, match="shape of inputs"):
        completeness_gap(model, x, torch.ones(2, 5), 0.0, 0)
    with pytest.raises(ValueError, match=r"target must lie in \[0, 2\]"):
        completeness_gap(model, x, x, 0.0, 3)
    with pytest.raises(ValueError, match="one int or 2 ints"):
        completeness_gap(model, x, x, 0.0, [0, 1, 2])
    with pytest.raises(ValueError, match="baselines"):
        completeness_gap(model, x, x, torch.zeros(3, 6), 0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        completeness_gap(lambda t: t, x, x, 0.0, 0)


# --- rank correlations ---------------------------------------------------------------------
def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 7))
    b = a + rng.normal(scale=0.5, size=(7, 7))
    b[:2] = 0.0  # ties
    expected = spearmanr(np.abs(a).ravel(), np.abs(b).ravel()).statistic
    assert rank_correlation(a, b) == pytest.approx(expected)
    expected_signed = spearmanr(a.ravel(), b.ravel()).statistic
    assert rank_correlation(a, b, absolute=False) == pytest.approx(expected_signed)


def test_rank_correlation_invariances_and_constant_map():
    a = torch.arange(16.0).reshape(4, 4)
    assert rank_correlation(a, 3 * a + 0) == pytest.approx(1.0)
    assert rank_correlation(a, -a, absolute=False) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(a, torch.zeros(4, 4)))


def test_rank_correlation_errors():
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least 2 values"):
        rank_correlation([1.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        rank_correlation([1.0, np.nan], [1.0, 2.0])


def test_mean_rank_correlation_skips_constant_maps():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 5, 5))
    b = a.copy()
    b[1] = 0.0
    assert mean_rank_correlation(a, b) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        mean_rank_correlation(a, b[:2])


def test_agreement_matrix_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(4, 6, 6))
    maps = {"a": base, "b": base * 2, "c": rng.normal(size=(4, 6, 6))}
    matrix = agreement_matrix(maps)
    assert isinstance(matrix, pd.DataFrame)
    assert list(matrix.index) == ["a", "b", "c"] == list(matrix.columns)
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert matrix.loc["a", "b"] == pytest.approx(1.0)
    expected = np.mean([rank_correlation(base[i], maps["c"][i]) for i in range(4)])
    assert matrix.loc["a", "c"] == pytest.approx(expected)


def test_agreement_matrix_errors():
    with pytest.raises(ValueError, match="at least 2 methods"):
        agreement_matrix({"a": np.zeros((1, 2, 2))})
    with pytest.raises(ValueError, match="same shape"):
        agreement_matrix({"a": np.zeros((1, 2, 2)), "b": np.zeros((1, 3, 3))})
    with pytest.raises(TypeError, match="dict"):
        agreement_matrix([np.zeros((1, 2, 2))])


# --- randomize_layers ----------------------------------------------------------------------
def test_randomize_layers_changes_only_the_named_layer_and_is_seeded():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy1 = randomize_layers(model, "2", seed=3)
    copy2 = randomize_layers(model, ["2"], seed=3)
    for key, value in model.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[key])
    assert torch.equal(copy1.state_dict()["0.weight"], before["0.weight"])
    assert not torch.equal(copy1.state_dict()["2.weight"], before["2.weight"])
    assert torch.equal(copy1.state_dict()["2.weight"], copy2.state_dict()["2.weight"])
    assert not copy1.training


def test_randomize_layers_errors():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['classifier'\]"):
        randomize_layers(model, "classifier")
    with pytest.raises(ValueError, match="no parameters to reset"):
        randomize_layers(model, "1")
    with pytest.raises(ValueError, match="layer name"):
        randomize_layers(model, [])
