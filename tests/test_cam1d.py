"""Tests of utils.cam1d: exact CAM for signals, Grad-CAM equivalence, region scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.cam1d import (
    library_grad_cam_1d,
    signal_cam,
    upsample_1d,
)
from utils.gradcam import grad_cam
from utils.models import SignalCNN


@pytest.fixture(scope="module")
def model_and_x() -> tuple[SignalCNN, torch.Tensor]:
    torch.manual_seed(0)
    model = SignalCNN(n_classes=3)
    # non-trivial BatchNorm statistics, so that eval mode differs from the initial state
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 60) * 2 + 0.5)
    model.eval()
    return model, torch.randn(5, 60)


def test_cam_is_gap_weighted_feature_maps_and_reproduces_logits(model_and_x):
    model, x = model_and_x
    with torch.no_grad():
        maps = model.features(x[:, None])
        logits = model(x)
    for c in range(3):
        cam = signal_cam(model, x, c)
        expected = torch.einsum("k,nkt->nt", model.fc.weight[c].detach(), maps).numpy()
        assert cam.shape == (5, 60) and cam.dtype == np.float32
        np.testing.assert_allclose(cam, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(cam.mean(1) + model.fc.bias[c].item(), logits[:, c].numpy(),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip


def test_cam_per_sample_classes_and_mode_restored(model_and_x):
    model, x = model_and_x
    model.train()
    cam = signal_cam(model, x.numpy(), [0, 1, 2, 0, 1])
    assert model.training
    model.eval()
    for i, c in enumerate([0, 1, 2, 0, 1]):
        np.testing.assert_allclose(cam[i], signal_cam(model, x[i : i + 1], c)[0], atol=1e-6)


def test_grad_cam_equals_cam_up_to_positive_scale(model_and_x):
    model, x = model_and_x
    for c in range(3):
        cam = signal_cam(model, x, c)
        gc = grad_cam(model, model.features, x[:, None], c, relu=False)
        np.testing.assert_allclose(gc * x.shape[-1], cam, rtol=1e-4, atol=1e-5)  # scale 1/T


def test_library_grad_cam_matches_normalised_relu_cam(model_and_x):
    model, x = model_and_x
    cam = np.clip(signal_cam(model, x, 1), 0, None)
    lo, hi = cam.min(1, keepdims=True), cam.max(1, keepdims=True)
    expected = (cam - lo) / (1e-7 + hi - lo)
    lib = library_grad_cam_1d(model, model.features, x, 1)
    assert lib.shape == (5, 60)
    np.testing.assert_allclose(lib, expected, atol=1e-4)


def test_signal_cam_bad_input(model_and_x):
    model, x = model_and_x
    with pytest.raises(ValueError, match=r"class_idx must lie in \[0, 2\]"):
        signal_cam(model, x, 3)
    with pytest.raises(ValueError, match=r"add a batch axis"):
        signal_cam(model, x[0], 0)
    with pytest.raises(ValueError, match=r"expected a non-empty batch of signals"):
        signal_cam(model, torch.zeros(2, 1, 1, 60), 0)
    with pytest.raises(ValueError, match="has no layer named 'head'"):
        signal_cam(model, x, 0, fc="head")
    with pytest.raises(ValueError, match="expected the nn.Linear layer"):
        signal_cam(model, x, 0, fc="gap")
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        signal_cam("model", x, 0)


def test_signal_cam_detects_a_non_gap_model():
    class MaxPoolNet(SignalCNN):
        def forward(self, x):
            return self.fc(self.features(x).amax(-1))

    torch.manual_seed(1)
    with pytest.raises(ValueError, match="not global average pooling"):
        signal_cam(MaxPoolNet(2).eval(), torch.randn(3, 40), 0)


def test_upsample_1d():
    np.testing.assert_allclose(upsample_1d(np.array([1.0, 3.0]), 4), [1.0, 1.5, 2.5, 3.0])
    assert upsample_1d(torch.ones(3, 5), 20).shape == (3, 20)
    with pytest.raises(ValueError, match="expected"):
        upsample_1d(np.zeros((2, 3, 4)), 10)
    with pytest.raises(ValueError, match="positive integer"):
        upsample_1d(np.zeros(4), 0)


def test_library_grad_cam_bad_class(model_and_x):
    model, x = model_and_x
    with pytest.raises(ValueError, match=r"class_idx must be integers in \[0, 2\]"):
        library_grad_cam_1d(model, model.features, x, 5)


def test_works_with_a_plain_module_without_bias():
    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU())
            self.fc = nn.Linear(4, 2, bias=False)

        def forward(self, x):
            return self.fc(self.features(x).mean(-1))

    torch.manual_seed(0)
    model, x = Tiny(), torch.randn(3, 2, 16)
    cam = signal_cam(model, x, 1)
    with torch.no_grad():
        np.testing.assert_allclose(cam.mean(1), model(x)[:, 1].numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="expected 2 channel"):
        from utils.cam1d import _signal_batch

        _signal_batch(torch.zeros(3, 1, 16), in_channels=2)
