r"""Class activation maps written out: CAM and Grad-CAM, the tested references of day 2.

CAM (Zhou et al., 2016, *Learning Deep Features for Discriminative Localization*,
CVPR) works for networks that end in global average pooling (GAP) and one linear
layer: with feature maps :math:`A^k` and class weights :math:`w^c_k`,

.. math::

    \mathrm{CAM}^c = \sum_k w^c_k A^k .

Grad-CAM (Selvaraju et al., 2017, *Grad-CAM: Visual Explanations from Deep Networks
via Gradient-based Localization*, ICCV) replaces :math:`w^c_k` by the spatial mean of
the gradient, so it works for any layer of any CNN:

.. math::

    \alpha^c_k = \frac{1}{Z}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
    L^c = \mathrm{ReLU}\Big(\sum_k \alpha^c_k A^k\Big).

For a GAP network, :math:`\alpha^c_k = w^c_k / Z`: Grad-CAM is CAM divided by the
number of positions :math:`Z`. The course uses ``pytorch-grad-cam`` for the method
family; :func:`grad_cam` is the hand-written version that the tests compare with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import class_indices, describe, finite_array, finite_batch, integer, resize_linear
from .hooks import LayerSpec, get_layer


def grad_cam(
    model: nn.Module, target_layer: LayerSpec, x: Any, class_idx: int | Sequence[int],
    relu: bool = True, counterfactual: bool = False,
) -> np.ndarray:  # fmt: skip
    r"""Compute Grad-CAM by hand with a forward hook (Selvaraju et al., 2017).

    A forward hook keeps the (non-detached) output :math:`A` of ``target_layer``;
    ``torch.autograd.grad`` gives :math:`\partial y^c / \partial A` for the logit
    :math:`y^c` of each image; the channel weights are the spatial means of the
    gradient. The hook is removed afterwards, also after an error; parameter
    gradients (``.grad``) are not touched.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits ``(n, n_classes)``; run in eval mode (its
        train/eval mode is restored), on its own device.
    target_layer : str or torch.nn.Module
        The layer to explain, e.g. ``model.target_layer`` or ``"features.3"``;
        its output must be ``(n, channels, ...)`` (2D maps, or 1D for signals).
    x : numpy.ndarray or torch.Tensor
        Input batch ``(n, ...)``.
    class_idx : int or sequence of int
        The class to explain: one for all images, or one per image.
    relu : bool, default True
        Apply the final ReLU (keep only positive evidence). ``False`` returns the
        signed map :math:`\sum_k \alpha^c_k A^k`.
    counterfactual : bool, default False
        Use the negated gradient (Selvaraju et al., Sec. 5, "counterfactual
        explanations"): where the evidence *against* the class lies.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, h, w)`` at the layer's resolution, **not** upsampled and
        not normalised (``pytorch_grad_cam`` min-max normalises each map and
        resizes it to the input; see :func:`upsample_cam`).

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``x`` not numbers or ``class_idx`` not integers.
    ValueError
        For an unknown layer (the message lists the layers), an empty or non-finite
        ``x``, a class index out of range, or a layer whose output is not
        ``(n, channels, ...)``.

    Examples
    --------
    >>> cams = grad_cam(model, model.target_layer, x[:4], class_idx=7)  # doctest: +SKIP
    >>> cams.shape  # doctest: +SKIP
    (4, 14, 14)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    name, layer = get_layer(model, target_layer)
    x = finite_batch(x, "x")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x: expected a non-empty batch (n, ...), got shape {tuple(x.shape)}")
    device = next(model.parameters()).device
    stored: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: stored.append(output))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            # requires_grad on the input keeps a graph even if the weights are frozen
            logits = model(x.detach().to(device).requires_grad_(True))
            if logits.ndim != 2:
                raise ValueError(f"model output: expected logits (n, n_classes), got shape "
                                 f"{tuple(logits.shape)}")  # fmt: skip
            classes = class_indices(class_idx, "class_idx", len(x), logits.shape[1]).to(device)
            if len(stored) != 1 or not isinstance(stored[0], torch.Tensor):
                raise ValueError(f"layer {name!r} must run exactly once per forward pass and "
                                 f"return a tensor; it ran {len(stored)} times")  # fmt: skip
            maps = stored[0]
            if maps.ndim < 3 or len(maps) != len(x):
                raise ValueError(f"layer {name!r} outputs shape {tuple(maps.shape)}; "
                                 "expected feature maps (n, channels, ...) - choose a conv "
                                 "layer")  # fmt: skip
            scores = logits.gather(1, classes[:, None]).sum()
            (grads,) = torch.autograd.grad(scores, maps)
    finally:
        handle.remove()
        model.train(was_training)
    if counterfactual:
        grads = -grads
    spatial = tuple(range(2, maps.ndim))
    weights = grads.mean(dim=spatial, keepdim=True)  # alpha_k^c, (n, K, 1, 1)
    cam = (weights * maps).sum(dim=1).detach()
    if relu:
        cam = cam.clamp(min=0)
    return cam.cpu().numpy().astype(np.float32)


def class_activation_map(
    feature_maps: Any, fc_weight: Any, class_idx: int | Sequence[int],
) -> np.ndarray:  # fmt: skip
    r"""Compute CAM for a GAP network: :math:`\mathrm{CAM}^c = \sum_k w^c_k A^k`.

    Parameters
    ----------
    feature_maps : numpy.ndarray or torch.Tensor
        The last feature maps :math:`A`, ``(n, K, h, w)`` (the input of global
        average pooling).
    fc_weight : numpy.ndarray or torch.Tensor
        Weight matrix ``(n_classes, K)`` of the linear layer after pooling.
    class_idx : int or sequence of int
        One class for all images, or one per image.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, h, w)``, signed and not normalised. Its spatial mean plus the
        bias is the class logit.

    Raises
    ------
    TypeError
        If the maps or weights are not numbers, or ``class_idx`` not integers.
    ValueError
        For empty or non-finite inputs, shapes that do not fit, or a class index out
        of range.
    """
    maps, weight = finite_array(feature_maps, "feature_maps"), finite_array(fc_weight, "fc_weight")
    if maps.ndim not in (3, 4):
        raise ValueError(f"feature_maps: expected (n, K, h, w) or, for signals, (n, K, T), "
                         f"got shape {maps.shape}")  # fmt: skip
    if weight.ndim != 2 or weight.shape[1] != maps.shape[1]:
        raise ValueError(f"fc_weight: expected shape (n_classes, {maps.shape[1]}) to match "
                         f"{maps.shape[1]} feature maps, got {weight.shape}")  # fmt: skip
    classes = class_indices(class_idx, "class_idx", len(maps), weight.shape[0]).numpy()
    cam = np.einsum("nk,nk...->n...", weight[classes], maps)
    return cam.astype(np.float32)


def upsample_cam(cam: Any, size: tuple[int, int] | Sequence[int]) -> np.ndarray:
    """Resize maps ``(n, h, w)`` (or one ``(h, w)``) bilinearly to ``size = (H, W)``.

    Pixel centres are aligned as in OpenCV's ``cv2.resize``, which
    ``pytorch_grad_cam`` uses (``align_corners=False``). No normalisation.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, H, W)`` (or ``(H, W)`` for a single map).

    Raises
    ------
    TypeError
        If ``cam`` is not numbers or ``size`` not a pair of integers.
    ValueError
        For empty or non-finite maps, a shape other than ``(h, w)`` / ``(n, h, w)``,
        or sides that are not positive.
    """
    array = finite_array(cam, "cam")
    if array.ndim not in (2, 3):
        raise ValueError(f"cam: expected (h, w) or (n, h, w), got shape {array.shape}")
    if not isinstance(size, (tuple, list, torch.Size)) or len(size) != 2:
        raise TypeError(f"size: expected a pair (H, W) of integers, got {describe(size)}")
    size = tuple(integer(s, "size", minimum=1) for s in size)
    return resize_linear(array.astype(np.float32), size)
