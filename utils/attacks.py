"""Attacks on predictions (FGSM, PGD) and on explanations.

FGSM: Goodfellow et al. (2015), *Explaining and Harnessing Adversarial Examples*, ICLR.
PGD: Madry et al. (2018), *Towards Deep Learning Models Resistant to Adversarial Attacks*,
ICLR. Attacks on saliency maps: Ghorbani et al. (2019), *Interpretation of Neural Networks is
Fragile*, AAAI; Dombrowski et al. (2019), *Explanations can be manipulated and geometry is to
blame*, NeurIPS (the softplus trick of :func:`softplus_model`). The robustness metric
(max-sensitivity) is :func:`utils.max_sensitivity` in :mod:`utils.evaluation.robustness`.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._common import describe, finite_array, finite_batch, integer, model_device, real_number

__all__ = ["fgsm_attack", "pgd_attack", "saliency_attack", "softplus_model"]


def _batch_and_labels(model: nn.Module, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``x`` (a batch of images in [0, 1]) and ``y`` (one class per image)."""
    device = model_device(model)
    x = finite_batch(x, "x")
    if not x.is_floating_point():
        raise TypeError(f"x: expected floating-point images, got dtype {x.dtype}")
    if float(x.min()) < 0.0 or float(x.max()) > 1.0:
        raise ValueError(f"x: expected pixel values in [0, 1], got the range "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")  # fmt: skip
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        y = [int(y)] * len(x)
    if y is None or isinstance(y, (str, bytes, float, bool)):
        raise TypeError(f"y: expected one integer class per image, got {describe(y)}")
    labels = torch.as_tensor(np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y))
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.ndim != 1:
        raise TypeError(f"y: expected a 1-D array of integer classes, got {describe(y)}")
    if len(labels) != len(x):
        raise ValueError(f"y: expected {len(x)} labels (one per image), got {len(labels)}")
    return x.to(device).float(), labels.long().to(device)


def _check_classes(labels: torch.Tensor, logits: torch.Tensor) -> None:
    if int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]:
        raise ValueError(f"y: expected classes in [0, {logits.shape[1] - 1}], got the range "
                         f"[{int(labels.min())}, {int(labels.max())}]")  # fmt: skip


def pgd_attack(model: nn.Module, x: Any, y: Any, eps: float, steps: int = 10,
               step_size: float | None = None, random_start: bool = False,
               seed: int = 0) -> torch.Tensor:  # fmt: skip
    r"""Untargeted projected gradient descent in the :math:`L_\infty` ball (Madry et al., 2018).

    Each step ascends the cross-entropy of the true label and projects back:

    .. math::

        x^{t+1} = \operatorname{clip}_{[0,1]}\Big(\Pi_{\lVert\delta\rVert_\infty\le\varepsilon}
        \big(x^t + \alpha\,\operatorname{sign}\nabla_x L(F(x^t), y)\big)\Big)

    With ``steps=1``, ``step_size=eps`` and no random start this is FGSM
    (:func:`fgsm_attack`). The same as ``captum.robust.PGD`` with ``fgsm.zero_thresh = 0``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits; used in eval mode (its mode is restored).
    x : numpy.ndarray or torch.Tensor
        Images ``(n, ...)`` with pixel values in [0, 1].
    y : int or array-like of int
        The true class of each image (or one for all).
    eps : float
        Radius of the :math:`L_\infty` ball, ``>= 0``.
    steps : int, default 10
        Number of gradient steps, ``>= 1``.
    step_size : float, optional
        Step :math:`\alpha`; default ``2.5 * eps / steps`` (Madry et al.).
    random_start : bool, default False
        Start from a uniform random point of the ball (seeded by ``seed``).
    seed : int, default 0
        Seed of the random start.

    Returns
    -------
    torch.Tensor
        Detached adversarial images on the model's device, within ``eps`` of ``x`` in every
        pixel and within [0, 1].

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``x``/``y`` have the wrong type.
    ValueError
        For pixel values outside [0, 1], a negative ``eps``, ``steps < 1``, labels that do not
        fit the batch or the number of classes.
    """
    x, labels = _batch_and_labels(model, x, y)
    eps = real_number(eps, "eps", minimum=0.0)
    steps = integer(steps, "steps", minimum=1)
    alpha = 2.5 * eps / steps if step_size is None else real_number(step_size, "step_size",
                                                                    minimum=0.0)  # fmt: skip
    seed = integer(seed, "seed", minimum=0)
    was_training = model.training
    model.eval()
    try:
        x_adv = x.clone()
        if random_start:
            generator = torch.Generator().manual_seed(seed)
            noise = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
            x_adv = (x + noise.to(x.device)).clamp(0.0, 1.0)
        for _ in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():  # also inside a caller's torch.no_grad()
                logits = model(x_adv)
                _check_classes(labels, logits)
                loss = F.cross_entropy(logits, labels, reduction="sum")
                (grad,) = torch.autograd.grad(loss, x_adv)
            x_adv = x_adv.detach() + alpha * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)
    finally:
        model.train(was_training)
    return x_adv.detach()


def fgsm_attack(model: nn.Module, x: Any, y: Any, eps: float) -> torch.Tensor:
    r"""The fast gradient sign method (Goodfellow et al., 2015): one PGD step of size ``eps``.

    .. math::

        x_\text{adv} = \operatorname{clip}_{[0,1]}\big(x + \varepsilon\,
        \operatorname{sign}\nabla_x L(F(x), y)\big)

    Parameters
    ----------
    model, x, y, eps
        As in :func:`pgd_attack`.

    Returns
    -------
    torch.Tensor
        Detached adversarial images on the model's device.

    Raises
    ------
    TypeError, ValueError
        As :func:`pgd_attack`.
    """
    return pgd_attack(model, x, y, eps, steps=1, step_size=eps)


def softplus_model(model: nn.Module, beta: float = 10.0) -> nn.Module:
    r"""Return a copy of ``model`` with every ``nn.ReLU`` replaced by ``nn.Softplus(beta)``.

    A ReLU network is piecewise linear: its input gradient is piecewise constant, so the
    gradient *of* a gradient-based explanation with respect to the input is zero almost
    everywhere and an attack on the explanation cannot follow it. Dombrowski et al. (2019)
    therefore attack the smooth surrogate
    :math:`\operatorname{softplus}_\beta(z) = \tfrac{1}{\beta}\log(1 + e^{\beta z})`, which
    tends to the ReLU as :math:`\beta \to \infty`, and evaluate the result on the original
    network. Max pooling is kept (its second derivative is zero too, but the softplus layers
    give the curvature). The original model is not changed.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose activations are ``nn.ReLU`` modules (functional ``F.relu`` calls
        inside ``forward`` cannot be replaced).
    beta : float, default 10.0
        Sharpness of the softplus, ``> 0``.

    Returns
    -------
    torch.nn.Module
        The modified deep copy, in eval mode, on the model's device.

    Raises
    ------
    TypeError
        If ``model`` is not a module.
    ValueError
        If ``beta <= 0`` or the model holds no ``nn.ReLU`` module.
    """
    model_device(model)
    beta = real_number(beta, "beta", minimum=0.0, strict=True)
    smooth = copy.deepcopy(model)
    replaced = 0
    for module in smooth.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.Softplus(beta=beta))
                replaced += 1
    if replaced == 0:
        raise ValueError(f"model: {type(model).__name__} has no nn.ReLU module to replace")
    return smooth.eval()


def _saliency(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """|d logit_y / d x| summed over channels, (n, H, W), differentiable (create_graph)."""
    logits = model(x)
    chosen = logits.gather(1, labels[:, None]).sum()
    (grad,) = torch.autograd.grad(chosen, x, create_graph=True)
    return grad.abs().sum(dim=1)


def saliency_attack(model: nn.Module, x: Any, region: Any, eps: float, steps: int = 100,
                    step_size: float | None = None, beta: float = 10.0,
                    gamma: float = 1.0) -> torch.Tensor:  # fmt: skip
    r"""Move the saliency map into ``region`` while keeping the prediction (Ghorbani et al., 2019).

    Ascends, with sign steps projected on the :math:`L_\infty` ball of radius ``eps`` and on
    [0, 1], the objective

    .. math::

        \frac{\sum_{p\in R} s_p(x')}{\sum_p s_p(x')} - \gamma\,
        \mathrm{CE}\big(F_\beta(x'),\, c\big),
        \qquad s(x') = \big|\nabla_{x'} F_\beta(x')_c\big|,

    where :math:`F_\beta` is :func:`softplus_model` of ``model`` (a ReLU network has zero
    second derivative almost everywhere, Dombrowski et al., 2019), :math:`c` the class the
    original model predicts for ``x`` and :math:`R` the region. Evaluate the result on the
    original model: the class is not guaranteed to stay, measure it.

    Parameters
    ----------
    model : torch.nn.Module
        A ReLU classifier returning logits; not changed.
    x : numpy.ndarray or torch.Tensor
        Images ``(n, C, H, W)`` in [0, 1].
    region : array-like of bool
        ``(H, W)`` mask of the target region, e.g. :func:`utils.marker_region`.
    eps : float
        :math:`L_\infty` budget, ``>= 0``.
    steps : int, default 100
        Number of steps, ``>= 1``.
    step_size : float, optional
        Default ``eps / 20``.
    beta : float, default 10.0
        Softplus sharpness.
    gamma : float, default 1.0
        Weight of the cross-entropy that keeps the class, ``>= 0``.

    Returns
    -------
    torch.Tensor
        Detached perturbed images on the model's device.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``x``/``region`` are not arrays.
    ValueError
        For images that are not ``(n, C, H, W)`` in [0, 1], a region of another shape or
        empty, or out-of-range parameters.
    """
    device = model_device(model)
    x = finite_batch(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x: expected images (n, C, H, W), got shape {tuple(x.shape)}")
    mask = finite_array(region, "region")
    if mask.shape != tuple(x.shape[-2:]) or not np.isin(mask, (0, 1)).all() or not mask.any():
        raise ValueError(f"region: expected a non-empty boolean (H, W) = {tuple(x.shape[-2:])} "
                         f"mask, got {describe(region)}")  # fmt: skip
    eps = real_number(eps, "eps", minimum=0.0)
    steps = integer(steps, "steps", minimum=1)
    alpha = eps / 20 if step_size is None else real_number(step_size, "step_size", minimum=0.0)
    gamma = real_number(gamma, "gamma", minimum=0.0)
    smooth = softplus_model(model, beta)
    with torch.no_grad():
        x, _ = _batch_and_labels(model, x, [0] * len(x))
        target = model.eval()(x).argmax(dim=1)
    inside = torch.as_tensor(mask.astype(bool), device=device)
    x_adv = x.clone()
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        with torch.enable_grad():  # also inside a caller's torch.no_grad()
            sal = _saliency(smooth, x_adv, target)
            share = (sal * inside).sum(dim=(1, 2)) / sal.sum(dim=(1, 2)).clamp_min(1e-12)
            keep = F.cross_entropy(smooth(x_adv), target, reduction="none")
            (grad,) = torch.autograd.grad((share - gamma * keep).sum(), x_adv)
        x_adv = x_adv.detach() + alpha * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)
    return x_adv.detach()
