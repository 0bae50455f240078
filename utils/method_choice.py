"""What an explanation costs: wall time per input and model evaluations per explanation.

The closing notebook of the course (``xai-for-1d-data/09_choosing_a_method.ipynb``) fills a
decision table with the cost of every method. Seconds depend on the machine, the number of
threads and the load; the **number of model evaluations** (forward passes and the inputs they
carried, backward passes through the model's output) does not, and is the sturdier measure of
cost. Both are measured here around any callable ``explain(inputs)``.

Examples
--------
>>> import torch
>>> from torch import nn
>>> model = nn.Linear(3, 2)
>>> x = torch.ones(4, 3)
>>> count_model_calls(lambda z: model(z).sum().backward(), model, x)
{'calls': 1, 'inputs': 4, 'backward': 1}
>>> time_per_explanation(lambda z: model(z), x, repeats=3) > 0
True
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import describe, finite_array, integer, model_device

if TYPE_CHECKING:  # torch is imported where it is used
    from torch import nn


def _callable(explain: Any) -> Callable[[Any], Any]:
    if not callable(explain):
        raise TypeError(f"explain: expected a callable explain(inputs), got {describe(explain)}")
    return explain


def _batch_length(inputs: Any) -> int:
    """The number of inputs of a batch (array, tensor or numeric DataFrame), checked finite."""
    if inputs is None or isinstance(inputs, (str, bytes)) or np.isscalar(inputs):
        raise TypeError(f"inputs: expected a batch (n, ...) as an array, tensor or DataFrame, "
                        f"got {describe(inputs)}")  # fmt: skip
    values = finite_array(inputs, "inputs")
    if values.ndim == 0:
        raise ValueError(f"inputs: expected a batch (n, ...), got a single number "
                         f"{describe(inputs)}")  # fmt: skip
    return int(values.shape[0])


@contextlib.contextmanager
def model_call_counter(model: nn.Module) -> Iterator[dict[str, int]]:
    """Count a model's forward calls, the inputs they carried and the backward passes.

    A forward hook on ``model`` counts each call and the length of its first argument; a
    tensor hook on each output that requires grad counts the backward passes through it.
    The hooks are removed on exit, also after an error.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose evaluations are counted.

    Yields
    ------
    dict
        ``{"calls": ..., "inputs": ..., "backward": ...}``, updated while the block runs.

    Raises
    ------
    TypeError
        If ``model`` is not a torch module.
    """
    model_device(model)
    count = {"calls": 0, "inputs": 0, "backward": 0}

    def on_backward(grad: Any) -> None:
        count["backward"] += 1

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        count["calls"] += 1
        if args and hasattr(args[0], "shape") and len(args[0].shape) > 0:
            count["inputs"] += int(args[0].shape[0])
        if getattr(output, "requires_grad", False):
            output.register_hook(on_backward)

    handle = model.register_forward_hook(hook)
    try:
        yield count
    finally:
        handle.remove()


def count_model_calls(
    explain: Callable[[Any], Any], model: nn.Module, inputs: Any,
) -> dict[str, int]:  # fmt: skip
    """Run ``explain(inputs)`` once and count the evaluations of ``model`` it made.

    Parameters
    ----------
    explain : callable
        ``explain(inputs)`` computes the explanation(s), calling ``model`` directly or
        through a library (captum, shap, lime).
    model : torch.nn.Module
        The model whose evaluations are counted (the one ``explain`` calls).
    inputs : array_like, tensor or DataFrame
        The batch ``(n, ...)`` passed to ``explain``.

    Returns
    -------
    dict
        ``calls`` (forward calls), ``inputs`` (inputs they carried in all: divide by ``n``
        for the evaluations per explanation), ``backward`` (backward passes through the
        model's output).

    Raises
    ------
    TypeError
        If ``explain`` is not callable, ``model`` not a torch module or ``inputs`` not a batch.
    ValueError
        If ``inputs`` is empty.
    """
    _callable(explain)
    _batch_length(inputs)
    with model_call_counter(model) as count:
        explain(inputs)
    return dict(count)


def time_per_explanation(explain: Callable[[Any], Any], inputs: Any, repeats: int = 3) -> float:
    """Median wall time of ``explain(inputs)`` over ``repeats`` runs, divided by ``n``.

    One extra run before the clock starts warms caches and lazy imports (it is not timed).
    The result depends on the machine, its load and the number of threads: quote it with
    the machine, and compare methods only by ratios measured in the same session.

    Parameters
    ----------
    explain : callable
        ``explain(inputs)`` computes the explanations of the whole batch.
    inputs : array_like, tensor or DataFrame
        The batch ``(n, ...)``; pass one input (``n = 1``) for the time of a single
        explanation, a larger batch for the time per input when the method batches.
    repeats : int, default 3
        Timed runs (at least 1); the median is robust to one slow run.

    Returns
    -------
    float
        Seconds per input.

    Raises
    ------
    TypeError
        If ``explain`` is not callable, ``inputs`` not a batch or ``repeats`` not an integer.
    ValueError
        If ``inputs`` is empty or ``repeats < 1``.
    """
    _callable(explain)
    n = _batch_length(inputs)
    repeats = integer(repeats, "repeats", minimum=1)
    explain(inputs)  # warm-up, not timed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        explain(inputs)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / n
