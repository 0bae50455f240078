"""Tests of utils.planted: each case's model really uses the planted evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import utils
from utils import planted
from utils.training import evaluate, predict_proba

CASES = {
    "tabular": lambda **kw: utils.tabular_case(**kw),
    "image": lambda **kw: utils.image_case(**kw),
    "ecg": lambda **kw: utils.ecg_case(**kw),
}


def _delete(case: utils.PlantedCase, mask: np.ndarray) -> np.ndarray:
    """Probability of the target after setting the masked positions to the baseline."""
    x = case.inputs.clone()
    spatial = mask.ndim - 1
    full = np.broadcast_to(mask.reshape(len(mask), *([1] * (x.ndim - 1 - spatial)),
                                        *mask.shape[1:]), x.shape)  # fmt: skip
    x[torch.from_numpy(full.copy())] = case.baseline
    return predict_proba(case.model, x)[np.arange(len(x)), case.targets]


@pytest.mark.parametrize("name", list(CASES))
def test_shapes_and_dtypes(name):
    case = CASES[name](n=8)
    assert isinstance(case, utils.PlantedCase)
    n = len(case.inputs)
    assert n == 8 and case.inputs.dtype == torch.float32
    assert case.targets.dtype == np.int64 and case.targets.shape == (n,)
    assert case.truth.dtype == bool and case.control.dtype == bool
    assert case.truth.shape == case.control.shape
    assert case.truth.shape == (n, *case.inputs.shape[case.inputs.ndim - case.truth.ndim + 1:])
    axes = tuple(range(1, case.truth.ndim))
    assert (case.truth.sum(axes) == case.control.sum(axes)).all()  # same size
    assert not (case.truth & case.control).any()  # disjoint
    assert case.truth.any(axes).all()
    assert not case.model.training and 0.85 < case.accuracy <= 1.0
    assert isinstance(case.baseline, float) and case.patch_size >= 1
    assert name in repr(case) and case.description


@pytest.mark.parametrize("name", list(CASES))
def test_model_uses_the_planted_evidence(name):
    case = CASES[name](n=32)
    before = predict_proba(case.model, case.inputs)[np.arange(32), case.targets]
    assert before.mean() > 0.9  # the explained class is the predicted one
    drop_truth = before - _delete(case, case.truth)
    drop_control = before - _delete(case, case.control)
    assert drop_truth.mean() > 0.4, drop_truth.mean()
    assert abs(drop_control).mean() < 0.05, drop_control.mean()


def test_clean_image_model_ignores_the_marker():
    clean = utils.image_case(n=32, model="clean")
    shortcut = utils.image_case(n=32)
    assert torch.equal(clean.inputs, shortcut.inputs) and clean.name == "image-clean"
    before = predict_proba(clean.model, clean.inputs)[:, 7]
    assert before.mean() < 0.05  # the clean model does not call them 7
    assert abs(before - _delete(clean, clean.truth)).mean() < 0.05


def test_tabular_model_relies_on_the_planted_feature_only():
    model, X_test, y_test, accuracy = planted._tabular_model(0)
    rng = np.random.default_rng(0)
    drops = []
    for j in range(X_test.shape[1]):
        X = X_test.copy()
        X[:, j] = rng.permutation(X[:, j])
        drops.append(accuracy - evaluate(model, X, y_test))
    drops = np.asarray(drops)
    assert drops[planted.PLANTED] > 0.35  # to about chance (0.5)
    others = np.delete(drops, planted.PLANTED)
    assert np.abs(others).max() < 0.02, drops  # the correlate and the noise: nothing


def test_determinism_and_seeds():
    a, b = utils.tabular_case(n=16, seed=0), utils.tabular_case(n=16, seed=0)
    assert torch.equal(a.inputs, b.inputs) and a.model is b.model  # cached
    c = utils.tabular_case(n=16, seed=1)
    assert not torch.equal(a.inputs, c.inputs)
    d, e = utils.image_case(n=16, seed=0), utils.image_case(n=16, seed=1)
    assert not torch.equal(d.inputs, e.inputs) and (d.targets == 7).all()
    f, g = utils.ecg_case(n=8), utils.ecg_case(n=8)
    assert torch.equal(f.inputs, g.inputs) and np.array_equal(f.truth, g.truth)


def test_inputs_are_copies():
    case = utils.image_case(n=4)
    case.inputs.zero_()
    assert utils.image_case(n=4).inputs.abs().sum() > 0


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: utils.tabular_case(n=0), ValueError, "n: expected an integer >= 1"),
    (lambda: utils.tabular_case(n=10_000), ValueError, "n: expected at most"),
    (lambda: utils.image_case(n=2.5), TypeError, "n: expected an integer"),
    (lambda: utils.image_case(model="other"), ValueError, "model: expected one of"),
    (lambda: utils.ecg_case(seed=-1), ValueError, "seed: expected an integer >= 0"),
    (lambda: utils.ecg_case(n=1000), ValueError, "n: expected at most"),
])  # fmt: skip
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
