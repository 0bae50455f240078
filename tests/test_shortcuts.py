"""Tests of utils.shortcuts: where the marker goes and how attribution mass is measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.shortcuts import add_marker, marker_region


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
