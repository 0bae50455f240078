"""utils.featvis: the penalties and the parametrisation against brute force and NumPy, and
gradient ascent against optima known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.featvis import (
    fourier_scale,
    image_to_spectrum,
    spectrum_to_image,
    total_variation,
    visualise_feature,
)


def _linear(seed: int = 0) -> nn.Module:
    """f(x) = W flatten(x) + b for 4x4 images, 2 outputs, weights away from zero."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        sign = torch.where(torch.rand(2, 16) < 0.5, -1.0, 1.0)
        model[1].weight.copy_(sign * (0.5 + torch.rand(2, 16)))
    return model.eval()


def test_total_variation_matches_a_brute_force_loop():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 2, 5, 7))
    expected = np.zeros(3)
    for n in range(3):
        for c in range(2):
            for i in range(5):
                for j in range(7):
                    if i + 1 < 5:
                        expected[n] += abs(images[n, c, i + 1, j] - images[n, c, i, j])
                    if j + 1 < 7:
                        expected[n] += abs(images[n, c, i, j + 1] - images[n, c, i, j])
    got = total_variation(torch.as_tensor(images))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # NumPy input is converted to float32
    np.testing.assert_allclose(total_variation(images).numpy(), expected, rtol=1e-5)


def test_total_variation_is_zero_for_constants_and_differentiable():
    assert float(total_variation(torch.full((1, 1, 4, 4), 0.3))[0]) == 0.0
    x = torch.zeros(1, 1, 3, 3, requires_grad=True)
    with torch.no_grad():
        x[0, 0, 1, 1] = 1.0  # one bright pixel: 4 neighbours differ by 1
    tv = total_variation(x)
    assert float(tv.detach()[0]) == pytest.approx(4.0)
    (grad,) = torch.autograd.grad(tv.sum(), x)
    assert float(grad[0, 0, 1, 1]) == pytest.approx(4.0)


def test_fourier_scale_matches_the_formula():
    h, w, decay = 6, 9, 1.3
    freqs = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    expected = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay
    np.testing.assert_allclose(fourier_scale(h, w, decay).numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(fourier_scale(4, 4, 0.0).numpy(), np.ones((4, 3)))


@pytest.mark.parametrize("size", [(8, 8), (7, 10), (28, 28)])
def test_fourier_parametrisation_round_trips(size):
    images = torch.rand(2, 3, *size, dtype=torch.float64)
    spectrum = image_to_spectrum(images, decay=1.0)
    assert spectrum.shape == (2, 3, size[0], size[1] // 2 + 1) and spectrum.is_complex()
    back = spectrum_to_image(spectrum, size, decay=1.0)
    np.testing.assert_allclose(back.numpy(), images.numpy(), atol=1e-12)


def test_spectrum_to_image_matches_numpy():
    rng = np.random.default_rng(1)
    spectrum = rng.normal(size=(1, 1, 6, 5)) + 1j * rng.normal(size=(1, 1, 6, 5))
    scale = fourier_scale(6, 8, 1.0).numpy().astype(np.float64)
    expected = np.fft.irfft2(spectrum * scale, s=(6, 8), norm="ortho")
    got = spectrum_to_image(torch.as_tensor(spectrum), (6, 8), decay=1.0)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_box_constrained_ascent_finds_the_corner_of_a_linear_model():
    # max w.x over [0, 1]^16 is x_i = 1 where w_i > 0 and 0 elsewhere
    model = _linear()
    result = visualise_feature(model, target=1, shape=(1, 4, 4), steps=150, lr=0.1)
    optimum = (model[1].weight[1].detach() > 0).float().view(1, 4, 4).numpy()
    np.testing.assert_allclose(result.image, optimum, atol=1e-4)
    best = float((model[1].weight[1].clamp(min=0).sum() + model[1].bias[1]).detach())
    assert result.activation == pytest.approx(best, abs=1e-3)
    assert result.trajectory[-1] > result.trajectory[0]
    assert result.seconds >= 0 and result.trajectory.shape == (150,)


def test_fourier_ascent_climbs_but_clipping_can_stop_it_short_of_the_box_optimum():
    # the preconditioned step followed by clipping has fixed points inside the box's faces:
    # documented; the ascent still climbs most of the way and stays in the box
    model = _linear()
    weights, bias = model[1].weight[1].detach(), float(model[1].bias[1].detach())
    best, worst = float(weights.clamp(min=0).sum()) + bias, float(weights.clamp(max=0).sum()) + bias
    result = visualise_feature(model, target=1, shape=(1, 4, 4), steps=150, lr=0.1,
                               parametrization="fourier")  # fmt: skip
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert result.trajectory[-1] > result.trajectory[0]
    assert worst + 0.75 * (best - worst) < result.activation <= best + 1e-4


def test_l2_penalised_ascent_finds_the_closed_form_optimum():
    # max w.x - lam ||x||^2 without a box: x* = w / (2 lam)
    model, lam = _linear(), 2.0
    result = visualise_feature(model, target=0, shape=(1, 4, 4), steps=600, lr=0.02, l2=lam,
                               value_range=(-10.0, 10.0), init_value=0.0)  # fmt: skip
    optimum = (model[1].weight[0] / (2 * lam)).view(1, 4, 4).detach().numpy()
    np.testing.assert_allclose(result.image, optimum, atol=0.02)


def test_layer_objective_equals_the_logit_objective_and_is_deterministic():
    model = _linear()
    by_logit = visualise_feature(model, 1, shape=(1, 4, 4), steps=20, jitter=1, tv=0.1,
                                 blur_sigma=0.5, seed=3)  # fmt: skip
    by_layer = visualise_feature(model, 1, layer="1", shape=(1, 4, 4), steps=20, jitter=1,
                                 tv=0.1, blur_sigma=0.5, seed=3)  # fmt: skip
    np.testing.assert_array_equal(by_logit.image, by_layer.image)
    np.testing.assert_array_equal(by_logit.trajectory, by_layer.trajectory)
    assert by_logit.image.min() >= 0.0 and by_logit.image.max() <= 1.0


def test_channel_objective_is_the_mean_over_positions():
    # a 1x1 convolution with a positive weight: the channel mean is maximal for a white image
    conv = nn.Conv2d(1, 2, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        conv.bias.zero_()
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(2 * 5 * 5, 1)).eval()
    white = visualise_feature(model, 0, layer="0", shape=(1, 5, 5), steps=60, lr=0.1)
    black = visualise_feature(model, 1, layer=conv, shape=(1, 5, 5), steps=60, lr=0.1,
                              init_value=0.5)  # fmt: skip
    assert white.activation == pytest.approx(1.0, abs=1e-4)
    assert black.activation == pytest.approx(0.0, abs=1e-4)


def test_clear_errors():
    model = _linear()
    with pytest.raises(ValueError, match="target"):
        visualise_feature(model, 5, shape=(1, 4, 4), steps=1)
    with pytest.raises(ValueError, match="target"):
        visualise_feature(model, 5, layer="1", shape=(1, 4, 4), steps=1)
    with pytest.raises(ValueError, match="parametrization"):
        visualise_feature(model, 0, shape=(1, 4, 4), parametrization="wavelet")
    with pytest.raises(ValueError, match="value_range"):
        visualise_feature(model, 0, shape=(1, 4, 4), value_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="no layer named"):
        visualise_feature(model, 0, layer="conv9", shape=(1, 4, 4))
    with pytest.raises(ValueError, match="jitter"):
        visualise_feature(model, 0, shape=(1, 4, 4), jitter=4)
    with pytest.raises(ValueError, match="images"):
        total_variation(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="spectrum"):
        spectrum_to_image(torch.zeros(1, 1, 4, 4, dtype=torch.complex64), (4, 8))
    with pytest.raises(TypeError, match="size"):
        spectrum_to_image(torch.zeros(1, 1, 4, 3, dtype=torch.complex64), 4)
