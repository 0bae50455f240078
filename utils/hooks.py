"""Look inside a network with forward hooks: layers by name, activations, receptive fields.

A forward hook is a function that PyTorch calls with ``(module, inputs, output)``
every time ``module`` runs. Hooks read the activations of the *real* network as it
computes its prediction, whatever its ``forward`` does (skip connections, reused
blocks), which re-building the network layer by layer would not.

Examples
--------
>>> model = MnistCNN().eval()  # doctest: +SKIP
>>> maps = record_activations(model, ["features.0", "features.3"], x)  # doctest: +SKIP
>>> maps["features.3"].shape  # doctest: +SKIP
torch.Size([8, 32, 14, 14])
>>> with ActivationRecorder(model, model.target_layer) as rec:  # doctest: +SKIP
...     logits = model(x)
>>> rec.activations["features.3"].shape  # doctest: +SKIP
torch.Size([8, 32, 14, 14])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import finite_batch

LayerSpec = str | nn.Module


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    return model


def layer_names(model: nn.Module) -> list[str]:
    """Return the names of all sub-modules, as accepted by :func:`get_layer`.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str
        Dotted names in definition order, e.g. ``["features", "features.0", ...]``
        (the model itself, name ``""``, is left out).
    """
    return [name for name, _ in _check_model(model).named_modules() if name]


def _short_list(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def get_layer(model: nn.Module, layer: LayerSpec) -> tuple[str, nn.Module]:
    """Find a layer of ``model`` by dotted name or by the module itself.

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        A name from :func:`layer_names` (e.g. ``"features.3"``) or a sub-module
        (e.g. ``model.target_layer``).

    Returns
    -------
    name : str
        The layer's dotted name.
    module : torch.nn.Module
        The layer.

    Raises
    ------
    ValueError
        If the name does not exist (the message lists the available names) or the
        module is not part of ``model``.
    TypeError
        If ``layer`` is neither a string nor a module.
    """
    _check_model(model)
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules or layer == "":
            raise ValueError(f"model {type(model).__name__} has no layer named {layer!r}; "
                             f"expected one of its layers: "
                             f"{_short_list(layer_names(model))}")  # fmt: skip
        return layer, modules[layer]
    if isinstance(layer, nn.Module):
        for name, module in modules.items():
            if module is layer and name:
                return name, module
        raise ValueError(f"the given {type(layer).__name__} module is not a layer of this "
                         f"{type(model).__name__} (pass one of its own sub-modules, e.g. "
                         "model.target_layer, or a name from utils.layer_names(model))")
    raise TypeError(f"layer: expected a layer name (str) or a torch.nn.Module, "
                    f"got {type(layer).__name__}")  # fmt: skip


def _layers(
    model: nn.Module, layers: LayerSpec | Sequence[LayerSpec]
) -> list[tuple[str, nn.Module]]:
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    if not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError(f"layers: expected a layer name, a module or a non-empty list of them, "
                         f"got {layers!r}")  # fmt: skip
    return [get_layer(model, layer) for layer in layers]


class ActivationRecorder:
    """Context manager that records the outputs of some layers on every forward pass.

    Inside the ``with`` block every forward pass of ``model`` stores the output of
    each hooked layer (detached, moved to the CPU when ``to_cpu``) in
    :attr:`activations`, keyed by layer name; outputs of several passes are
    concatenated along the batch axis. Leaving the block removes the hooks, also
    after an error.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str, torch.nn.Module or sequence of them
        Layers to record (names from :func:`layer_names` or the modules).
    to_cpu : bool, default True
        Move recorded tensors to the CPU (saves accelerator memory).

    Attributes
    ----------
    activations : dict of str to torch.Tensor
        Recorded outputs, available during and after the ``with`` block.

    Examples
    --------
    >>> with ActivationRecorder(model, ["features.0"]) as rec:  # doctest: +SKIP
    ...     model(x)
    >>> rec.activations["features.0"].shape  # doctest: +SKIP
    torch.Size([8, 16, 28, 28])
    """

    def __init__(self, model: nn.Module, layers: LayerSpec | Sequence[LayerSpec],
                 to_cpu: bool = True) -> None:  # fmt: skip
        self.model = _check_model(model)
        self.layers = _layers(model, layers)
        self.to_cpu = to_cpu
        self._chunks: dict[str, list[torch.Tensor]] = {name: [] for name, _ in self.layers}
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returns {type(output).__name__}, not a tensor; "
                                "hook one of its sub-modules instead")  # fmt: skip
            # a copy: a later in-place operation (e.g. ReLU(inplace=True)) would change it
            out = output.detach()
            self._chunks[name].append(out.to("cpu", copy=True) if self.to_cpu else out.clone())

        return hook

    @property
    def activations(self) -> dict[str, torch.Tensor]:
        """Recorded outputs per layer name (batches concatenated)."""
        return {name: torch.cat(chunks) for name, chunks in self._chunks.items() if chunks}

    def __enter__(self) -> ActivationRecorder:
        self._handles = [module.register_forward_hook(self._hook(name))
                         for name, module in self.layers]  # fmt: skip
        return self

    def remove(self) -> None:
        """Remove the hooks (called automatically when the ``with`` block ends)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def record_activations(
    model: nn.Module, layers: LayerSpec | Sequence[LayerSpec], x: Any, batch_size: int = 256,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Run ``model`` on ``x`` and return the outputs of the given layers.

    The model runs in eval mode without gradients, in batches, on its own device;
    hooks are removed afterwards (its train/eval mode is restored).

    Parameters
    ----------
    model : torch.nn.Module
    layers : str, torch.nn.Module or sequence of them
        Layers to record, e.g. ``["features.0", model.target_layer]``.
    x : numpy.ndarray or torch.Tensor
        Input batch, first axis = samples.
    batch_size : int, default 256

    Returns
    -------
    dict of str to torch.Tensor
        One CPU tensor ``(n, ...)`` per layer, keyed by the layer's dotted name.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``x`` not numbers.
    ValueError
        For unknown layer names (the message lists the available ones), an empty or
        non-finite ``x``, or a bad ``batch_size``.
    """
    _check_model(model)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:  # fmt: skip
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = finite_batch(x, "x")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with ActivationRecorder(model, layers) as recorder, torch.no_grad():
            for i in range(0, len(x), batch_size):
                model(x[i : i + batch_size].to(device))
    finally:
        model.train(was_training)
    return recorder.activations


def top_activating(
    model: nn.Module, layer: LayerSpec, x: Any, channel: int, k: int = 9,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Find the inputs that activate one channel of a layer most strongly.

    The score of an input is the channel's **maximum** over all positions
    (it responds somewhere in the image).

    Parameters
    ----------
    model : torch.nn.Module
    layer : str or torch.nn.Module
        A layer with output ``(n, channels, ...)``.
    x : numpy.ndarray or torch.Tensor
        Candidate inputs ``(n, ...)``.
    channel : int
        Channel index in ``[0, channels)``.
    k : int, default 9
        How many inputs to return, ``1 <= k <= n``.
    batch_size : int, default 256

    Returns
    -------
    indices : numpy.ndarray
        int ``(k,)``: indices into ``x``, strongest first (ties: lower index first).
    scores : numpy.ndarray
        float ``(k,)``: their maximal activations.
    """
    name, _ = get_layer(model, layer)
    maps = record_activations(model, name, x, batch_size)[name]
    if maps.ndim < 3:
        raise ValueError(f"layer {name!r} outputs shape {tuple(maps.shape)}; expected "
                         "(n, channels, ...) feature maps")  # fmt: skip
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) \
            or not 0 <= channel < maps.shape[1]:  # fmt: skip
        raise ValueError(f"channel must be an integer in [0, {maps.shape[1] - 1}] for layer "
                         f"{name!r}, got {channel!r}")  # fmt: skip
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(maps):
        raise ValueError(f"k must be an integer in [1, {len(maps)}], got {k!r}")
    scores = maps[:, channel].flatten(1).amax(1).numpy()
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


_ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity)  # fmt: skip


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def receptive_fields(layers: nn.Sequential | Sequence[nn.Module]) -> list[dict[str, Any]]:
    r"""Compute the receptive field of every layer of a sequential stack.

    For a layer with kernel :math:`k`, stride :math:`s` and dilation :math:`d`,
    the receptive field :math:`r` (in input pixels) and the jump :math:`j`
    (input pixels between neighbouring output positions) grow as

    .. math::

        r_\text{out} = r_\text{in} + d\,(k - 1)\, j_\text{in}, \qquad
        j_\text{out} = j_\text{in}\, s, \qquad r_0 = j_0 = 1,

    and the centre of the first output unit moves by :math:`(d(k-1)/2 - p)\,j_\text{in}`
    for padding :math:`p`.

    Parameters
    ----------
    layers : torch.nn.Sequential or sequence of torch.nn.Module
        Conv2d / MaxPool2d / AvgPool2d layers and element-wise layers (ReLU,
        BatchNorm, Dropout, ...), in order, e.g. ``model.features``.

    Returns
    -------
    list of dict
        One row per layer: ``layer`` (index in ``layers``), ``type``,
        ``kernel``, ``stride``, ``jump``, ``receptive_field`` (ints; for
        non-square kernels the height value) and ``start``: the input
        coordinate (pixel index, may be fractional) of the centre of output
        unit 0; unit ``i`` is centred at ``start + i * jump`` and sees the
        pixels ``centre +- (receptive_field - 1) / 2`` (clipped at the border).

    Raises
    ------
    TypeError
        For something else than a sequence of modules, or a layer type whose
        receptive field is not defined here (e.g. Linear).
    ValueError
        For an empty sequence.
    """
    if not isinstance(layers, (nn.Sequential, list, tuple)) \
            or not all(isinstance(layer, nn.Module) for layer in layers):  # fmt: skip
        raise TypeError(f"layers: expected an nn.Sequential or a list of layers, got "
                        f"{type(layers).__name__}")  # fmt: skip
    if len(layers) == 0:
        raise ValueError("layers: expected at least one layer, got an empty sequence")
    rows, r, j, start = [], 1, 1, 0.0
    for index, layer in enumerate(layers):
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = _pair(layer.kernel_size)[0]
            s = _pair(layer.stride if layer.stride is not None else k)[0]
            d = _pair(getattr(layer, "dilation", 1))[0]
            padding = layer.padding
            if isinstance(padding, str):  # "same" or "valid"
                p = d * (k - 1) / 2 if padding == "same" else 0
            else:
                p = _pair(padding)[0]
        elif isinstance(layer, _ELEMENTWISE):
            k, s, d, p = 1, 1, 1, 0
        else:
            raise TypeError(f"layer {index} ({type(layer).__name__}): receptive fields are "
                            "computed for Conv2d, MaxPool2d, AvgPool2d and element-wise "
                            "layers only")  # fmt: skip
        start += (d * (k - 1) / 2 - p) * j
        r, j = r + d * (k - 1) * j, j * s
        rows.append({"layer": index, "type": type(layer).__name__, "kernel": k, "stride": s,
                     "jump": j, "receptive_field": r, "start": start})  # fmt: skip
    return rows
