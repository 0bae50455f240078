"""Group fairness measures used in the bias discussions."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _check_pair(y_pred: object, groups: object) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_pred)
    g = np.asarray(groups)
    if y.ndim != 1 or g.ndim != 1:
        raise ValueError(f"y_pred and groups must be 1-D, got shapes {y.shape} and {g.shape}")
    if len(y) != len(g):
        raise ValueError(f"y_pred has {len(y)} entries but groups has {len(g)}")
    if len(y) == 0:
        raise ValueError("y_pred is empty")
    if not np.isin(y, [0, 1, True, False]).all():
        raise ValueError("y_pred must hold binary predictions (0/1), e.g. model.predict(X)")
    return y.astype(float), g


def selection_rates(y_pred: object, groups: object) -> pd.Series:
    """Share of positive predictions in each group.

    Parameters
    ----------
    y_pred : array_like of shape (n,)
        Binary predictions (1 = positive decision).
    groups : array_like of shape (n,)
        Group of each row (e.g. the ``sex`` column, decoded).

    Returns
    -------
    pandas.Series
        Selection rate indexed by group, sorted by group name.

    Examples
    --------
    >>> selection_rates([1, 0, 1, 1], ["a", "a", "b", "b"]).to_dict()
    {'a': 0.5, 'b': 1.0}
    """
    y, g = _check_pair(y_pred, groups)
    return pd.Series(y).groupby(g).mean().sort_index().rename("selection_rate")


def disparate_impact_ratio(y_pred: object, groups: object, protected: object,
                           reference: object) -> float:  # fmt: skip
    """Selection rate of the ``protected`` group divided by that of ``reference``.

    Values below 0.8 fail the "four-fifths rule" of US employment law, a common
    (and crude) screen for adverse impact.

    Raises
    ------
    TypeError
        If ``protected`` or ``reference`` is not a single group label.
    ValueError
        If a group is absent or the reference group has no positive prediction.
    """
    rates = selection_rates(y_pred, groups)
    for what, name in (("protected", protected), ("reference", reference)):
        if isinstance(name, (np.ndarray, list, tuple, set, dict)) or name is None:
            raise TypeError(f"{what}: expected one group label such as 'female', got "
                            f"{type(name).__name__}")  # fmt: skip
        if name not in rates.index:
            raise ValueError(f"{what}: group {name!r} not found; groups are "
                             f"{list(rates.index)}")  # fmt: skip
    if rates[reference] == 0:
        raise ValueError(f"reference group {reference!r} has no positive prediction")
    return float(rates[protected] / rates[reference])
