"""Tests of utils.uncertainty against brute-force references and known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import rotate
from scipy.special import softmax
from scipy.stats import entropy
from torch import nn

from utils.uncertainty import (
    DropoutCNN,
    expected_calibration_error,
    fit_temperature,
    mc_dropout_predict,
    mutual_information,
    predictive_entropy,
    reliability_bins,
    shift_images,
)


def _random_probs(n: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = softmax(rng.normal(0, 2, (n, c)), axis=1)
    labels = rng.integers(0, c, n)
    return probs, labels


def _ece_loop(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """ECE by a plain loop over the bins (lo, hi]: the brute-force reference."""
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(len(probs))
                   if (lo < probs[i].max() <= hi) or (b == 0 and probs[i].max() == 0)]
        if not members:
            continue
        acc = np.mean([probs[i].argmax() == labels[i] for i in members])
        conf = np.mean([probs[i].max() for i in members])
        total += len(members) / len(probs) * abs(acc - conf)
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 15])
@pytest.mark.parametrize("seed", [0, 1])
def test_ece_matches_a_loop_over_bins(n_bins, seed):
    probs, labels = _random_probs(300, 4, seed)
    assert expected_calibration_error(probs, labels, n_bins) == pytest.approx(
        _ece_loop(probs, labels, n_bins), abs=1e-12)


def test_ece_known_values_and_bins():
    # one bin, all confident 0.9 and 90 % right: perfectly calibrated
    probs = np.tile([0.9, 0.1], (10, 1))
    labels = np.array([0] * 9 + [1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)
    # a confidence on a bin edge (0.8 with 5 bins) belongs to the lower bin (0.6, 0.8]
    bins = reliability_bins([[0.8, 0.2]], [0], n_bins=5)
    assert bins["count"].tolist() == [0, 0, 0, 1, 0]
    assert np.isnan(bins["accuracy"][0])


def test_entropy_and_mutual_information_against_scipy():
    probs, _ = _random_probs(50, 5, 2)
    np.testing.assert_allclose(predictive_entropy(probs), entropy(probs, axis=1), rtol=1e-12)
    samples = np.stack([_random_probs(50, 5, s)[0] for s in range(4)])
    expected = entropy(samples.mean(0), axis=1) - entropy(samples, axis=2).mean(0)
    np.testing.assert_allclose(mutual_information(samples), expected, atol=1e-12)
    same = np.stack([probs, probs])
    np.testing.assert_allclose(mutual_information(same), 0.0, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_temperature_scaling_recovers_a_known_temperature(temperature):
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, (20000, 5))
    cumulative = softmax(true_logits, axis=1).cumsum(1)
    labels = (rng.random((20000, 1)) > cumulative).sum(1)  # drawn from softmax(true_logits)
    fitted = fit_temperature(true_logits * temperature, labels)
    assert fitted == pytest.approx(temperature, rel=0.05)


class _WithBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.drop(self.bn(x)))


def test_mc_dropout_keeps_batch_norm_in_eval_mode():
    torch.manual_seed(0)
    model = _WithBatchNorm()
    with torch.no_grad():
        model.bn.running_mean.fill_(5.0)
        model.bn.running_var.fill_(4.0)
    model.train()  # the modes must be restored, whatever they were
    x = torch.randn(8, 4) * 10
    samples = mc_dropout_predict(model, x, n_samples=6, seed=3)
    assert samples.shape == (6, 8, 3)
    assert model.training and model.bn.training and model.drop.training  # restored
    assert model.bn.running_mean.tolist() == [5.0] * 4  # not updated
    assert model.bn.num_batches_tracked.item() == 0
    # reference: BN with the running statistics, dropout masks from the same seed
    model.eval()
    model.drop.train()
    torch.manual_seed(3)
    with torch.no_grad():
        expected = np.stack([torch.softmax(model(x), 1).numpy() for _ in range(6)])
    np.testing.assert_allclose(samples, expected, rtol=1e-5, atol=1e-7)
    assert samples.std(0).max() > 0.01  # the dropout masks differ between passes
    # a batch-norm in training mode (model.train()) would give other probabilities
    model.train()
    torch.manual_seed(3)
    with torch.no_grad():
        wrong = np.stack([torch.softmax(model(x), 1).numpy() for _ in range(6)])
    assert np.abs(wrong - samples).max() > 0.05


def test_mc_dropout_is_reproducible_and_needs_dropout():
    torch.manual_seed(0)
    model = DropoutCNN().eval()
    x = torch.rand(3, 1, 28, 28)
    a = mc_dropout_predict(model, x, n_samples=3, seed=1, batch_size=2)
    b = mc_dropout_predict(model, x, n_samples=3, seed=1, batch_size=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="no dropout layer"):
        mc_dropout_predict(nn.Sequential(nn.Flatten(), nn.Linear(784, 2)), x)


def test_dropout_cnn_shapes_and_errors():
    model = DropoutCNN(n_classes=3, p=0.1)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    assert model.target_layer is model.features[4]
    with pytest.raises(ValueError, match="p"):
        DropoutCNN(p=1.0)
    with pytest.raises(ValueError, match="28, 28"):
        model(torch.zeros(2, 1, 14, 14))


def test_shift_images():
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 8, 8)).astype(np.float32)
    for kind in ("rotation", "noise", "contrast"):
        np.testing.assert_array_equal(shift_images(x, kind, 0.0), x)
    expected = np.clip(rotate(x, 30, axes=(-2, -1), reshape=False, order=1), 0, 1)
    np.testing.assert_allclose(shift_images(x, "rotation", 30), expected, rtol=1e-6)
    flat = shift_images(x, "contrast", 1.0)
    np.testing.assert_allclose(flat, np.broadcast_to(x.mean((2, 3), keepdims=True), x.shape),
                               rtol=1e-6)  # fmt: skip
    noisy = shift_images(x, "noise", 0.2, seed=1)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, x)
    np.testing.assert_array_equal(noisy, shift_images(x, "noise", 0.2, seed=1))


@pytest.mark.parametrize("call, match", [
    (lambda: expected_calibration_error([[0.5, 0.6]], [0]), "summing to 1"),
    (lambda: expected_calibration_error([[0.5, 0.5]], [2]), "labels"),
    (lambda: expected_calibration_error([[0.5, 0.5]], [0], n_bins=0), "n_bins"),
    (lambda: predictive_entropy([0.5, 0.5]), "probs"),
    (lambda: mutual_information([[0.5, 0.5]]), "samples"),
    (lambda: fit_temperature([[1.0, 2.0]], [0, 1]), "labels"),
    (lambda: shift_images(np.zeros((1, 1, 4, 4)), "blur", 1.0), "kind"),
    (lambda: shift_images(np.zeros((1, 1, 4, 4)), "contrast", 2.0), "severity"),
    (lambda: shift_images(np.zeros((1, 1, 4, 4)), "noise", -0.1), "severity"),
])  # fmt: skip
def test_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


#: Test accuracies of the shipped ensemble recorded in data/weights/README.md.
ENSEMBLE_ACCURACY = {0: 0.9816, 1: 0.9768, 2: 0.9848, 3: 0.9808, 4: 0.9832}


@pytest.fixture(scope="module")
def mnist():
    from utils.datasets import load_dataset

    return load_dataset("mnist")


@pytest.mark.parametrize("k", sorted(ENSEMBLE_ACCURACY))
def test_shipped_ensemble_reaches_reported_accuracy(k, mnist):
    from utils.training import evaluate, load_weights

    model = load_weights(DropoutCNN(), f"mnist_dropout_cnn_{k}")
    assert not model.training
    accuracy = evaluate(model, mnist.X_test, mnist.y_test)
    assert accuracy == pytest.approx(ENSEMBLE_ACCURACY[k], abs=0.005)
