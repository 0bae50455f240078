"""Unit tests of utils.evaluation: localisation, complexity, ROAD (brute force and Quantus)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from utils.evaluation.complexity import entropy_complexity, sparseness
from utils.evaluation.localisation import (
    interval_mask,
    mass_in_region,
    pointing_game,
    region_fraction,
)
from utils.evaluation.road import noisy_linear_imputation, road_curves
from utils.shortcuts import marker_region


# --- localisation ---------------------------------------------------------------------------
def test_mass_in_region_constructed_examples():
    region = marker_region((28, 28), size=4)
    assert mass_in_region(np.where(region, -2.0, 0.0), region) == 1.0  # |a| by default
    assert np.isnan(mass_in_region(np.where(region, -2.0, 0.0), region, positive=True))
    assert mass_in_region(np.ones((28, 28)), region) == pytest.approx(16 / 784)
    assert mass_in_region(np.where(region, 0.0, 1.0), region) == 0.0
    batch = np.stack([np.where(region, 1.0, 0.0), np.ones((28, 28))])
    assert mass_in_region(batch, region) == pytest.approx(32 / (16 + 784))  # pooled
    np.testing.assert_allclose(mass_in_region(batch, region, axis=(-2, -1)), [1.0, 16 / 784])
    assert np.isnan(mass_in_region(np.zeros((28, 28)), region))
    a = np.array([[0.0, 1.0, 3.0, 0.0, -2.0], [1.0, 1.0, 1.0, 1.0, 0.0]])
    masks = interval_mask([[1, 3], [0, 2]], 5)
    np.testing.assert_allclose(mass_in_region(a, masks, positive=True, axis=-1), [1.0, 0.5])
    np.testing.assert_allclose(mass_in_region(a, masks[:1], axis=-1), [4 / 6, 2 / 4])
    assert mass_in_region(torch.ones(2, 5), masks) == pytest.approx(4 / 10)  # tensors work


def test_mass_in_region_against_brute_force():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 2, 5, 6))
    masks = rng.random((3, 1, 5, 6)) > 0.6
    got = mass_in_region(maps, masks, positive=True, axis=(1, 2, 3))
    for i in range(3):
        inside = total = 0.0
        for c in range(2):
            for h in range(5):
                for w in range(6):
                    value = max(maps[i, c, h, w], 0.0)
                    total += value
                    inside += value if masks[i, 0, h, w] else 0.0
        assert got[i] == pytest.approx(inside / total)


def test_pointing_game_constructed_examples():
    region = marker_region((28, 28), size=4)
    maps = np.zeros((4, 28, 28))
    maps[0, 2, 3] = 1.0  # peak on the marker
    maps[1, 20, 20] = 1.0  # peak elsewhere
    maps[2] = np.where(region, -3.0, 1.0)  # a negative peak counts by magnitude
    maps[3] = 1.0  # constant: every position ties, so the score is the area fraction
    hits = pointing_game(maps, region, axis=(-2, -1))
    np.testing.assert_allclose(hits, [1.0, 0.0, 1.0, region_fraction(region)])
    assert pointing_game(maps[2], region, positive=True) == pytest.approx(0.0)
    # most mass elsewhere, peak on the marker: the two scores disagree by design
    spread = np.where(region, 0.0, 0.5)
    spread[0, 0] = 1.0
    assert mass_in_region(spread, region) < 0.01 and pointing_game(spread, region) == 1.0
    signals = np.array([[0.0, 1.0, 3.0, 0.0], [5.0, 1.0, 3.0, 0.0]])
    np.testing.assert_allclose(pointing_game(signals, interval_mask([1, 3], 4), axis=-1),
                               [1.0, 0.0])  # fmt: skip


def test_region_fraction_and_interval_mask():
    masks = interval_mask([[1, 3], [0, 5]], 5)
    assert masks.tolist() == [[False, True, True, False, False], [True] * 5]
    np.testing.assert_allclose(region_fraction(masks, axis=-1), [0.4, 1.0])
    assert region_fraction(interval_mask((2, 4), 8)) == 0.25
    uniform = np.ones((1, 100))
    mask = interval_mask((10, 35), 100)
    assert mass_in_region(uniform, mask) == pytest.approx(region_fraction(mask))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mass_in_region(np.ones((28, 28)), np.ones((14, 14), bool)), ValueError,
         r"mask of shape \(14, 14\) does not fit attribution of shape \(28, 28\)"),
        (lambda: mass_in_region(np.ones((28, 28)), np.full((28, 28), 0.5)), ValueError,
         "booleans"),
        (lambda: mass_in_region(np.full(4, np.nan), np.ones(4, bool)), ValueError, "NaN"),
        (lambda: mass_in_region(np.ones(4), np.ones(4, bool), axis=1), ValueError,
         "out of range"),
        (lambda: mass_in_region(np.ones(4), np.ones(4, bool), axis=1.0), TypeError, "axis"),
        (lambda: pointing_game(np.ones((2, 4)), np.zeros(4, bool), axis=-1), ValueError,
         "empty"),
        (lambda: interval_mask([2, 6], 4), ValueError, r"0 <= start < stop <= 4"),
        (lambda: interval_mask([0.5, 2.0], 4), ValueError, "integer"),
        (lambda: interval_mask([1, 2], 0), ValueError, "length"),
    ],
)  # fmt: skip
def test_localisation_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- complexity -----------------------------------------------------------------------------
def test_complexity_constructed_examples():
    assert sparseness(np.ones(10)) == pytest.approx(0.0)
    assert sparseness(np.eye(1, 10)[0]) == pytest.approx(1 - 1 / 10)
    assert entropy_complexity(np.ones(8)) == pytest.approx(np.log(8))
    assert entropy_complexity(-np.eye(1, 8)[0]) == pytest.approx(0.0)  # |a| counts
    assert np.isnan(sparseness(np.zeros(3))) and np.isnan(entropy_complexity(np.zeros(3)))
    maps = np.stack([np.ones((2, 2)), np.diag([0.0, 3.0])])
    np.testing.assert_allclose(entropy_complexity(maps, axis=(-2, -1)), [np.log(4), 0.0])


def test_sparseness_equals_the_gini_index_by_pairs():
    """Gini = sum_ij |m_i - m_j| / (2 d sum m): the mean-difference definition, by brute force."""
    m = np.abs(np.random.default_rng(1).normal(size=12))
    pairs = sum(abs(a - b) for a in m for b in m)
    assert sparseness(m) == pytest.approx(pairs / (2 * len(m) * m.sum()))


def _quantus_kwargs(a: np.ndarray) -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(a[0].size, 3)).eval()
    x = np.random.default_rng(0).random(a.shape).astype(np.float32)
    return dict(model=model, x_batch=x, y_batch=np.zeros(len(a), dtype=int), a_batch=a,
                device="cpu")  # fmt: skip


def test_complexity_and_localisation_agree_with_quantus():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 1, 6, 6)).astype(np.float32)
    a[4] = 0.0
    a[4, 0, 2, 2] = 3.0
    s = np.zeros((5, 1, 6, 6))
    s[:, :, :3, :3] = 1
    kwargs = _quantus_kwargs(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q_sparse = quantus.Sparseness(disable_warnings=True, normalise=False)(**kwargs)
        q_entropy = quantus.Complexity(disable_warnings=True, normalise=False)(**kwargs)
        q_mass = quantus.AttributionLocalisation(disable_warnings=True, normalise=False,
                                                 abs=True)(**kwargs, s_batch=s)  # fmt: skip
        q_point = quantus.PointingGame(disable_warnings=True, normalise=False,
                                       abs=True)(**kwargs, s_batch=s)  # fmt: skip
    maps, region = a[:, 0], s[:, 0].astype(bool)
    # Quantus adds 1e-7 to every value before the Gini index: equal to about 1e-6
    np.testing.assert_allclose(sparseness(maps, axis=(-2, -1)), q_sparse, atol=1e-5)
    np.testing.assert_allclose(entropy_complexity(maps, axis=(-2, -1)), q_entropy, atol=1e-5)
    # AttributionLocalisation returns the share of the map's mass inside the region
    np.testing.assert_allclose(mass_in_region(maps, region, axis=(-2, -1)), q_mass, atol=1e-6)
    np.testing.assert_array_equal(pointing_game(maps, region, axis=(-2, -1)),
                                  np.asarray(q_point, dtype=float))  # fmt: skip


# --- ROAD -----------------------------------------------------------------------------------
def test_linear_imputation_of_a_signal_interpolates():
    x = np.array([[[0.0, 1.0, 7.0, -3.0, 4.0, 5.0]]])
    removed = np.array([[False, True, True, True, False, False]])
    np.testing.assert_allclose(noisy_linear_imputation(x, removed, noise=0.0)[0, 0],
                               [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # fmt: skip
    # an end sample has one neighbour: it copies it
    end = noisy_linear_imputation(x, np.array([[True] + [False] * 5]), noise=0.0)
    assert end[0, 0, 0] == pytest.approx(1.0)


def test_image_imputation_solves_the_neighbour_equations():
    """Every imputed pixel is the weighted mean (1/6 direct, 1/12 diagonal) of its neighbours."""
    rng = np.random.default_rng(0)
    x = rng.random((1, 2, 5, 5))
    removed = rng.random((1, 5, 5)) > 0.5
    out = noisy_linear_imputation(x, removed, noise=0.0)[0]
    np.testing.assert_array_equal(out[:, ~removed[0]], x[0][:, ~removed[0]])  # kept as they are
    for h, w in zip(*np.nonzero(removed[0]), strict=True):
        total = weight_sum = 0.0
        for dh in (-1, 0, 1):
            for dw in (-1, 0, 1):
                if (dh, dw) != (0, 0) and 0 <= h + dh < 5 and 0 <= w + dw < 5:
                    weight = 1 / 12 if dh and dw else 1 / 6
                    total = total + weight * out[:, h + dh, w + dw]
                    weight_sum += weight
        np.testing.assert_allclose(out[:, h, w], total / weight_sum, atol=1e-10)


def test_imputation_agrees_with_quantus():
    perturb = pytest.importorskip("quantus.functions.perturb_func")
    rng = np.random.default_rng(3)
    x = rng.random((3, 6, 7))
    removed = rng.random((6, 7)) > 0.6
    ours = noisy_linear_imputation(x[None], removed[None], noise=0.0)[0]
    theirs = perturb.noisy_linear_imputation(x, np.flatnonzero(removed), noise=0.0)
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


def test_imputation_noise_is_seeded_and_only_where_removed():
    x = np.zeros((2, 1, 8))
    removed = np.zeros((2, 8), bool)
    removed[:, 3] = True
    a = noisy_linear_imputation(x, removed, noise=0.5, seed=1)
    assert np.count_nonzero(a) == 2 and a[0, 0, 3] != 0
    np.testing.assert_array_equal(a, noisy_linear_imputation(x, removed, noise=0.5, seed=1))
    with pytest.raises(ValueError, match="one mask per input"):
        noisy_linear_imputation(x, removed[0])
    with pytest.raises(ValueError, match="booleans"):
        noisy_linear_imputation(x, removed.astype(int))


class _SumModel(nn.Module):
    """Two classes: logit_1 = 4 * (sum of the signal's positive part) - 2."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = self.scale * x.clamp(min=0).flatten(1).sum(1) - 2
        return torch.stack([torch.zeros_like(score), score], 1)


def test_road_curves_morf_falls_and_lerf_stays():
    """A signal whose evidence is one bump: removing the bump first (MoRF) kills the class."""
    x = np.zeros((1, 1, 20), np.float32)
    x[0, 0, 8:11] = [0.5, 1.0, 0.5]
    truth = x[:, 0].copy()
    model = _SumModel()
    fractions, morf = road_curves(model, x, truth, fractions=(0.15, 0.5), noise=0.0)
    _, lerf = road_curves(model, x, truth, fractions=(0.15, 0.5), order="lerf", noise=0.0)
    np.testing.assert_allclose(fractions, [0.0, 0.15, 0.5])
    assert morf[0, 0] == lerf[0, 0] == pytest.approx(torch.sigmoid(torch.tensor(6.0)).item())
    assert morf[0, 1] < 0.2 < 0.9 < lerf[0, 1]  # the bump's 3 samples removed and imputed
    brute = x.copy()
    brute[0, 0, 8:11] = 0.0  # linear imputation between the zero neighbours gives zeros
    expected = torch.softmax(model(torch.as_tensor(brute)), 1)[0, 1].item()
    assert morf[0, 1] == pytest.approx(expected)


def test_road_bad_input():
    x = np.zeros((2, 1, 10), np.float32)
    with pytest.raises(ValueError, match="at its resolution"):
        road_curves(_SumModel(), x, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="increasing values in"):
        road_curves(_SumModel(), x, np.zeros((2, 10)), fractions=(0.5, 0.2))
    with pytest.raises(ValueError, match="order"):
        road_curves(_SumModel(), x, np.zeros((2, 10)), order="both")
