r"""Class activation maps for 1D signals, and scores of a map against a known region.

For a network that ends in global average pooling (GAP) over time and one linear
layer (e.g. :class:`utils.models.SignalCNN`), the class activation map (CAM; Zhou
et al., 2016, *Learning Deep Features for Discriminative Localization*, CVPR)

.. math::

    \mathrm{CAM}_c(t) = \sum_k w^c_k A_k(t), \qquad
    z_c = b_c + \frac{1}{T}\sum_t \mathrm{CAM}_c(t)

splits the logit :math:`z_c` exactly over time. :func:`signal_cam` computes it
from the real network with a forward hook and checks that identity. Grad-CAM for
signals is :func:`utils.gradcam.grad_cam` (it works for any number of spatial
axes); :func:`library_grad_cam_1d` runs the ``pytorch-grad-cam`` methods, which
accept only images, on signals.

To score a map against a known region (e.g. the planted abnormality of
:func:`utils.make_ecg_dataset`) use the course's evaluation metrics:
``utils.mass_in_region(maps, utils.interval_mask(regions, T), axis=-1)``,
:func:`utils.pointing_game` and :func:`utils.region_fraction`
(:mod:`utils.evaluation.localisation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, finite_array, resize_linear
from .gradcam import class_activation_map
from .hooks import ActivationRecorder, LayerSpec, get_layer


def _signal_batch(x: Any, in_channels: int | None = None) -> torch.Tensor:
    """Return ``x`` as a float32 tensor ``(n, C, T)``; ``(n, T)`` gets a channel axis."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise TypeError(f"x: expected a NumPy array or tensor of signals, "
                            f"got {type(x).__name__}") from err  # fmt: skip
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or infinite values")
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or len(x) == 0:
        hint = " (one signal? add a batch axis: x[None])" if x.ndim == 1 else ""
        raise ValueError(f"x: expected a non-empty batch of signals (n, T) or (n, C, T), "
                         f"got shape {tuple(x.shape)}{hint}")  # fmt: skip
    if in_channels is not None and x.shape[1] != in_channels:
        raise ValueError(f"x: expected {in_channels} channel(s), got shape {tuple(x.shape)}")
    return x.detach().float()


def signal_cam(
    model: nn.Module, x: Any, class_idx: int | Sequence[int],
    layer: LayerSpec = "features", fc: LayerSpec = "fc", check: bool = True,
) -> np.ndarray:  # fmt: skip
    r"""Compute the exact class activation map of a GAP + linear 1D network.

    A forward hook records the maps :math:`A` that enter global average pooling
    (the output of ``layer``) during one forward pass of the real network; the
    CAM is :math:`\sum_k w^c_k A_k(t)` with ``w = fc.weight``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier whose logits are ``fc(mean over time of layer(x))``, such as
        :class:`utils.models.SignalCNN`. It runs in eval mode on its own device
        (its train/eval mode is restored).
    x : numpy.ndarray or torch.Tensor
        Signals ``(n, T)`` (one channel) or ``(n, C, T)``.
    class_idx : int or sequence of int
        The class to explain: one for all signals, or one per signal.
    layer : str or torch.nn.Module, default "features"
        The layer whose output is pooled (the last feature maps, after the ReLU).
    fc : str or torch.nn.Module, default "fc"
        The linear layer after pooling.
    check : bool, default True
        Verify :math:`z_c = b_c + \mathrm{mean}_t\,\mathrm{CAM}_c(t)` against the
        model's logits and raise if it fails (the model is then not GAP + linear:
        use Grad-CAM instead).

    Returns
    -------
    numpy.ndarray
        float32 ``(n, T')``, signed, not normalised, at the resolution of the
        feature maps (``T' = T`` for ``SignalCNN``; otherwise resize it with
        :func:`upsample_1d`).

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``x`` not numbers.
    ValueError
        For a bad input shape, NaN or infinite inputs, a class index out of range,
        unknown layers, an ``fc`` that does not fit the feature maps, or a failed
        identity check.

    Examples
    --------
    >>> model = SignalCNN(n_classes=2).eval()  # doctest: +SKIP
    >>> signal_cam(model, torch.randn(4, 150), class_idx=1).shape  # doctest: +SKIP
    (4, 150)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    layer_name, _ = get_layer(model, layer)
    fc_name, fc_layer = get_layer(model, fc)
    if not isinstance(fc_layer, nn.Linear):
        raise ValueError(f"fc: expected the nn.Linear layer after pooling, got "
                         f"{type(fc_layer).__name__} {fc_name!r}")  # fmt: skip
    batch = _signal_batch(x)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with ActivationRecorder(model, layer_name) as recorder, torch.no_grad():
            logits = model(batch.to(device)).cpu()
    finally:
        model.train(was_training)
    maps = recorder.activations.get(layer_name)
    if maps is None or maps.ndim != 3 or len(maps) != len(batch):
        shape = None if maps is None else tuple(maps.shape)
        raise ValueError(f"layer {layer_name!r} must output feature maps (n, K, T) once per "
                         f"forward pass, got {shape}")  # fmt: skip
    if maps.shape[1] != fc_layer.in_features:
        raise ValueError(f"fc {fc_name!r} expects {fc_layer.in_features} features but layer "
                         f"{layer_name!r} outputs {maps.shape[1]} channels")  # fmt: skip
    cam = class_activation_map(maps, fc_layer.weight, class_idx)
    if check:
        classes = np.broadcast_to(np.asarray(class_idx), (len(cam),))
        bias = 0.0 if fc_layer.bias is None else fc_layer.bias.detach().cpu().numpy()[classes]
        expected = logits.numpy()[np.arange(len(cam)), classes]
        error = np.abs(cam.astype(np.float64).mean(axis=1) + bias - expected)
        scale = 1.0 + np.abs(expected)
        if np.any(error > 1e-3 * scale):
            raise ValueError(f"mean(CAM) + bias differs from the logits by up to "
                             f"{error.max():.3g}: the model is not global average pooling + "
                             f"{fc_name!r}; use utils.grad_cam instead")  # fmt: skip
    return cam


def upsample_1d(maps: Any, length: int) -> np.ndarray:
    """Resize maps ``(n, T')`` (or one ``(T',)``) linearly to ``length`` samples.

    Sample centres are aligned (``align_corners=False``), as in
    :func:`utils.upsample_cam` and :func:`utils.plot_signal_attribution`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, length)`` (or ``(length,)``).

    Raises
    ------
    TypeError
        If ``maps`` are not numbers.
    ValueError
        For empty maps, NaN or infinite values, a shape other than ``(T',)`` or
        ``(n, T')``, or a ``length`` that is not a positive integer.
    """
    array = finite_array(maps, "maps")
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"maps: expected (T',) or (n, T') with T' > 0, got shape {array.shape}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    return resize_linear(np.asarray(array, dtype=np.float32), (int(length),))


class _SignalAsImage(nn.Module):
    """Present a 1D model to ``pytorch_grad_cam`` as a model of 1-pixel-high images."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x[:, :, 0, :])  # (n, C, 1, T) -> (n, C, T)


def library_grad_cam_1d(
    model: nn.Module, target_layer: LayerSpec, x: Any, class_idx: int | Sequence[int],
    method: type | None = None,
) -> np.ndarray:  # fmt: skip
    """Run a ``pytorch-grad-cam`` method on signals (the library accepts only images).

    ``pytorch-grad-cam`` 1.5 rejects inputs ``(n, C, T)``. Here the signal is
    shown to it as an image of height 1: the model is wrapped to accept
    ``(n, C, 1, T)`` and the 1D feature maps get a height axis through
    ``reshape_transform``. The result is the library's output: ReLU applied and
    each map min-max normalised to [0, 1].

    Parameters
    ----------
    model : torch.nn.Module
        A 1D classifier taking ``(n, C, T)``.
    target_layer : str or torch.nn.Module
        Layer with output ``(n, K, T')``, e.g. ``model.features`` for CAM.
    x : numpy.ndarray or torch.Tensor
        Signals ``(n, T)`` or ``(n, C, T)``.
    class_idx : int or sequence of int
        One class for all signals, or one per signal.
    method : type, default ``pytorch_grad_cam.GradCAM``
        Another method class of the library, e.g. ``GradCAMPlusPlus``.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, T)`` in [0, 1], resized to the input length by the library.

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``x`` not numbers or ``class_idx`` not integers.
    ValueError
        For an unknown layer, a bad input shape, NaN or infinite inputs, or a class
        index out of range.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    _, layer = get_layer(model, target_layer)
    batch = _signal_batch(x)
    was_training = model.training
    try:
        with torch.no_grad():
            n_classes = model.eval()(batch[:1].to(next(model.parameters()).device)).shape[-1]
    finally:
        model.train(was_training)
    classes = np.atleast_1d(np.asarray(class_idx))
    if classes.ndim != 1 or len(classes) not in (1, len(batch)):
        raise ValueError(f"class_idx: expected one int or {len(batch)} ints (one per signal), "
                         f"got {describe(class_idx)}")  # fmt: skip
    classes = np.broadcast_to(classes, (len(batch),))
    if classes.dtype.kind not in "iu" or classes.min() < 0 or classes.max() >= n_classes:
        raise ValueError(f"class_idx must be integers in [0, {n_classes - 1}], "
                         f"got {np.asarray(class_idx).tolist()}")  # fmt: skip
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    try:
        with (method or GradCAM)(model=_SignalAsImage(model), target_layers=[layer],
                                 reshape_transform=lambda t: t[:, :, None, :]) as cam:  # fmt: skip
            maps = cam(input_tensor=batch[:, :, None, :], targets=targets)
    finally:
        model.train(was_training)
    return np.asarray(maps, dtype=np.float32)[:, 0, :]
