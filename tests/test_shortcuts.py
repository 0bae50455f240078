"""Tests of utils.shortcuts: where the marker goes and how attribution mass is measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.shortcuts import add_marker, attribution_mass_in_region, marker_region, peak_in_region


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_marker_region_corners(corner):
    mask = marker_region((1, 10, 12), size=3, corner=corner)
    assert mask.shape == (1, 10, 12) and mask.sum() == 9
    rows, cols = np.nonzero(mask[0])
    expected_rows = range(0, 3) if corner.startswith("top") else range(7, 10)
    expected_cols = range(0, 3) if corner.endswith("left") else range(9, 12)
    assert set(rows) == set(expected_rows) and set(cols) == set(expected_cols)


@pytest.mark.parametrize("ndim", [3, 4])
def test_add_marker_only_target_class_exactly_in_region(ndim):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.5, size=(20, 1, 28, 28)).astype(np.float32)
    if ndim == 3:
        images = images[:, 0]
    labels = np.arange(20) % 4
    marked, mask = add_marker(images, labels, target_class=2, size=4, value=1.0,
                              corner="bottom-right")  # fmt: skip
    assert marked.shape == mask.shape == images.shape and marked.dtype == images.dtype
    region = marker_region(images.shape[1:], size=4, corner="bottom-right")
    for i in range(20):
        if labels[i] == 2:
            assert np.array_equal(mask[i], region)
            assert np.all(marked[i][region] == 1.0)
            np.testing.assert_array_equal(marked[i][~region], images[i][~region])
        else:
            assert not mask[i].any()
            np.testing.assert_array_equal(marked[i], images[i])
    assert images.max() <= 0.5, "the input must not be modified"


def test_add_marker_fraction_none_and_tensor_input():
    images = torch.zeros(40, 1, 8, 8)
    labels = torch.tensor([0, 1] * 20)
    _, mask = add_marker(images, labels, target_class=1, size=2, fraction=0.5, seed=3)
    marked_images = mask.any(axis=(1, 2, 3))
    assert marked_images.sum() == 10 and set(labels.numpy()[marked_images]) == {1}
    _, again = add_marker(images, labels, target_class=1, size=2, fraction=0.5, seed=3)
    np.testing.assert_array_equal(mask, again)
    _, everywhere = add_marker(images, labels, target_class=None, size=2)
    assert everywhere.any(axis=(1, 2, 3)).all()


def test_add_marker_bad_input():
    images, labels = np.zeros((4, 1, 8, 8)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"target_class \[5\] does not occur"):
        add_marker(images, labels, target_class=5)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        add_marker(images, labels[:3], target_class=0)
    with pytest.raises(ValueError, match="images must be"):
        add_marker(images[0, 0], labels, target_class=0)
    with pytest.raises(ValueError, match=r"fraction must lie in \[0, 1\]"):
        add_marker(images, labels, target_class=0, fraction=1.5)
    with pytest.raises(ValueError, match=r"size must lie in \[1, 8\]"):
        add_marker(images, labels, target_class=0, size=9)
    with pytest.raises(ValueError, match="corner must be one of"):
        add_marker(images, labels, target_class=0, corner="middle")


def test_attribution_mass_constructed_examples():
    region = marker_region((28, 28), size=4)
    inside = np.where(region, -2.0, 0.0)  # negative attribution counts by magnitude
    assert attribution_mass_in_region(inside, region) == 1.0
    assert attribution_mass_in_region(np.ones((28, 28)), region) == pytest.approx(16 / 784)
    assert attribution_mass_in_region(np.ones((1, 28, 28)), region) == pytest.approx(16 / 784)
    assert attribution_mass_in_region(np.ones((28, 28)), region[None]) == pytest.approx(16 / 784)
    assert attribution_mass_in_region(np.where(region, 0.0, 1.0), region) == 0.0
    batch = np.stack([np.where(region, 1.0, 0.0)[None], np.ones((1, 28, 28))])  # (2, 1, 28, 28)
    assert attribution_mass_in_region(batch, region) == pytest.approx(32 / (16 + 784))
    assert attribution_mass_in_region(
        torch.ones(2, 1, 28, 28), np.stack([region[None]] * 2)
    ) == pytest.approx(16 / 784)
    assert np.isnan(attribution_mass_in_region(np.zeros((28, 28)), region))


def test_attribution_mass_bad_shapes():
    region = marker_region((28, 28), size=4)
    with pytest.raises(ValueError, match=r"mask of shape \(14, 14\) does not fit attribution"):
        attribution_mass_in_region(np.ones((28, 28)), region[:14, :14])
    with pytest.raises(ValueError, match="does not fit"):
        attribution_mass_in_region(np.ones((28, 28)), np.ones((3, 28, 28), dtype=bool))
    with pytest.raises(ValueError, match="at least 2 axes"):
        attribution_mass_in_region(np.ones(28), region)
    with pytest.raises(ValueError, match="boolean"):
        attribution_mass_in_region(np.ones((28, 28)), region * 0.5)
    with pytest.raises(ValueError, match="NaN"):
        attribution_mass_in_region(np.full((28, 28), np.nan), region)


def test_peak_in_region_constructed_examples():
    region = marker_region((28, 28), size=4)
    maps = np.zeros((4, 28, 28))
    maps[0, 2, 3] = 1.0  # peak on the marker
    maps[1, 20, 20] = 1.0  # peak elsewhere
    maps[2] = np.where(region, -3.0, 1.0)  # a negative peak counts by magnitude
    maps[3] = 1.0  # constant: every pixel ties, so the score is the area fraction
    np.testing.assert_allclose(peak_in_region(maps, region), [1.0, 0.0, 1.0, 16 / 784])
    # most mass elsewhere, peak on the marker: the two scores disagree by design
    spread = np.where(region, 0.0, 0.5)
    spread[0, 0] = 1.0
    assert attribution_mass_in_region(spread, region) < 0.01
    assert peak_in_region(spread[None], region).tolist() == [1.0]
    # channels are summed in magnitude; one region per map; tensors work
    rgb = torch.zeros(2, 3, 28, 28)
    rgb[0, :, 27, 27] = torch.tensor([1.0, -1.0, 1.0])
    rgb[1, 0, 0, 0] = 2.0
    per_map = np.stack([marker_region((28, 28), 4, "bottom-right"), region])
    assert peak_in_region(rgb, per_map).tolist() == [1.0, 1.0]
    assert peak_in_region(rgb, region).tolist() == [0.0, 1.0]


def test_peak_in_region_bad_input():
    region = marker_region((28, 28), size=4)
    with pytest.raises(ValueError, match=r"for one map pass a\[None\]"):
        peak_in_region(np.ones((28, 28)), region)
    with pytest.raises(ValueError, match=r"mask of shape \(14, 14\) does not fit maps"):
        peak_in_region(np.ones((2, 28, 28)), region[:14, :14])
    with pytest.raises(ValueError, match="empty"):
        peak_in_region(np.ones((1, 28, 28)), np.zeros((28, 28), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        peak_in_region(np.ones((1, 28, 28)), region * 0.5)
    with pytest.raises(ValueError, match="NaN"):
        peak_in_region(np.full((1, 28, 28), np.inf), region)
