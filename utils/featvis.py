r"""Feature visualisation by optimisation: find an input that maximises a unit of a network.

Activation maximisation (Erhan et al., 2009, *Visualizing Higher-Layer Features of a Deep
Network*, Technical Report 1341, Université de Montréal; Simonyan et al., 2014, *Deep
Inside Convolutional Networks*, ICLR workshop) searches the input space by gradient ascent,

.. math::

    x^\star = \arg\max_{x \in [a, b]^{C \times H \times W}}
    \; f(x) - \lambda_2 \lVert x \rVert_2^2 - \lambda_\text{TV}\, \mathrm{TV}(x),

where :math:`f` is a class logit or the mean of one channel of a layer. Without a prior the
optimum is high-frequency noise; the usual priors (Olah et al., 2017, *Feature
Visualization*, Distill) are penalties (L2, total variation), transformation robustness
(random jitter), periodic blurring, and a preconditioned, decorrelated parametrisation in
which the optimiser moves Fourier coefficients scaled by :math:`1/f^{\text{decay}}`.

* :func:`total_variation`: the anisotropic total variation, a differentiable penalty.
* :func:`image_to_spectrum` / :func:`spectrum_to_image`: the Fourier parametrisation and
  its exact inverse.
* :func:`visualise_feature`: projected gradient ascent (Adam) with any mix of the priors;
  it returns the image, the activation at every step and the time it took.

Examples
--------
>>> model = MnistCNN().eval()  # doctest: +SKIP
>>> result = visualise_feature(model, target=3, steps=100, tv=0.05, jitter=1)  # doctest: +SKIP
>>> result.image.shape, result.activation > result.trajectory[0]  # doctest: +SKIP
((1, 28, 28), True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, finite_batch, integer, model_device, one_of, real_number

PARAMETRIZATIONS = ("pixel", "fourier")


def _images(images: Any, name: str) -> torch.Tensor:
    """A finite float batch ``(n, C, H, W)`` with ``H, W >= 2``."""
    x = finite_batch(images, name)
    if x.ndim != 4 or min(x.shape[-2:]) < 2:
        raise ValueError(f"{name}: expected images (n, C, H, W) with H, W >= 2, got shape "
                         f"{tuple(x.shape)}")  # fmt: skip
    if not x.is_floating_point():
        x = x.float()
    return x


def total_variation(images: Any) -> torch.Tensor:
    r"""Return the anisotropic total variation of each image of a batch.

    .. math::

        \mathrm{TV}(x) = \sum_{c,i,j} |x_{c,i+1,j} - x_{c,i,j}|
                       + \sum_{c,i,j} |x_{c,i,j+1} - x_{c,i,j}|

    the sum of absolute differences between vertical and horizontal neighbours
    (Rudin et al., 1992, *Nonlinear total variation based noise removal algorithms*,
    Physica D; as an image prior in Mahendran & Vedaldi, 2015, *Understanding Deep Image
    Representations by Inverting Them*, CVPR). Small for smooth images, large for noise.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray
        ``(n, C, H, W)`` with ``H, W >= 2``. A tensor keeps its graph, so the result can be
        used as a differentiable penalty.

    Returns
    -------
    torch.Tensor
        ``(n,)``, one value per image (float, on the input's device).

    Raises
    ------
    TypeError
        If ``images`` is not numbers.
    ValueError
        For another shape, no images, or NaN or infinite values.
    """
    x = _images(images, "images")
    vertical = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(1)
    horizontal = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1)
    return vertical + horizontal


def fourier_scale(height: int, width: int, decay: float = 1.0) -> torch.Tensor:
    r"""Return the weights :math:`1 / \max(f, 1/\max(H, W))^{\text{decay}}` of the spectrum.

    ``f`` is the spatial frequency (cycles per pixel) of each coefficient of
    ``torch.fft.rfft2`` for an ``H x W`` image; the floor keeps the constant term finite.
    Natural images have about this ``1/f`` amplitude spectrum, so unit-variance
    coefficients times these weights look like natural-image noise (Olah et al., 2017).

    Parameters
    ----------
    height, width : int
        Image size, at least 2 each.
    decay : float, default 1.0
        Power of the decay, ``>= 0`` (0 gives all frequencies the weight 1).

    Returns
    -------
    torch.Tensor
        float32 ``(height, width // 2 + 1)``.

    Raises
    ------
    TypeError, ValueError
        For sizes that are not integers >= 2 or a negative or non-finite ``decay``.
    """
    height = integer(height, "height", minimum=2)
    width = integer(width, "width", minimum=2)
    decay = real_number(decay, "decay", minimum=0.0)
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]
    freqs = torch.sqrt(fx**2 + fy**2)
    return (1.0 / torch.clamp(freqs, min=1.0 / max(height, width)) ** decay).float()


def image_to_spectrum(images: Any, decay: float = 1.0) -> torch.Tensor:
    """Return the parameters of images in the Fourier parametrisation.

    ``rfft2(images, norm="ortho") / fourier_scale(H, W, decay)``: the inverse of
    :func:`spectrum_to_image` for real images.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray
        ``(n, C, H, W)``, ``H, W >= 2``.
    decay : float, default 1.0
        See :func:`fourier_scale`.

    Returns
    -------
    torch.Tensor
        complex ``(n, C, H, W // 2 + 1)``.

    Raises
    ------
    TypeError, ValueError
        For input that is not a finite batch of images or a bad ``decay``.
    """
    x = _images(images, "images")
    scale = fourier_scale(x.shape[-2], x.shape[-1], decay).to(x.device)
    return torch.fft.rfft2(x, norm="ortho") / scale


def spectrum_to_image(spectrum: Any, size: Sequence[int], decay: float = 1.0) -> torch.Tensor:
    r"""Turn Fourier parameters into images: ``irfft2(spectrum * fourier_scale, s=size)``.

    A step of the same length in every coefficient changes low frequencies of the image
    more than high ones (by the factor :math:`1/f^{\text{decay}}`): gradient ascent in
    this parametrisation is preconditioned towards smooth images.

    Parameters
    ----------
    spectrum : torch.Tensor
        complex ``(n, C, H, W // 2 + 1)`` (a real tensor is read as real coefficients).
    size : sequence of two int
        ``(H, W)`` of the images.
    decay : float, default 1.0
        See :func:`fourier_scale`.

    Returns
    -------
    torch.Tensor
        real ``(n, C, H, W)``, differentiable with respect to ``spectrum``.

    Raises
    ------
    TypeError, ValueError
        For a spectrum that is not a finite 4-D batch, a ``size`` that does not match its
        last axis, or a bad ``decay``.
    """
    z = finite_batch(spectrum, "spectrum")
    if not (isinstance(size, Sequence) and len(size) == 2):
        raise TypeError(f"size: expected (H, W), two integers, got {describe(size)}")
    height, width = (integer(s, "size", minimum=2) for s in size)
    if z.ndim != 4 or z.shape[-2:] != (height, width // 2 + 1):
        raise ValueError(f"spectrum: expected shape (n, C, {height}, {width // 2 + 1}) for "
                         f"images of size {(height, width)}, got {tuple(z.shape)}")  # fmt: skip
    scale = fourier_scale(height, width, decay).to(z.device)
    return torch.fft.irfft2(z * scale, s=(height, width), norm="ortho")


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel with a normalised Gaussian of ``sigma`` pixels (edges replicated)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    n, c, h, w = images.shape
    x = images.reshape(n * c, 1, h, w)
    x = nn.functional.pad(x, (radius, radius, 0, 0), mode="replicate")
    x = nn.functional.conv2d(x, kernel.view(1, 1, 1, -1))
    x = nn.functional.pad(x, (0, 0, radius, radius), mode="replicate")
    x = nn.functional.conv2d(x, kernel.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


@dataclass
class FeatureVisualisation:
    """Result of :func:`visualise_feature`.

    Attributes
    ----------
    image : numpy.ndarray
        float32 ``(C, H, W)``: the optimised input, inside ``value_range``.
    trajectory : numpy.ndarray
        float ``(steps,)``: the objective's activation (without penalties) at each step,
        measured on the (jittered) input of that step.
    activation : float
        The activation of the final, unjittered image.
    seconds : float
        Wall-clock time of the optimisation.
    """

    image: np.ndarray
    trajectory: np.ndarray
    activation: float
    seconds: float


def _objective(model: nn.Module, target: int, layer: Any):
    """Return a function x -> activation (scalar tensor) and a cleanup callback."""
    if layer is None:

        def logit(x: torch.Tensor) -> torch.Tensor:
            out = model(x)
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or target >= out.shape[1]:
                raise ValueError(f"target: expected a class in [0, {out.shape[-1] - 1}] of "
                                 f"the logits (n, classes), got {target}")  # fmt: skip
            return out[0, target]

        return logit, (lambda: None)
    from .hooks import get_layer

    name, module = get_layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        store["out"] = output

    handle = module.register_forward_hook(hook)

    def activation(x: torch.Tensor) -> torch.Tensor:
        model(x)
        out = store.pop("out")
        if not isinstance(out, torch.Tensor) or out.ndim < 2 or not 0 <= target < out.shape[1]:
            raise ValueError(f"target: expected a channel in [0, {out.shape[1] - 1}] of layer "
                             f"{name!r} (output {tuple(out.shape)}), got {target}")  # fmt: skip
        return out[0, target].mean()

    return activation, handle.remove


def visualise_feature(
    model: nn.Module,
    target: int,
    layer: Any = None,
    shape: Sequence[int] = (1, 28, 28),
    steps: int = 100,
    lr: float = 0.05,
    l2: float = 0.0,
    tv: float = 0.0,
    jitter: int = 0,
    blur_sigma: float = 0.0,
    blur_every: int = 4,
    parametrization: str = "pixel",
    decay: float = 1.0,
    value_range: Sequence[float] = (0.0, 1.0),
    init_value: float | None = None,
    init_std: float = 0.01,
    seed: int = 0,
) -> FeatureVisualisation:
    r"""Maximise a class logit or a channel by projected gradient ascent on the input.

    Each step draws a random shift of at most ``jitter`` pixels (``torch.roll``), computes
    the objective on the shifted image, takes an Adam step (lr ``lr``) on

    .. math::

        f(x) - \lambda_2 \lVert x \rVert_2^2 - \lambda_\text{TV}\, \mathrm{TV}(x),

    then projects: every ``blur_every`` steps it blurs the image (``blur_sigma > 0``),
    and it always clips the image to ``value_range`` (in the Fourier parametrisation the
    clipped image is mapped back to its spectrum, so both parametrisations search the
    same box; there the clip is not the exact projection for the preconditioned step, so
    box-constrained ascent can stop short of the box's optimum, see ``tests/test_featvis.py``).
    The start is the constant image ``init_value`` plus Gaussian noise of
    ``init_std`` (clipped).

    Parameters
    ----------
    model : torch.nn.Module
        Put in eval mode; its parameters are not changed.
    target : int
        Class index (``layer=None``: the logit ``model(x)[0, target]``) or channel of
        ``layer``; a channel's activation is its mean over all positions.
    layer : str, torch.nn.Module or None, default None
        A layer name or module (see :func:`utils.get_layer`), or None for the logits.
    shape : sequence of int, default (1, 28, 28)
        ``(C, H, W)`` of one input.
    steps : int, default 100
    lr : float, default 0.05
        Adam learning rate, ``> 0``.
    l2, tv : float, default 0.0
        Weights of the L2 and total-variation penalties (sums over all values), ``>= 0``.
    jitter : int, default 0
        Largest random shift in pixels, ``>= 0``.
    blur_sigma : float, default 0.0
        Standard deviation of the periodic Gaussian blur in pixels (0: no blur).
    blur_every : int, default 4
        Blur after every ``blur_every``-th step.
    parametrization : {"pixel", "fourier"}, default "pixel"
        Optimise the pixels or the scaled spectrum (:func:`spectrum_to_image`).
    decay : float, default 1.0
        Decay of the Fourier parametrisation, see :func:`fourier_scale`.
    value_range : (float, float), default (0.0, 1.0)
        Box of valid inputs, e.g. ``(-127/128, 1)`` for EfficientNet-Lite0.
    init_value : float or None, default None
        Constant start value inside ``value_range``; None starts at its lower end (black
        for MNIST).
    init_std : float, default 0.01
        Standard deviation of the start noise, ``>= 0``.
    seed : int, default 0
        Seeds the start noise and the jitter (a generator of its own).

    Returns
    -------
    FeatureVisualisation
        ``image``, ``trajectory``, ``activation`` and ``seconds``.

    Raises
    ------
    TypeError, ValueError
        For a model that is not a module, an unknown layer, a target outside the
        logits/channels, or out-of-range settings.
    """
    device = model_device(model)
    target = integer(target, "target", minimum=0)
    if not isinstance(shape, Sequence) or isinstance(shape, str) or len(shape) != 3:
        raise TypeError(f"shape: expected (C, H, W), three integers, got {describe(shape)}")
    shape = tuple(integer(s, "shape", minimum=1) for s in shape)
    if min(shape[1:]) < 2:
        raise ValueError(f"shape: expected H, W >= 2, got {shape}")
    steps = integer(steps, "steps", minimum=1)
    lr = real_number(lr, "lr", minimum=0.0, strict=True)
    l2 = real_number(l2, "l2", minimum=0.0)
    tv = real_number(tv, "tv", minimum=0.0)
    jitter = integer(jitter, "jitter", minimum=0, maximum=min(shape[1:]) - 1)
    blur_sigma = real_number(blur_sigma, "blur_sigma", minimum=0.0)
    blur_every = integer(blur_every, "blur_every", minimum=1)
    parametrization = one_of(parametrization, "parametrization", PARAMETRIZATIONS)
    decay = real_number(decay, "decay", minimum=0.0)
    if not isinstance(value_range, Sequence) or isinstance(value_range, str) \
            or len(value_range) != 2:  # fmt: skip
        raise TypeError(f"value_range: expected (low, high), got {describe(value_range)}")
    low, high = (real_number(v, "value_range") for v in value_range)
    if not low < high:
        raise ValueError(f"value_range: expected low < high, got {tuple(value_range)}")
    if init_value is None:
        init_value = low
    init_value = real_number(init_value, "init_value", minimum=low, maximum=high)
    init_std = real_number(init_std, "init_std", minimum=0.0)
    seed = integer(seed, "seed", minimum=0)

    generator = torch.Generator().manual_seed(seed)
    start = init_value + init_std * torch.randn((1, *shape), generator=generator)
    start = start.clamp(low, high).to(device)
    size = shape[1:]
    if parametrization == "pixel":
        params = start.clone()
        to_image = lambda p: p  # noqa: E731
        from_image = lambda x: x  # noqa: E731
    else:
        params = image_to_spectrum(start, decay)
        to_image = lambda p: spectrum_to_image(p, size, decay)  # noqa: E731
        from_image = lambda x: image_to_spectrum(x, decay)  # noqa: E731
    params.requires_grad_(True)
    optimizer = torch.optim.Adam([params], lr=lr)
    was_training = model.training
    model.eval()
    activation, cleanup = _objective(model, target, layer)
    trajectory = np.empty(steps)
    began = time.perf_counter()
    try:
        for step in range(steps):
            image = to_image(params)
            seen = image
            if jitter:
                dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
                seen = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))
            value = activation(seen)
            loss = -value
            if l2:
                loss = loss + l2 * (image**2).sum()
            if tv:
                loss = loss + tv * total_variation(image).sum()
            (grad,) = torch.autograd.grad(loss, params)
            params.grad = grad
            optimizer.step()
            trajectory[step] = float(value.detach())
            with torch.no_grad():
                image = to_image(params)
                if blur_sigma and (step + 1) % blur_every == 0:
                    image = _gaussian_blur(image, blur_sigma)
                params.copy_(from_image(image.clamp(low, high)))
        seconds = time.perf_counter() - began
        with torch.no_grad():
            final = to_image(params).clamp(low, high)
            reached = float(activation(final))
    finally:
        cleanup()
        model.train(was_training)
    return FeatureVisualisation(final[0].detach().cpu().numpy().astype(np.float32),
                                trajectory, reached, seconds)  # fmt: skip
