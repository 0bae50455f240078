"""Group fairness measures against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from utils.fairness import disparate_impact_ratio, selection_rates


def test_selection_rates_by_hand():
    rates = selection_rates(np.array([1, 0, 0, 1, 1, 1]), ["f", "f", "f", "m", "m", "m"])
    assert rates.to_dict() == pytest.approx({"f": 1 / 3, "m": 1.0})
    assert disparate_impact_ratio([1, 0, 0, 1, 1, 1], list("fffmmm"), "f", "m") == pytest.approx(
        1 / 3
    )


def test_fairness_bad_input():
    with pytest.raises(ValueError, match="has 2 entries but groups has 3"):
        selection_rates([1, 0], ["a", "b", "c"])
    with pytest.raises(ValueError, match="binary predictions"):
        selection_rates([0.3, 0.7], ["a", "b"])
    with pytest.raises(ValueError, match="must be 1-D"):
        selection_rates([[1, 0]], [["a", "b"]])
    with pytest.raises(ValueError, match="group 'x' not found"):
        disparate_impact_ratio([1, 0], ["a", "b"], "x", "a")
    with pytest.raises(ValueError, match="no positive prediction"):
        disparate_impact_ratio([1, 0], ["a", "b"], "a", "b")
