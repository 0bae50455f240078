"""Tests of utils.hooks: activations from forward hooks, top images, receptive fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.hooks import (
    ActivationRecorder,
    get_layer,
    layer_names,
    receptive_fields,
    record_activations,
    top_activating,
)


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def test_record_activations_equals_running_the_submodules(model, x):
    maps = record_activations(model, ["features.0", model.target_layer], x, batch_size=7)
    with torch.no_grad():
        assert torch.allclose(maps["features.0"], model.features[:1](x), atol=1e-6)
        assert torch.allclose(maps["features.3"], model.features[:4](x), atol=1e-6)
    assert maps["features.3"].shape == (20, 32, 14, 14)
    assert no_hooks(model)


def test_recorder_collects_several_passes_and_removes_hooks(model, x):
    with ActivationRecorder(model, "classifier.0") as rec:
        model(x[:5])
        model(x[5:8])
        assert not no_hooks(model)
    assert rec.activations["classifier.0"].shape == (8, 64)
    assert no_hooks(model)


def test_hooks_removed_after_error(model):
    with pytest.raises(ValueError):
        with ActivationRecorder(model, "features.0"):
            model(torch.zeros(1, 1, 20, 20))  # wrong size: MnistCNN raises
    assert no_hooks(model)


def test_unknown_layer_lists_available_names(model, x):
    with pytest.raises(ValueError, match=r"no layer named 'features\.9'.*features\.3"):
        record_activations(model, "features.9", x)
    with pytest.raises(ValueError, match="not a layer of this MnistCNN"):
        get_layer(model, nn.Conv2d(1, 1, 3))
    with pytest.raises(TypeError, match="layer name"):
        get_layer(model, 3)
    assert "features.3" in layer_names(model)


def test_top_activating_matches_direct_computation(model, x):
    idx, scores = top_activating(model, "features.3", x, channel=5, k=4)
    with torch.no_grad():
        direct = model.features[:4](x)[:, 5].amax(dim=(1, 2)).numpy()
    assert np.array_equal(idx, np.argsort(-direct, kind="stable")[:4])
    assert np.allclose(scores, np.sort(direct)[::-1][:4], atol=1e-6)
    with pytest.raises(ValueError, match=r"channel must be an integer in \[0, 31\]"):
        top_activating(model, "features.3", x, channel=32)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 20\]"):
        top_activating(model, "features.3", x, channel=0, k=0)


def test_receptive_fields_of_mnist_cnn(model):
    rows = receptive_fields(model.features)
    assert [r["receptive_field"] for r in rows] == [3, 3, 4, 8, 8, 10]
    assert [r["jump"] for r in rows] == [1, 1, 2, 2, 2, 4]
    assert [r["start"] for r in rows] == [0.0, 0.0, 0.5, 0.5, 0.5, 1.5]
    with pytest.raises(TypeError, match="Linear"):
        receptive_fields([nn.Linear(2, 2)])


def test_receptive_field_brute_force():
    """The input-gradient support of one output unit spans exactly the receptive field."""
    stack = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Conv2d(1, 1, 5, padding=2, dilation=1), nn.AvgPool2d(3, stride=2),
                          nn.Conv2d(1, 1, 3, padding=2, dilation=2))  # fmt: skip
    for m in stack:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.zeros_(m.bias)
    x = torch.ones(1, 1, 64, 64, requires_grad=True)
    out = stack(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad[0, 0] != 0).any(dim=1).nonzero()
    extent = int(rows.max() - rows.min() + 1)
    last = receptive_fields(stack)[-1]
    assert last["receptive_field"] == extent
    centre = last["start"] + last["jump"] * (out.shape[2] // 2)
    assert float(rows.min() + rows.max()) / 2 == centre


def test_recorded_activations_are_copies():
    """An in-place ReLU after the hooked conv must not change the recorded output."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True))
    maps = record_activations(net, "0", torch.randn(2, 1, 8, 8))["0"]
    assert (maps < 0).any()
