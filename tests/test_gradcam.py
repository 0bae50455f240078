"""Tests of utils.gradcam: the hand-written Grad-CAM against pytorch-grad-cam, CAM identity.

What is compared: pytorch-grad-cam returns ReLU(map), min-max normalised per image (with
an epsilon of 1e-7 in the denominator, applied twice: per layer and after aggregating
layers) and resized to the input with cv2.resize in between. Our raw maps are post-processed
with the library's own ``scale_cam_image`` in the same order and compared (on a layer whose
maps have the input's size and on the last conv layer, 14x14 -> 28x28); on the 28x28 layer
the raw maps are also compared after min-max normalising both identically.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from utils.gradcam import class_activation_map, grad_cam, upsample_cam
from utils.models import MnistCNN


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))


def library_grad_cam(model, layer, x, classes) -> np.ndarray:
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in classes])


@pytest.mark.parametrize("layer_name", ["features.0", "features.3"])
def test_grad_cam_matches_pytorch_grad_cam(model, x, layer_name):
    classes = [0, 1, 2, 3, 4, 5]
    layer = dict(model.named_modules())[layer_name]
    ours = grad_cam(model, layer_name, x, classes)
    assert ours.shape == (6, 28, 28) if layer_name == "features.0" else (6, 14, 14)
    assert (ours > 0).any(axis=(1, 2)).sum() >= 4, "degenerate test: all-zero maps"
    theirs = library_grad_cam(model, layer, x, classes)
    assert np.abs(scale_cam_image(scale_cam_image(ours, (28, 28))) - theirs).max() < 1e-5


def minmax(maps: np.ndarray) -> np.ndarray:
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)


def test_raw_maps_without_resizing(model, x):
    """On a 28x28 layer only the normalisation differs: normalise both identically."""
    ours = grad_cam(model, model.features[0], x, 3)
    theirs = library_grad_cam(model, model.features[0], x, [3] * 6)
    assert np.allclose(minmax(ours), minmax(theirs), atol=1e-5)


def test_signed_and_counterfactual_maps(model, x):
    signed = grad_cam(model, model.target_layer, x, 7, relu=False)
    assert (signed < 0).any()
    assert np.allclose(grad_cam(model, model.target_layer, x, 7), np.maximum(signed, 0))
    counter = grad_cam(model, model.target_layer, x, 7, counterfactual=True, relu=False)
    assert np.allclose(counter, -signed, atol=1e-6)


def test_grad_cam_is_cam_over_z_for_a_gap_network():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 4)).eval()  # fmt: skip
    x = torch.randn(3, 3, 9, 9)
    with torch.no_grad():
        maps = net[:2](x)
    cam = class_activation_map(maps, net[4].weight, [0, 1, 3])
    assert np.allclose(grad_cam(net, net[1], x, [0, 1, 3], relu=False), cam / 81, atol=1e-6)
    logits = net(x).detach().numpy()
    assert np.allclose(cam.mean(axis=(1, 2)) + net[4].bias.detach().numpy()[[0, 1, 3]],
                       logits[[0, 1, 2], [0, 1, 3]], atol=1e-5)  # fmt: skip


def test_bad_input_gives_clear_errors(model, x):
    with pytest.raises(ValueError, match=r"class_idx must lie in \[0, 9\].*got \[10"):
        grad_cam(model, model.target_layer, x, 10)
    with pytest.raises(ValueError, match="one int or 6 ints"):
        grad_cam(model, model.target_layer, x, [1, 2])
    with pytest.raises(TypeError, match="class_idx"):
        grad_cam(model, model.target_layer, x, 1.5)
    with pytest.raises(ValueError, match="no layer named 'conv2'.*features.3"):
        grad_cam(model, "conv2", x, 1)
    with pytest.raises(ValueError, match="choose a conv layer"):
        grad_cam(model, "classifier.0", x, 1)
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match=r"fc_weight: expected shape \(n_classes, 32\)"):
        class_activation_map(np.zeros((1, 32, 7, 7)), np.zeros((10, 64)), 0)


def test_grad_cam_leaves_parameter_gradients_alone(x):
    fresh = MnistCNN().eval()
    grad_cam(fresh, fresh.target_layer, x, 1)
    assert all(p.grad is None for p in fresh.parameters())


def test_upsample_matches_cv2():
    import cv2

    cam = np.random.default_rng(0).random((2, 7, 7)).astype(np.float32)
    ours = upsample_cam(cam, (28, 28))
    assert ours.shape == (2, 28, 28)
    assert np.allclose(ours[1], cv2.resize(cam[1], (28, 28)), atol=1e-5)
    assert upsample_cam(cam[0], (14, 14)).shape == (14, 14)
