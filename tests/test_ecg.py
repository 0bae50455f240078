"""Unit tests of utils.ecg: the simulated ECG set and its ground-truth regions."""

from __future__ import annotations

import numpy as np
import pytest

import utils
from utils import ecg

N = 40  # beats per class: small, the simulation costs about 0.4 s


@pytest.fixture(scope="module", params=["wide_qrs", "inverted_t"])
def data(request) -> ecg.EcgData:
    return utils.make_ecg_dataset(n_per_class=N, abnormality=request.param, seed=0)


def _all(d: ecg.EcgData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ds = d.dataset
    return (np.r_[ds.X_train, ds.X_test], np.r_[ds.y_train, ds.y_test],
            np.r_[d.regions_train, d.regions_test])  # fmt: skip


def test_shapes_types_and_balance(data):
    ds = data.dataset
    assert isinstance(ds, utils.Dataset) and isinstance(data, utils.EcgData)
    assert ds.X_train.dtype == np.float32 and ds.X_train.shape == (60, 100)
    assert ds.X_test.shape == (20, 100) and data.fs == 100.0
    assert data.regions_train.shape == (60, 2) and data.regions_train.dtype == np.int64
    assert data.regions_test.shape == (20, 2)
    _, y, _ = _all(data)
    assert np.bincount(y).tolist() == [N, N]
    assert np.bincount(ds.y_test).tolist() == [10, 10]  # stratified
    assert ds.class_names[0] == "normal" and ds.name == f"ecg_{data.abnormality}"
    assert np.isfinite(ds.X_train).all()


def test_regions_within_bounds_and_where_expected(data):
    X, _, regions = _all(data)
    start, stop = regions.T
    assert np.all(0 <= start) and np.all(start < stop) and np.all(stop <= X.shape[1])
    r_peak = X[:, :50].argmax(axis=1)  # the R peak: the largest sample in the first 0.5 s
    if data.abnormality == "wide_qrs":  # a window around the R peak, 0.2-0.35 s long
        assert np.all((start < r_peak) & (r_peak < stop))
        assert np.all((stop - start >= 20) & (stop - start <= 35))
    else:  # the T wave, after the QRS complex
        assert np.all(start > r_peak + 3)
        assert np.all((stop - start >= 15) & (stop - start <= 45))


def test_deterministic_with_seed():
    first, again, other = (utils.make_ecg_dataset(n_per_class=10, abnormality="inverted_t",
                                                  seed=seed) for seed in (0, 0, 1))  # fmt: skip
    np.testing.assert_array_equal(again.dataset.X_train, first.dataset.X_train)
    np.testing.assert_array_equal(again.dataset.y_test, first.dataset.y_test)
    np.testing.assert_array_equal(again.regions_test, first.regions_test)
    assert not np.array_equal(other.dataset.X_train, first.dataset.X_train)


def test_planted_change_is_exactly_inside_the_region():
    """Before noise, a beat with and without the abnormality differ only inside the region."""
    pool = ecg._beat_pool(5, np.random.default_rng(0))
    for abnormality, factor in (("wide_qrs", 1.8), ("inverted_t", 0.7)):
        for beat in pool:
            for fs, length, r_out in ((100.0, 100, 27), (250.0, 300, 80), (360.0, 360, 110)):
                args = (beat, abnormality, factor)
                clean, s0, e0 = ecg._sample(*args, False, r_out, length, fs)
                sick, s1, e1 = ecg._sample(*args, True, r_out, length, fs)
                assert (s0, e0) == (s1, e1)
                diff = np.abs(sick - clean)
                outside = np.r_[diff[:s1], diff[e1:]]
                assert outside.max(initial=0.0) < 1e-12
                assert (diff[s1:e1] > 1e-4).mean() > 0.7  # changed almost everywhere inside
                # tight: the samples at both ends of the region did change
                assert diff[s1] > 0 and diff[e1 - 1] > 0


def _baseline(X: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Median of each beat outside its region (the region itself differs by class)."""
    return np.array([np.median(np.r_[x[:a], x[b:]]) for x, (a, b) in zip(X, regions, strict=True)])


def test_inverted_t_flips_the_wave_in_the_region_only():
    d = utils.make_ecg_dataset(n_per_class=N, abnormality="inverted_t", seed=3)
    X, y, regions = _all(d)
    base = _baseline(X, regions)
    inside = np.array([x[a:b].mean() for x, (a, b) in zip(X, regions, strict=True)]) - base
    before = np.array([x[: a - 3].mean() for x, (a, _) in zip(X, regions, strict=True)]) - base
    assert inside[y == 0].mean() > 0.1 and inside[y == 1].mean() < -0.05  # T up vs T down
    assert np.mean(inside[y == 0] > 0) > 0.9 and np.mean(inside[y == 1] < 0) > 0.9
    # P wave and QRS before the region: no systematic difference between the classes
    assert abs(before[y == 0].mean() - before[y == 1].mean()) < 0.05


def _qrs_width(x: np.ndarray, a: int, b: int) -> int:
    """Samples around the R peak above half its height over the local baseline."""
    seg = x[a:b]
    half = (seg.max() + np.median(x)) / 2
    peak = int(seg.argmax())
    lo = peak
    while lo > 0 and seg[lo - 1] > half:
        lo -= 1
    hi = peak
    while hi < len(seg) - 1 and seg[hi + 1] > half:
        hi += 1
    return hi - lo + 1


def test_wide_qrs_is_wider_in_the_region_only():
    d = utils.make_ecg_dataset(n_per_class=N, abnormality="wide_qrs", seed=3)
    X, y, regions = _all(d)
    width = np.array([_qrs_width(x, a, b) for x, (a, b) in zip(X, regions, strict=True)])
    assert width[y == 1].mean() > 1.4 * width[y == 0].mean()
    # the T wave after the region keeps its height in both classes
    base = _baseline(X, regions)
    after = np.array([x[b:].max() for x, (_, b) in zip(X, regions, strict=True)]) - base
    assert abs(after[y == 0].mean() - after[y == 1].mean()) < 0.1


def test_no_single_sample_separates_the_classes(data):
    X, y, _ = _all(data)
    order = np.argsort(X, axis=0)
    ys = y[order]  # labels sorted by each sample's value
    # accuracy of "class 1 above the threshold" (or below) at every cut of every sample
    ones_below = np.cumsum(ys, axis=0)
    zeros_below = np.arange(1, len(y) + 1)[:, None] - ones_below
    acc = (zeros_below + (y.sum() - ones_below)) / len(y)
    assert np.maximum(acc, 1 - acc).max() < 0.97


def test_other_rates_and_lengths_quietly(capsys):
    d = utils.make_ecg_dataset(n_per_class=10, length=360, fs=250.0, abnormality="inverted_t")
    assert d.dataset.X_train.shape == (15, 360)
    assert np.all(d.regions_train[:, 1] <= 360)
    assert "250 Hz" in repr(d)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"abnormality": "st_elevation"}, "Unknown abnormality 'st_elevation'; expected one of"),
        ({"n_per_class": 5}, "n_per_class must be an integer >= 10, got 5"),
        ({"n_per_class": 20.5}, "n_per_class must be an integer >= 10, got 20.5"),
        ({"fs": 1000}, r"fs must be a sampling rate in \[50, 500\] Hz, got 1000"),
        ({"length": 50}, r"length / fs in \[0.9, 2.0\] s .*got length=50"),
        ({"length": 100.0}, "got length=100.0"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"test_size": 1.5}, r"test_size must be a fraction in \(0, 1\), got 1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.make_ecg_dataset(**kwargs)
