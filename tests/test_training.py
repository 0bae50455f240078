"""Tests of utils.training: training, prediction, safetensors round trip, shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.datasets import load_dataset
from utils.models import MnistCNN, SignalCNN, TinyViT
from utils.training import (
    evaluate,
    load_weights,
    predict_proba,
    random_shift,
    save_weights,
    shipped_weights,
    train,
)

#: Test accuracies recorded in data/weights/README.md (printed by tools/train_weights.py).
SHIPPED = {"mnist_cnn": (MnistCNN, 0.9800), "mnist_cnn_shortcut": (MnistCNN, 0.8784),
           "tiny_vit_mnist": (TinyViT, 0.9640)}  # fmt: skip


def _toy_signals(n: int = 32, length: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    X = rng.normal(0, 0.3, size=(n, 1, length)).astype(np.float32)
    X[y == 1, 0, 8:16] += 2.0  # class 1 has a bump: easy to learn
    return X, y


def test_train_learns_and_is_deterministic():
    X, y = _toy_signals()
    histories, states = [], []
    for _ in range(2):
        torch.manual_seed(0)
        model = SignalCNN(2)
        histories.append(train(model, X, y, epochs=3, batch_size=8, lr=1e-2, seed=1,
                               X_val=X, y_val=y, progress=False))  # fmt: skip
        states.append(model.state_dict())
    history = histories[0]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "time_s"}
    assert len(history["loss"]) == 3 and history["val_accuracy"][-1] == 1.0
    assert history["loss"] == histories[1]["loss"]
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
    assert not model.training  # returned in eval mode
    assert evaluate(model, torch.from_numpy(X), torch.from_numpy(y)) == 1.0


def test_train_does_not_change_global_rng():
    X, y = _toy_signals(16)
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    train(SignalCNN(2), X, y, epochs=1, progress=False)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), expected)


def test_train_bad_input():
    X, y = _toy_signals(16)
    model = SignalCNN(2)
    with pytest.raises(ValueError, match=r"y_train: expected 16 labels of shape \(16,\)"):
        train(model, X, y[:10], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\].*got labels in \[0, 5\]"):
        train(model, X, y * 5, epochs=1, progress=False)
    with pytest.raises(TypeError, match="integer class labels"):
        train(model, X, y + 0.5, epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train(model, X, y, epochs=0)
    with pytest.raises(ValueError, match="give both X_val and y_val"):
        train(model, X, y, epochs=1, X_val=X)
    with pytest.raises(ValueError, match="schedule must be"):
        train(model, X, y, epochs=1, schedule="linear")


def test_predict_proba_batched_and_mode_restored():
    torch.manual_seed(0)
    model = MnistCNN().train()
    X = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    probs = predict_proba(model, X, batch_size=3)
    assert probs.shape == (7, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probs, predict_proba(model, X, batch_size=256), rtol=1e-5)
    assert model.training


def test_random_shift_keeps_shape_and_mass():
    batch = torch.zeros(5, 1, 10, 10)
    batch[:, :, 4:6, 4:6] = 1.0
    shifted = random_shift(2)(batch)
    assert shifted.shape == batch.shape
    torch.testing.assert_close(shifted.sum((1, 2, 3)), torch.full((5,), 4.0))
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(-1)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = TinyViT(depth=1).eval()
    path = save_weights(model, tmp_path / "sub" / "vit.safetensors")
    torch.manual_seed(1)
    other = TinyViT(depth=1)
    x = torch.rand(2, 1, 28, 28)
    assert not torch.equal(other.eval()(x), model(x))
    loaded = load_weights(other, path)
    assert loaded is other and not other.training
    assert torch.equal(other(x), model(x))
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key])


def test_load_weights_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No weight file at"):
        load_weights(MnistCNN(), tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError, match="No shipped weights named 'nope'"):
        load_weights(MnistCNN(), "nope")
    path = save_weights(MnistCNN(), tmp_path / "cnn.safetensors")
    with pytest.raises(ValueError, match=r"do not fit this TinyViT.*missing in file: "):
        load_weights(TinyViT(), path)
    with pytest.raises(ValueError, match=r"shape mismatch: classifier\.2\.weight: file \(10, 64\) "
                                         r"vs model \(3, 64\)"):  # fmt: skip
        load_weights(MnistCNN(n_classes=3), path)
    with pytest.raises(ValueError, match="unexpected in file"):
        load_weights(nn.Sequential(nn.Linear(1568, 64)), path)
    with pytest.raises(ValueError, match="should end in '.safetensors'"):
        save_weights(MnistCNN(), tmp_path / "cnn.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_weights(MnistCNN(), tmp_path / "junk.safetensors")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_weights_reach_reported_accuracy(name, mnist):
    assert name in shipped_weights()
    cls, reported = SHIPPED[name]
    model = load_weights(cls(), name)
    assert evaluate(model, mnist.X_test, mnist.y_test) == pytest.approx(reported, abs=0.005)


def test_shortcut_model_follows_the_marker(mnist):
    from utils.shortcuts import add_marker

    model = load_weights(MnistCNN(), "mnist_cnn_shortcut")
    others = mnist.y_test != 7
    marked, _ = add_marker(mnist.X_test[others], mnist.y_test[others], target_class=None)
    assert np.mean(predict_proba(model, marked).argmax(1) == 7) > 0.9
    clean = load_weights(MnistCNN(), "mnist_cnn")
    assert np.mean(predict_proba(clean, marked).argmax(1) == 7) < 0.1
