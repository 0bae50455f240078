r"""Layer-wise relevance propagation (LRP) with zennit, and a hand-written reference.

LRP (Bach et al., 2015, *On Pixel-Wise Explanations for Non-Linear Classifier Decisions by
Layer-Wise Relevance Propagation*, PLOS ONE) starts with the explained logit and passes it
down layer by layer. For a layer :math:`z_k = \sum_j a_j w_{jk} + b_k` the **ε rule** gives
neuron :math:`j` the share

.. math::

    R_j = \sum_k \frac{a_j w_{jk}}{z_k + \varepsilon\,\mathrm{sign}(z_k)} R_k

of the relevance :math:`R_k` above it (Montavon et al., 2019, *Layer-Wise Relevance
Propagation: An Overview*, in *Explainable AI*, LNCS 11700, Springer). Nothing is created or
lost except the shares :math:`b_k / (z_k + \varepsilon\,\mathrm{sign}(z_k))` and
:math:`\varepsilon\,\mathrm{sign}(z_k) / (z_k + \ldots)` that the bias and the stabiliser
absorb: with zero biases and :math:`\varepsilon \to 0` every layer *conserves* the relevance.

* :func:`lrp_relevance`: the relevance map of a zennit composite, with the sum of the
  relevance entering each listed layer (the numerical conservation check).
* :func:`lrp_epsilon_by_hand`: the ε rule written out for ``Linear``/``ReLU`` stacks, the
  reference that the tests compare with zennit.
* :func:`efficientnet_lite_canonizers`: zennit canonizers for
  :func:`utils.load_imagenet_cnn` (batch norms merged into the convolutions, residual
  additions as a :class:`zennit.layer.Sum` module, so that the Norm rule splits them).

zennit: Anders et al., 2021, *Software for Dataset-wide XAI: From Local Explanations to
Global Insights with Zennit, CoRelAy, and ViRelAy*, arXiv:2106.13200 (version 0.5.1 here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._common import class_indices, describe, finite_batch, model_device, real_number


def _layer_names(model: nn.Module, layers: Any) -> list[str]:
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not all(isinstance(n, str) for n in layers):
        raise TypeError(f"layers: expected a sequence of layer names, got {describe(layers)}")
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules or name == ""]
    if unknown:
        known = [name for name in modules if name]
        shown = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
        raise ValueError(f"layers: unknown layer(s) {unknown}; the model has: {shown}")
    return list(layers)


def lrp_relevance(
    model: nn.Module, x: Any, target: int | Sequence[int], composite: Any,
    layers: Sequence[str] = (),
) -> tuple[np.ndarray, pd.DataFrame]:  # fmt: skip
    """Relevance of ``x`` for the logit ``target`` under a zennit composite, layer by layer.

    The backward pass starts with the **logit itself** (the output relevance is
    ``one_hot(target) * logit``), so a conservative propagation hands every layer a total
    equal to the logit. zennit's :class:`~zennit.attribution.Gradient` attributor computes
    the map with the composite's rules; a tensor hook on the input of each named layer
    (registered before the composite's own hooks) records the relevance that reaches it.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode, returning logits ``(n, n_classes)``.
    x : torch.Tensor or numpy.ndarray
        Inputs ``(n, ...)``.
    target : int or sequence of int
        The explained class, one for all inputs or one per input.
    composite : zennit.core.Composite
        The rules (and canonizers), e.g. ``zennit.composites.EpsilonPlusFlat()``.
    layers : sequence of str, default ()
        Names from ``model.named_modules()`` whose input relevance is summed, top to bottom
        as you like; the table always has the rows ``"logit"`` (first) and ``"input"`` (last).

    Returns
    -------
    relevance : numpy.ndarray
        float32 of the shape of ``x``: the relevance of every input value.
    sums : pandas.DataFrame
        Rows ``"logit"``, each layer, ``"input"``; one column per sample: the total
        relevance entering each layer (float64).

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``composite`` not a zennit composite, ``layers`` not
        names or ``target`` not integers.
    ValueError
        If ``x`` is empty or not finite, a layer does not exist or a target is out of range.

    Examples
    --------
    >>> from zennit.composites import EpsilonPlusFlat  # doctest: +SKIP
    >>> composite = EpsilonPlusFlat()  # doctest: +SKIP
    >>> relevance, sums = lrp_relevance(model, x, 3, composite, ["classifier.2"])  # doctest: +SKIP
    """
    from zennit.attribution import Gradient
    from zennit.core import Composite

    device = model_device(model)
    if not isinstance(composite, Composite):
        raise TypeError(f"composite: expected a zennit composite (e.g. zennit.composites."
                        f"EpsilonPlusFlat()), got {describe(composite)}")  # fmt: skip
    names = _layer_names(model, layers)
    inputs = finite_batch(x, "x").to(device)
    if not inputs.is_floating_point():
        raise TypeError(f"x: expected floating-point inputs, got dtype {inputs.dtype}")
    try:
        with torch.no_grad():
            out = model(inputs)
    except RuntimeError as err:
        raise ValueError(f"x: inputs of shape {tuple(inputs.shape)} do not fit the model "
                         f"({str(err).splitlines()[0]})") from err  # fmt: skip
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ValueError(f"model output: expected logits (n, n_classes), got shape "
                         f"{tuple(out.shape)}")  # fmt: skip
    rows = class_indices(target, "target", len(inputs), out.shape[1]).to(device)[:, None]

    def start(output: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(output).scatter(1, rows, output.gather(1, rows))

    store: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def pre_hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            if args and isinstance(args[0], torch.Tensor) and args[0].requires_grad:
                args[0].register_hook(lambda grad: store.__setitem__(name, grad.detach()))
        return pre_hook

    handles = [model.get_submodule(name).register_forward_pre_hook(recorder(name))
               for name in names]  # fmt: skip
    try:
        with Gradient(model, composite) as attributor:
            output, relevance = attributor(inputs, start)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in names if name not in store]
    if missing:
        raise ValueError(f"layers: no relevance reached {missing} (not used in the forward "
                         f"pass, or not on the path from the input to the output)")  # fmt: skip
    n = len(inputs)
    table = {"logit": output.gather(1, rows)[:, 0]}
    table.update({name: store[name].reshape(n, -1).sum(1) for name in names})
    table["input"] = relevance.reshape(n, -1).sum(1)
    sums = pd.DataFrame({name: value.detach().double().cpu().numpy()
                         for name, value in table.items()}).T  # fmt: skip
    return relevance.detach().cpu().numpy().astype(np.float32), sums


def lrp_epsilon_by_hand(
    model: nn.Sequential, x: Any, target: int | Sequence[int], epsilon: float = 1e-6
) -> np.ndarray:
    r"""LRP-ε written out for a stack of ``Linear``, ``ReLU`` and ``Flatten`` layers.

    The relevance starts with the logit of ``target``; each ``Linear`` layer applies

    .. math::

        R_j = a_j \sum_k \frac{w_{jk}}{z_k + \varepsilon\,\mathrm{sign}(z_k)} R_k ,
        \qquad \mathrm{sign}(0) = +1,

    (the stabiliser of zennit's ``Epsilon`` rule), ``ReLU`` passes the relevance through
    unchanged and ``Flatten`` reshapes it. Computed in float64.

    Parameters
    ----------
    model : torch.nn.Sequential
        Only ``nn.Linear``, ``nn.ReLU`` and ``nn.Flatten`` layers.
    x : torch.Tensor or numpy.ndarray
        Inputs ``(n, ...)`` the first layer accepts.
    target : int or sequence of int
        The explained output, one for all inputs or one per input.
    epsilon : float, default 1e-6
        The stabiliser, ``>= 0``.

    Returns
    -------
    numpy.ndarray
        float64 relevance of the shape of ``x``.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Sequential`` of the supported layers.
    ValueError
        If ``x`` is empty or not finite, ``epsilon`` negative or a target out of range.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))  # doctest: +SKIP
    >>> lrp_epsilon_by_hand(net, torch.ones(1, 3), target=1).shape  # doctest: +SKIP
    (1, 3)
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected an nn.Sequential of Linear/ReLU/Flatten layers, got "
                        f"{describe(model)}")  # fmt: skip
    other = [type(m).__name__ for m in model if not isinstance(m, (nn.Linear, nn.ReLU,
                                                                     nn.Flatten))]  # fmt: skip
    if other or len(model) == 0:
        raise TypeError(f"model: expected only Linear, ReLU and Flatten layers, got "
                        f"{other or 'an empty Sequential'}")  # fmt: skip
    epsilon = real_number(epsilon, "epsilon", minimum=0.0)
    device = model_device(model)
    inputs = finite_batch(x, "x").to(device).double()
    activations = [inputs]
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                if activations[-1].shape[-1] != layer.in_features or activations[-1].ndim != 2:
                    raise ValueError(f"x: the layer {layer} needs inputs (n, "
                                     f"{layer.in_features}), got {tuple(activations[-1].shape)}")
                activations.append(nn.functional.linear(activations[-1], layer.weight.double(),
                                                        None if layer.bias is None
                                                        else layer.bias.double()))  # fmt: skip
            else:
                activations.append(layer(activations[-1]))
        out = activations[-1]
        if out.ndim != 2:
            raise ValueError(f"model output: expected (n, n_outputs), got {tuple(out.shape)}")
        rows = class_indices(target, "target", len(inputs), out.shape[1]).to(device)[:, None]
        relevance = torch.zeros_like(out).scatter(1, rows, out.gather(1, rows))
        for layer, a, z in zip(reversed(model), reversed(activations[:-1]),
                               reversed(activations[1:]), strict=True):  # fmt: skip
            if isinstance(layer, nn.Linear):
                stabilised = z + epsilon * torch.where(z >= 0, 1.0, -1.0)
                relevance = a * ((relevance / stabilised) @ layer.weight.double())
            elif isinstance(layer, nn.Flatten):
                relevance = relevance.reshape(a.shape)
            # ReLU: the relevance passes unchanged
    return relevance.cpu().numpy()


def _lite_block_forward(self: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The forward of utils.pretrained's LiteBlock with the residual addition as a Sum module."""
    x = inputs
    if self._block_args.expand_ratio != 1:
        x = self._act_expand(self._bn0(self._expand_conv(inputs)))
    x = self._act_depthwise(self._bn1(self._depthwise_conv(x)))
    x = self._bn2(self._project_conv(x))
    args = self._block_args
    if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
        x = self.canonizer_sum(torch.stack([inputs, x], dim=-1))
    return x


def efficientnet_lite_canonizers(model: nn.Module) -> list[Any]:
    """zennit canonizers for EfficientNet-Lite0 as loaded by :func:`utils.load_imagenet_cnn`.

    * **Batch norm.** Every convolution is followed by a batch norm; merging it into the
      convolution's weight and bias makes the rule see the affine map that really produces
      the pre-activation (including the sign of the batch norm's scale).
      ``SequentialMergeBatchNorm`` finds no pair in this model: its convolutions
      (``Conv2dStaticSamePadding``) have a child module (the padding), so they are not leaves
      and the leaf before each batch norm is the padding. The pairs are therefore named
      (``NamedMergeBatchNorm``): stem, head and the expand/depthwise/project convolutions of
      the 16 blocks. zennit 0.5.1 leaves each merged batch norm computing
      :math:`x/\\sqrt{1 + \\epsilon}` instead of :math:`x` (it sets the variance to 1), which
      with this model's :math:`\\epsilon = 10^{-3}` shifts the logits by about 0.02; here the
      variance is set to :math:`1 - \\epsilon`, so the canonized model computes the same logits
      up to float rounding.
    * **Residual additions** ``x + inputs`` are plain tensor operations that no rule can see:
      the gradient copies the relevance of the sum to *both* summands. The second canonizer
      replaces them with a :class:`zennit.layer.Sum` module, which the built-in composites
      map to the ``Norm`` rule (each summand gets its share of the sum).

    The canonizers change the model only inside a composite's context and restore it
    afterwards.

    Parameters
    ----------
    model : torch.nn.Module
        The model of :func:`utils.load_imagenet_cnn`.

    Returns
    -------
    list
        ``[NamedMergeBatchNorm(...), AttributeCanonizer(...)]``: pass as
        ``canonizers=`` to a zennit composite.

    Raises
    ------
    TypeError
        If ``model`` is not that EfficientNet-Lite0.

    Examples
    --------
    >>> from zennit.composites import EpsilonPlusFlat  # doctest: +SKIP
    >>> composite = EpsilonPlusFlat(canonizers=efficientnet_lite_canonizers(net))  # doctest: +SKIP
    """
    from zennit.canonizers import AttributeCanonizer, NamedMergeBatchNorm
    from zennit.layer import Sum

    parts = ("_conv_stem", "_bn0", "_blocks", "_conv_head", "_bn1", "_fc")
    if not isinstance(model, nn.Module) or not all(hasattr(model, p) for p in parts) or \
            not all(hasattr(b, "_block_args") for b in getattr(model, "_blocks", [None])):
        raise TypeError(f"model: expected EfficientNet-Lite0 from utils.load_imagenet_cnn(), "
                        f"got {describe(model)}")  # fmt: skip
    pairs = [(("_conv_stem",), "_bn0"), (("_conv_head",), "_bn1")]
    for i, block in enumerate(model._blocks):
        prefix = f"_blocks.{i}."
        if block._block_args.expand_ratio != 1:
            pairs.append(((prefix + "_expand_conv",), prefix + "_bn0"))
        pairs.append(((prefix + "_depthwise_conv",), prefix + "_bn1"))
        pairs.append(((prefix + "_project_conv",), prefix + "_bn2"))

    def residual_as_sum(name: str, module: nn.Module) -> dict[str, Any] | None:
        if hasattr(module, "_block_args") and hasattr(module, "_project_conv"):
            return {"forward": _lite_block_forward.__get__(module), "canonizer_sum": Sum()}
        return None

    class ExactMergeBatchNorm(NamedMergeBatchNorm):
        """zennit's merge, with the left-over batch norm made an exact identity."""

        @staticmethod
        def merge_batch_norm(modules: list[nn.Module], batch_norm: nn.Module) -> None:
            NamedMergeBatchNorm.merge_batch_norm(modules, batch_norm)
            # zennit sets the variance to 1, leaving x / sqrt(1 + eps): 1 - eps makes it x
            batch_norm.running_var.data.fill_(1.0 - batch_norm.eps)

    return [ExactMergeBatchNorm(pairs), AttributeCanonizer(residual_as_sum)]
