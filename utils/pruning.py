r"""Switch channels off with forward hooks: pruning scores, pruning curves, redundancy.

A forward hook that multiplies a layer's output by a 0/1 mask over the channels *prunes*
those channels without touching a weight (:class:`ChannelMask`); for a convolution,
linear or batch-norm layer this is exactly the network whose output weights and biases
of the channels are zero (:func:`zero_channels`, the weight-surgery reference).

Which channels can go? Three scores of channel :math:`k` of a layer with output
:math:`a_k` (feature map over positions :math:`p`), each computed on a batch:

* :func:`activation_importance`: the mean :math:`|a_k|`, a data-driven criterion in the
  spirit of Hu et al. (2016, *Network Trimming: A Data-Driven Neuron Pruning Approach
  towards Efficient Deep Architectures*, arXiv);
* :func:`taylor_importance`: the first-order Taylor estimate of the loss change when
  :math:`a_k` is set to zero (Molchanov et al., 2017, *Pruning Convolutional Neural
  Networks for Resource Efficient Inference*, ICLR),
  :math:`\Theta_k = \frac{1}{N}\sum_n \big|\sum_p a_{nkp}\, \partial \ell_n / \partial
  a_{nkp}\big|`;
* :func:`ablation_importance`: the brute force, one forward pass per channel: the
  measured loss increase or accuracy drop when the channel is switched off.

:func:`pruning_curve` measures the accuracy while more and more channels are switched off
in a given order; :func:`feature_map_correlation` and :func:`top_input_overlap` measure how
redundant the channels of a layer are.

Examples
--------
>>> with ChannelMask(model, "features.3", [0, 5]):  # doctest: +SKIP
...     logits = model(x)          # channels 0 and 5 of features.3 are zero
>>> surgery = zero_channels(model, "features.3", [0, 5])  # doctest: +SKIP
>>> torch.allclose(logits, surgery(x))  # doctest: +SKIP
True
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, finite_array, finite_batch, integer, model_device, one_of
from .hooks import LayerSpec, get_layer, record_activations
from .training import _check_label_range, _labels

#: Layers whose output channel ``k`` is zero when ``weight[k]`` and ``bias[k]`` are zero.
_SURGERY = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)


def _channels(channels: Any) -> list[int]:
    """Return channel indices (a 1-D sequence of distinct non-negative ints) as a list."""
    if isinstance(channels, torch.Tensor):
        channels = channels.detach().cpu().numpy()
    if channels is None or isinstance(channels, (str, bytes)) or np.isscalar(channels) \
            or not hasattr(channels, "__len__"):  # fmt: skip
        raise TypeError(f"channels: expected a 1-D sequence of channel indices (ints), got "
                        f"{describe(channels)}")  # fmt: skip
    array = np.asarray(channels)
    if array.ndim != 1:
        raise ValueError(f"channels: expected a 1-D sequence of channel indices, got shape "
                         f"{array.shape}")  # fmt: skip
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"channels: expected integer channel indices, got dtype {array.dtype}")
    values = [int(c) for c in array]
    if any(c < 0 for c in values):
        raise ValueError(f"channels: expected indices >= 0, got {min(values)}")
    if len(set(values)) != len(values):
        raise ValueError("channels: expected distinct indices, got repeated ones")
    return values


def _counts(counts: Any, n: int) -> list[int]:
    """Return the numbers of pruned channels, each an int in [0, n]."""
    if isinstance(counts, (str, bytes)) or not hasattr(counts, "__len__"):
        raise TypeError(f"counts: expected a sequence of ints, got {describe(counts)}")
    array = np.asarray(counts)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"counts: expected a non-empty 1-D sequence of ints, got shape "
                         f"{array.shape}")  # fmt: skip
    return [integer(k, "counts", minimum=0, maximum=n) for k in array.tolist()]


def _check_batch_size(batch_size: Any) -> int:
    return integer(batch_size, "batch_size", minimum=1)


class ChannelMask:
    """Context manager that switches output channels of a layer off with a forward hook.

    Inside the ``with`` block every forward pass of ``model`` multiplies the output of
    ``layer`` by a mask that is 0 on ``channels`` and 1 elsewhere (along axis 1, the
    channel axis of ``(n, C, ...)`` outputs). No weight changes; leaving the block
    removes the hook, also after an error.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        The layer whose output channels are switched off (a name from
        :func:`utils.layer_names` or the module).
    channels : sequence of int
        Distinct channel indices, ``0 <= c < C``; may be empty (nothing is masked).

    Raises
    ------
    TypeError, ValueError
        For a bad model, layer or channel list; during the forward pass, if an index is
        out of range for the layer's output.

    Examples
    --------
    >>> with ChannelMask(model, "features.3", [3, 7]):  # doctest: +SKIP
    ...     pruned_logits = model(x)
    """

    def __init__(self, model: nn.Module, layer: LayerSpec, channels: Sequence[int]) -> None:
        model_device(model)
        self.model = model
        self.name, self.layer = get_layer(model, layer)
        self.channels = _channels(channels)
        self._handle: Any = None

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim < 2:
            raise TypeError(f"layer {self.name!r} must return a tensor (n, C, ...) to mask its "
                            f"channels, got {describe(output)}")  # fmt: skip
        n_channels = output.shape[1]
        if self.channels and max(self.channels) >= n_channels:
            raise ValueError(f"channels: layer {self.name!r} has {n_channels} channels, expected "
                             f"indices < {n_channels}, got {max(self.channels)}")  # fmt: skip
        mask = torch.ones(n_channels, dtype=output.dtype, device=output.device)
        mask[self.channels] = 0
        return output * mask.view(1, n_channels, *([1] * (output.ndim - 2)))

    def __enter__(self) -> ChannelMask:
        self._handle = self.layer.register_forward_hook(self._hook)
        return self

    def remove(self) -> None:
        """Remove the hook (called automatically when the ``with`` block ends)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def zero_channels(model: nn.Module, layer: LayerSpec, channels: Sequence[int]) -> nn.Module:
    """Return a copy of ``model`` whose ``layer`` has zero weights and bias on ``channels``.

    The weight-surgery version of :class:`ChannelMask`: output channel ``c`` of a
    convolution, linear or batch-norm layer is exactly zero when ``weight[c]`` and
    ``bias[c]`` are. The original model is not changed.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        A ``Conv1d/2d/3d``, ``Linear`` or ``BatchNorm1d/2d`` layer of ``model``.
    channels : sequence of int
        Distinct output channel indices, ``0 <= c < C``.

    Returns
    -------
    torch.nn.Module
        A deep copy with the weights zeroed, in the original's train/eval mode.

    Raises
    ------
    TypeError
        If the layer is of another type (its channels are not set by ``weight[c]``).
    ValueError
        For unknown layers or indices out of range.
    """
    model_device(model)
    name, module = get_layer(model, layer)
    if not isinstance(module, _SURGERY) or getattr(module, "weight", None) is None:
        raise TypeError(f"layer {name!r} ({type(module).__name__}): expected a convolution, "
                        "linear or affine batch-norm layer, whose output channel c is set by "
                        "weight[c] and bias[c]")  # fmt: skip
    chans = _channels(channels)
    n_channels = module.weight.shape[0]
    if chans and max(chans) >= n_channels:
        raise ValueError(f"channels: layer {name!r} has {n_channels} output channels, expected "
                         f"indices < {n_channels}, got {max(chans)}")  # fmt: skip
    pruned = copy.deepcopy(model)
    target = dict(pruned.named_modules())[name]
    with torch.no_grad():
        target.weight[chans] = 0
        if target.bias is not None:
            target.bias[chans] = 0
    return pruned


def _inputs_and_labels(model: nn.Module, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    model_device(model)
    x = finite_batch(x, "x")
    return x, _labels(y, len(x), "y")


def _n_channels(model: nn.Module, name: str, x: torch.Tensor) -> int:
    maps = record_activations(model, name, x[:1])[name]
    if maps.ndim < 2:
        raise ValueError(f"layer {name!r} outputs shape {tuple(maps.shape)}; expected (n, C, ...)")
    return int(maps.shape[1])


def _loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       batch_size: int) -> tuple[float, float]:  # fmt: skip
    device = model_device(model)
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i : i + batch_size].to(device)).cpu()
            yb = y[i : i + batch_size]
            if i == 0:
                _check_label_range(y, logits.shape[-1], "y")
            total += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
    return total / len(x), correct / len(x)


def activation_importance(model: nn.Module, layer: LayerSpec, x: Any,
                          batch_size: int = 256) -> np.ndarray:  # fmt: skip
    """Return the mean absolute activation of each output channel of ``layer``.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        A layer with output ``(n, C, ...)``.
    x : numpy.ndarray or torch.Tensor
        Input batch.
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        float64 ``(C,)``: the mean of ``|a_c|`` over images and positions.
    """
    name, _ = get_layer(model, layer)
    maps = record_activations(model, name, x, _check_batch_size(batch_size))[name]
    if maps.ndim < 2:
        raise ValueError(f"layer {name!r} outputs shape {tuple(maps.shape)}; expected (n, C, ...)")
    return maps.abs().transpose(0, 1).flatten(1).double().mean(1).numpy()


def taylor_importance(model: nn.Module, layer: LayerSpec, x: Any, y: Any, signed: bool = False,
                      batch_size: int = 256) -> np.ndarray:  # fmt: skip
    r"""Return the first-order Taylor estimate of each channel's effect on the loss.

    With :math:`\ell_n` the cross-entropy of image :math:`n` and :math:`a_{nkp}` the output of
    channel :math:`k` at position :math:`p`, switching channel :math:`k` off changes
    :math:`a_{nkp}` by :math:`-a_{nkp}`, so to first order

    .. math::

        \Delta \ell_{nk} \approx -\sum_p a_{nkp}\, \frac{\partial \ell_n}{\partial a_{nkp}} .

    ``signed=False`` returns the criterion of Molchanov et al. (2017, *Pruning Convolutional
    Neural Networks for Resource Efficient Inference*, ICLR):
    :math:`\frac{1}{N}\sum_n |\Delta \ell_{nk}|`; ``signed=True`` returns
    :math:`\frac{1}{N}\sum_n \Delta \ell_{nk}`, the estimated change of the mean loss, exact
    when the loss is linear in the channel (compare :func:`ablation_importance`).

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits; run in eval mode (its mode is restored). No
        parameter gradient is computed or changed.
    layer : str or torch.nn.Module
        A layer with output ``(n, C, ...)``.
    x : numpy.ndarray or torch.Tensor
        Input batch.
    y : array_like
        Integer labels ``(n,)``.
    signed : bool, default False
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        float64 ``(C,)``.
    """
    name, module = get_layer(model, layer)
    x, y = _inputs_and_labels(model, x, y)
    batch_size = _check_batch_size(batch_size)
    device = model_device(model)
    kept: list[torch.Tensor] = []

    def hook(mod: nn.Module, inputs: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim < 2:
            raise TypeError(f"layer {name!r} must return a tensor (n, C, ...), got "
                            f"{describe(output)}")  # fmt: skip
        leaf = output.detach().requires_grad_(True)  # the gradient stops here: cheaper
        kept.append(leaf)
        return leaf

    was_training = model.training
    model.eval()
    per_image = []
    handle = module.register_forward_hook(hook)
    try:
        for i in range(0, len(x), batch_size):
            kept.clear()
            yb = y[i : i + batch_size].to(device)
            with torch.enable_grad():
                logits = model(x[i : i + batch_size].to(device))
                if i == 0:
                    _check_label_range(y, logits.shape[-1], "y")
                loss = nn.functional.cross_entropy(logits, yb, reduction="sum")
                (grad,) = torch.autograd.grad(loss, kept[0])
            a = kept[0].detach()
            per_image.append(-(a * grad).flatten(2).sum(2).double().cpu())
    finally:
        handle.remove()
        model.train(was_training)
    change = torch.cat(per_image)  # (n, C): estimated loss change of each image
    return (change.mean(0) if signed else change.abs().mean(0)).numpy()


def ablation_importance(model: nn.Module, layer: LayerSpec, x: Any, y: Any,
                        metric: str = "loss", batch_size: int = 256) -> np.ndarray:  # fmt: skip
    """Switch each channel off in turn and measure what the model loses (brute force).

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits; run in eval mode without gradients.
    layer : str or torch.nn.Module
        A layer with output ``(n, C, ...)``.
    x : numpy.ndarray or torch.Tensor
        Input batch.
    y : array_like
        Integer labels ``(n,)``.
    metric : {"loss", "accuracy"}, default "loss"
        ``"loss"``: the increase of the mean cross-entropy; ``"accuracy"``: the drop of
        the accuracy (both positive when the channel helps).
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        float64 ``(C,)``, one value per channel (``C`` forward passes of ``x``).
    """
    name, _ = get_layer(model, layer)
    metric = one_of(metric, "metric", ["loss", "accuracy"])
    x, y = _inputs_and_labels(model, x, y)
    batch_size = _check_batch_size(batch_size)
    was_training = model.training
    model.eval()
    try:
        base_loss, base_acc = _loss_and_accuracy(model, x, y, batch_size)
        scores = []
        for c in range(_n_channels(model, name, x)):
            with ChannelMask(model, name, [c]):
                loss, acc = _loss_and_accuracy(model, x, y, batch_size)
            scores.append(loss - base_loss if metric == "loss" else base_acc - acc)
    finally:
        model.train(was_training)
    return np.asarray(scores, dtype=np.float64)


def pruning_curve(
    model: nn.Module, layer: LayerSpec, order: Sequence[int], x: Any, y: Any,
    counts: Sequence[int] | None = None, batch_size: int = 256,
) -> np.ndarray:  # fmt: skip
    """Return the accuracy after switching off the first ``k`` channels of ``order``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits; run in eval mode without gradients.
    layer : str or torch.nn.Module
        A layer with output ``(n, C, ...)``.
    order : sequence of int
        Distinct channel indices, the first to be pruned first (e.g. the channels sorted
        by increasing importance).
    x : numpy.ndarray or torch.Tensor
        Evaluation inputs.
    y : array_like
        Integer labels ``(n,)``.
    counts : sequence of int, optional
        How many channels to prune at each point, ``0 <= k <= len(order)``; default
        ``0, 1, ..., len(order)``.
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        float64 ``(len(counts),)``: accuracies in [0, 1].
    """
    name, _ = get_layer(model, layer)
    order = _channels(order)
    counts = list(range(len(order) + 1)) if counts is None else _counts(counts, len(order))
    x, y = _inputs_and_labels(model, x, y)
    batch_size = _check_batch_size(batch_size)
    was_training = model.training
    model.eval()
    try:
        accuracies = []
        for k in counts:
            with ChannelMask(model, name, order[:k]):
                accuracies.append(_loss_and_accuracy(model, x, y, batch_size)[1])
    finally:
        model.train(was_training)
    return np.asarray(accuracies, dtype=np.float64)


def _channel_maps(maps: Any) -> np.ndarray:
    """(n, C, ...) activations -> float64 array, checked."""
    array = finite_array(maps, "maps")
    if array.ndim < 2 or array.shape[0] < 2 or array.shape[1] < 2:
        raise ValueError(f"maps: expected activations (n, C, ...) with n >= 2 images and C >= 2 "
                         f"channels, got shape {array.shape}")  # fmt: skip
    return array


def feature_map_correlation(maps: Any) -> np.ndarray:
    """Pearson correlation between the feature maps of every pair of channels.

    Each channel is one long vector of its values over all images and positions; two
    channels with correlation near 1 compute nearly the same map (up to scale and offset),
    so one of them is redundant.

    Parameters
    ----------
    maps : array_like or torch.Tensor
        Activations ``(n, C, ...)`` of one layer, e.g. from :func:`utils.record_activations`.

    Returns
    -------
    numpy.ndarray
        float64 ``(C, C)``, symmetric, 1 on the diagonal; rows and columns of channels that
        are constant (e.g. dead ReLUs) are NaN, their correlation is undefined.
    """
    array = _channel_maps(maps)
    vectors = np.moveaxis(array, 1, 0).reshape(array.shape[1], -1)
    centred = vectors - vectors.mean(1, keepdims=True)
    norms = np.sqrt((centred**2).sum(1))
    alive = norms > 1e-12 * max(1.0, float(np.abs(vectors).max()))
    unit = np.zeros_like(centred)
    unit[alive] = centred[alive] / norms[alive, None]
    corr = np.clip(unit @ unit.T, -1.0, 1.0)
    corr[~alive, :] = np.nan
    corr[:, ~alive] = np.nan
    return corr


def top_input_overlap(maps: Any, k: int = 20) -> np.ndarray:
    """Jaccard overlap of the top-``k`` activating inputs of every pair of channels.

    An input's score for a channel is the channel's maximum over all positions, as in
    :func:`utils.top_activating`; ties are broken by the lower index. Two channels that
    fire most strongly on the same inputs (overlap near 1) may detect the same thing.

    Parameters
    ----------
    maps : array_like or torch.Tensor
        Activations ``(n, C, ...)`` of one layer.
    k : int, default 20
        How many top inputs per channel, ``1 <= k <= n``.

    Returns
    -------
    numpy.ndarray
        float64 ``(C, C)`` in [0, 1], 1 on the diagonal.
    """
    array = _channel_maps(maps)
    k = integer(k, "k", minimum=1, maximum=array.shape[0])
    scores = array.reshape(array.shape[0], array.shape[1], -1).max(2)  # (n, C)
    top = np.argsort(-scores, axis=0, kind="stable")[:k]  # (k, C)
    member = np.zeros(scores.shape, dtype=np.float64)
    np.put_along_axis(member, top, 1.0, axis=0)
    shared = member.T @ member  # (C, C): |top_i ∩ top_j|
    return shared / (2 * k - shared)
