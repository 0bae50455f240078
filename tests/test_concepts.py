"""utils.concepts against constructed cases, captum's TCAV, scikit-learn and SciPy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from utils.concepts import (
    concept_activation_vector,
    concept_sensitivity,
    layer_gradients,
    regression_concept_vector,
    stroke_thickness,
    tcav_p_value,
    tcav_score,
)

D = 8
DIRECTION = np.eye(D)[2] * 0.6 + np.eye(D)[5] * 0.8  # unit, the planted concept direction


def _separable(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    random = rng.normal(size=(n, D))
    concept = rng.normal(size=(n, D)) + 3.0 * DIRECTION
    return concept, random


def test_cav_points_along_the_planted_direction_and_is_a_unit_vector():
    concept, random = _separable(0, n=500)
    v = concept_activation_vector(concept, random)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert v @ DIRECTION > 0.95
    # swapping the sets flips the CAV: it points towards the concept
    assert concept_activation_vector(random, concept) @ DIRECTION < -0.95


class _Net(nn.Module):
    """x -> layer (identity map) -> [ReLU] -> two logits; without ReLU logit 1 = W[1] . x."""

    def __init__(self, weights: np.ndarray, relu: bool = False) -> None:
        super().__init__()
        self.relu = relu
        self.layer = nn.Linear(D, D, bias=False)
        self.head = nn.Linear(D, 2, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(torch.eye(D))
            self.head.weight.copy_(torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.layer(x)
        return self.head(torch.relu(hidden) if self.relu else hidden)


def test_layer_gradients_are_the_head_weights_of_a_linear_network():
    weights = np.random.default_rng(1).normal(size=(2, D))
    x = np.random.default_rng(2).normal(size=(5, D)).astype(np.float32)
    acts, grads = layer_gradients(_Net(weights), "layer", x, target=1, batch_size=2)
    np.testing.assert_allclose(acts, x, rtol=1e-6)
    np.testing.assert_allclose(grads, np.tile(weights[1], (5, 1)), rtol=1e-6)
    _, grads = layer_gradients(_Net(weights), "layer", x, target=[0, 1, 0, 1, 0])
    np.testing.assert_allclose(grads[1], weights[1], rtol=1e-6)
    np.testing.assert_allclose(grads[2], weights[0], rtol=1e-6)


def test_sensitivity_and_tcav_score_by_brute_force():
    rng = np.random.default_rng(3)
    grads, v = rng.normal(size=(50, D)), rng.normal(size=D)
    loop = np.array([sum(g_i * v_i for g_i, v_i in zip(g, v, strict=True)) for g in grads])
    np.testing.assert_allclose(concept_sensitivity(grads, v), loop / np.linalg.norm(v))
    assert tcav_score(grads, v) == np.mean(loop > 0)
    assert tcav_score(grads, -v) == np.mean(loop < 0)


def _captum_tcav(net, inputs, concept, random, classifier, tmp_path):
    from captum.concept import TCAV, Concept

    def loader(x):
        return torch.utils.data.DataLoader(torch.as_tensor(x, dtype=torch.float32),
                                           batch_size=len(x))  # fmt: skip

    concepts = [Concept(0, "concept", loader(concept)), Concept(1, "random", loader(random))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the default classifier warns about memory use
        tcav = TCAV(net, ["layer"], classifier=classifier, save_path=str(tmp_path))
        scores = tcav.interpret(torch.as_tensor(inputs, dtype=torch.float32), [concepts],
                                target=1)  # fmt: skip
    cav = tcav.cavs["0-1"]["layer"].stats["weights"]
    return float(scores["0-1"]["layer"]["sign_count"][0]), cav


def test_tcav_score_equals_captum_with_our_cav_and_captums_sgd_cav_agrees(tmp_path):
    from captum.concept._utils.classifier import Classifier, DefaultClassifier

    concept, random = _separable(4)
    ours = concept_activation_vector(concept, random)

    class OurCav(Classifier):
        def __init__(self) -> None:
            pass

        def train_and_eval(self, dataloader, **kwargs):
            return {}

        def weights(self):  # one row per class, in the order of classes()
            return torch.as_tensor(np.stack([-ours, ours]), dtype=torch.float32)

        def classes(self):
            return [1, 0]  # row 0 = -CAV belongs to concept id 1 (random), row 1 to id 0

    rng = np.random.default_rng(5)
    weights = rng.normal(size=(2, D))
    weights[1, 2], weights[1, 5] = 1.0, -1.0  # along the CAV: +0.6 or -0.8 per active unit
    net = _Net(weights, relu=True)  # the ReLU makes the gradient differ between inputs
    inputs = rng.normal(size=(40, D))
    score, _ = _captum_tcav(net, inputs, concept, random, OurCav(), tmp_path / "ours")
    _, grads = layer_gradients(net, "layer", inputs, target=1)
    assert score == pytest.approx(tcav_score(grads, ours))  # captum: float32
    assert 0.0 < score < 1.0  # a non-trivial score: the sign differs between inputs

    torch.manual_seed(0)
    import random as python_random

    python_random.seed(0)  # captum's train/test split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the default classifier warns about memory use
        default = DefaultClassifier()
    _, sgd_cav = _captum_tcav(net, inputs, concept, random, default, tmp_path / "sgd")
    sgd_concept = sgd_cav[0].double().numpy()  # row of concept id 0 (classes sorted 0, 1)
    cosine = sgd_concept @ ours / np.linalg.norm(sgd_concept)
    assert cosine > 0.9, cosine


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_two_sided_t_test_against_random_cavs_on_a_constructed_case():
    """A logit that depends on the concept direction: its CAVs score 1, random CAVs vary."""
    rng = np.random.default_rng(6)
    gradients = DIRECTION + 0.3 * rng.normal(size=(30, D))  # the logit rises along DIRECTION
    concept_scores, random_scores, unrelated_scores = [], [], []
    unrelated = np.eye(D)[0]  # orthogonal to DIRECTION: the logit does not depend on it
    for run in range(10):
        concept, random = _separable(100 + run, n=30)
        other = np.random.default_rng(200 + run).normal(size=(30, D))
        concept_scores.append(tcav_score(gradients, concept_activation_vector(concept, random)))
        random_scores.append(tcav_score(gradients, concept_activation_vector(other, random)))
        shifted = other + 3.0 * unrelated
        unrelated_scores.append(tcav_score(gradients, concept_activation_vector(shifted, random)))
    assert np.mean(concept_scores) > 0.95
    p = tcav_p_value(concept_scores, random_scores)
    assert p < 0.01
    assert p == pytest.approx(stats.ttest_ind(concept_scores, random_scores).pvalue)
    assert stats.ttest_ind(concept_scores, random_scores, alternative="greater").pvalue \
        == pytest.approx(p / 2)  # two-sided: twice the one-sided p  # fmt: skip
    assert tcav_p_value(unrelated_scores, random_scores) > 0.05


def test_p_value_of_constant_samples():
    assert tcav_p_value([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert tcav_p_value([1.0, 1.0], [0.0, 0.0]) == 0.0


def test_rcv_recovers_the_regression_direction_and_its_r2_matches_numpy():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, D))
    y = 2.0 * X @ DIRECTION + 0.5 + 0.1 * rng.normal(size=200)
    v, r2 = regression_concept_vector(X[:150], y[:150], X[150:], y[150:], alpha=0.0)
    coef = np.linalg.lstsq(np.c_[X[:150], np.ones(150)], y[:150], rcond=None)[0]
    np.testing.assert_allclose(v, coef[:D] / np.linalg.norm(coef[:D]), atol=1e-8)
    pred = np.c_[X[150:], np.ones(50)] @ coef
    expected = 1 - np.sum((y[150:] - pred) ** 2) / np.sum((y[150:] - y[150:].mean()) ** 2)
    assert r2 == pytest.approx(expected)
    assert v @ DIRECTION > 0.99 and r2 > 0.98


def test_stroke_thickness_of_bars():
    images = np.zeros((3, 28, 28))
    images[0, 4:24, 10:12] = 1.0  # a vertical bar 2 px wide, 20 px long
    images[1, 4:24, 10:14] = 1.0  # 4 px wide
    thick = stroke_thickness(images)
    assert thick[2] == 0.0  # no ink
    assert 1.5 < thick[0] < 2.6 and 3.2 < thick[1] < 5.0
    assert stroke_thickness(images[:, None]).tolist() == thick.tolist()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: concept_activation_vector(np.ones((4, 3)), np.ones((4, 2))), "expected 3 features"),
    (lambda: concept_activation_vector(np.ones(3), np.ones((4, 3))), "2-D array"),
    (lambda: concept_activation_vector(np.ones((4, 3)), np.ones((4, 3)), C=0), "C: expected"),
    (lambda: tcav_score(np.ones((4, 3)), np.zeros(3)), "non-zero"),
    (lambda: tcav_p_value([0.5, 1.5], [0.1, 0.2]), "in \\[0, 1\\]"),
    (lambda: tcav_p_value([0.5], [0.1, 0.2]), "at least 2"),
    (lambda: regression_concept_vector(np.ones((4, 2)), np.ones(4), np.ones((2, 2)),
                                       np.arange(2.0)), "varies"),  # fmt: skip
    (lambda: stroke_thickness(np.full((1, 4, 4), 2.0)), "\\[0, 1\\]"),
    (lambda: layer_gradients(_Net(np.ones((2, D))), "layer", np.ones((2, D)), target=2),
     "target: expected classes"),
    (lambda: layer_gradients(_Net(np.ones((2, D))), "layer", np.ones((2, D)), target=[1]),
     "one per input"),
])  # fmt: skip
def test_clear_errors(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()
