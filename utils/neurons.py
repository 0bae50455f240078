"""What the neurons of a text transformer respond to, in the spirit of TX-Ray.

TX-Ray (Rethmeier et al., 2020, *TX-Ray: Quantifying and Explaining Model-Knowledge
Transfer in (Un-)Supervised NLP*, UAI) describes each neuron by the distribution of the
input tokens that activate it maximally, collected over a whole corpus instead of one
input at a time.

* :func:`token_activations`: run a Hugging Face encoder over many texts with forward
  hooks and keep, for every real token (no padding, no special tokens), the output of
  the hooked layers, e.g. the 1536 GELU units of each feed-forward block of MiniLM.
* :func:`max_activating_tokens`: per neuron, the ``k`` token occurrences with the highest
  activation (strongest first; ties: earlier token first).
* :func:`neuron_token_stats`: per neuron, how its top tokens are distributed over token
  types: the most frequent type, its share, the number of distinct types and the entropy.

Examples
--------
>>> tokenizer, encoder = load_text_encoder()  # doctest: +SKIP
>>> ids, acts = token_activations(tokenizer, encoder, ["a gem", "dull"],
...                               ["encoder.layer.0.intermediate"])  # doctest: +SKIP
>>> layer_1 = acts["encoder.layer.0.intermediate"]  # doctest: +SKIP
>>> positions, values = max_activating_tokens(layer_1, k=2)  # doctest: +SKIP
>>> stats = neuron_token_stats(ids[positions])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import describe, finite_array, integer, model_device, strings


def token_activations(
    tokenizer: Any, model: Any, texts: Sequence[str], layers: str | Sequence[str],
    batch_size: int = 64, max_length: int = 64, skip_special: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Record the outputs of some layers at every real token of many texts.

    The model runs without gradients, in batches, on its own device; a forward hook on
    each layer (:class:`utils.ActivationRecorder`) reads its output ``(batch, tokens,
    width)``, and only the rows of real tokens are kept: no padding and, with
    ``skip_special``, none of the tokenizer's special tokens (``[CLS]``, ``[SEP]``).

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Called as ``tokenizer(list_of_str, padding=True, truncation=True, ...)``.
    model : torch.nn.Module
        A Hugging Face encoder called as ``model(**batch)``.
    texts : sequence of str
    layers : str or sequence of str
        Names of layers with output ``(batch, tokens, width)``, e.g.
        ``"encoder.layer.0.intermediate"`` (the GELU units of a BERT feed-forward block).
    batch_size : int, default 64
    max_length : int, default 64
        Longer texts are truncated to this many tokens.
    skip_special : bool, default True
        Drop the tokenizer's special tokens (``tokenizer.all_special_ids``).

    Returns
    -------
    token_ids : numpy.ndarray
        int64 ``(n_tokens,)``: the id of every kept token, texts in the given order.
    activations : dict of str to numpy.ndarray
        float32 ``(n_tokens, width)`` per layer name; row ``t`` belongs to ``token_ids[t]``.
        Memory: ``4 * n_tokens * width`` bytes per layer.

    Raises
    ------
    TypeError
        If ``tokenizer`` is not callable, ``model`` not a module or ``texts`` not a
        non-empty sequence of strings.
    ValueError
        For unknown layer names, layers whose output is not ``(batch, tokens, width)``,
        or a bad ``batch_size`` / ``max_length``.
    """
    import torch

    from .hooks import ActivationRecorder, _layers

    device = model_device(model)
    if not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a callable Hugging Face tokenizer, got "
                        f"{describe(tokenizer)}")  # fmt: skip
    texts = strings(texts, "texts")
    if not texts:
        raise TypeError("texts: expected a non-empty sequence of str, got an empty one")
    batch_size = integer(batch_size, "batch_size", minimum=1)
    max_length = integer(max_length, "max_length", minimum=1)
    names = [name for name, _ in _layers(model, layers)]
    special = list(getattr(tokenizer, "all_special_ids", [])) if skip_special else []
    ids_out: list[torch.Tensor] = []
    acts_out: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")  # fmt: skip
            batch = batch.to(device)
            ids, mask = batch["input_ids"], batch["attention_mask"]
            keep = (mask == 1) & ~torch.isin(ids, torch.tensor(special, dtype=ids.dtype,
                                                                device=ids.device))
            with ActivationRecorder(model, names) as recorder, torch.no_grad():
                model(**batch)
            for name, out in recorder.activations.items():
                if out.ndim != 3 or out.shape[:2] != ids.shape:
                    raise ValueError(f"layer {name!r} outputs shape {tuple(out.shape)}; expected "
                                     f"(batch, tokens, width) with (batch, tokens) = "
                                     f"{tuple(ids.shape)}")  # fmt: skip
                acts_out[name].append(out[keep.cpu()].float())
            ids_out.append(ids[keep].cpu())
    finally:
        model.train(was_training)
    token_ids = torch.cat(ids_out).numpy().astype(np.int64)
    return token_ids, {name: torch.cat(chunks).numpy() for name, chunks in acts_out.items()}


def _activation_matrix(activations: Any) -> np.ndarray:
    if isinstance(activations, np.ndarray) and activations.dtype == np.float32:
        array = activations  # no float64 copy of a large matrix; checked below
        if array.size == 0 or not np.isfinite(array).all():
            finite_array(array, "activations")  # raises the shared, clear error
    else:
        array = finite_array(activations, "activations")
    if array.ndim != 2:
        raise ValueError(f"activations: expected a 2-D array (n_tokens, n_neurons), got shape "
                         f"{array.shape}")  # fmt: skip
    return array


def max_activating_tokens(activations: Any, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron, the ``k`` token occurrences with the highest activation.

    Parameters
    ----------
    activations : array-like
        ``(n_tokens, n_neurons)``, e.g. one layer of :func:`token_activations`.
    k : int, default 20
        How many occurrences per neuron, ``1 <= k <= n_tokens``.

    Returns
    -------
    positions : numpy.ndarray
        int64 ``(n_neurons, k)``: row indices into ``activations`` (and into the token ids),
        strongest first; among equal activations the earlier token comes first.
    values : numpy.ndarray
        ``(n_neurons, k)``: the activations at those positions (float32 for float32
        input, float64 otherwise).

    Raises
    ------
    TypeError
        If ``activations`` is not numbers or ``k`` not an integer.
    ValueError
        If ``activations`` is not a finite 2-D array or ``k`` is out of range.
    """
    acts = _activation_matrix(activations)
    n_tokens, n_neurons = acts.shape
    k = integer(k, "k", minimum=1, maximum=n_tokens)
    by_neuron = np.ascontiguousarray(acts.T)  # (n_neurons, n_tokens): fast row operations
    # candidates: everything at least as large as the k-th largest value of its neuron
    kth = np.partition(by_neuron, n_tokens - k, axis=1)[:, n_tokens - k]
    cols, rows = np.nonzero(by_neuron >= kth[:, None])
    order = np.lexsort((rows, -by_neuron[cols, rows], cols))  # neuron, value (desc), position
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(cols)) - np.searchsorted(cols, cols)
    chosen = rank < k
    positions = rows[chosen].reshape(n_neurons, k).astype(np.int64)
    return positions, np.take_along_axis(by_neuron, positions, axis=1)


def neuron_token_stats(top_token_ids: Any) -> dict[str, np.ndarray]:
    """Describe each neuron's top tokens as a distribution over token types.

    Parameters
    ----------
    top_token_ids : array-like of int
        ``(n_neurons, k)``: the token ids of each neuron's ``k`` max-activating
        occurrences, strongest first (e.g. ``token_ids[positions]`` with the positions of
        :func:`max_activating_tokens`).

    Returns
    -------
    dict of str to numpy.ndarray
        Arrays of length ``n_neurons``:

        * ``"top_token"``: the most frequent id (ties: the one that occurs first in the row);
        * ``"top_share"``: its count divided by ``k``;
        * ``"n_types"``: the number of distinct ids;
        * ``"entropy"``: the entropy of the id frequencies, in bits
          (0 = one type; :math:`\\log_2 k` = ``k`` different types).

    Raises
    ------
    TypeError
        If the ids are not integers.
    ValueError
        If they are not a non-empty 2-D array.
    """
    values = finite_array(top_token_ids, "top_token_ids")
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"top_token_ids: expected a 2-D array (n_neurons, k) with k >= 1, got "
                         f"shape {values.shape}")  # fmt: skip
    if not np.array_equal(values, np.round(values)):
        raise TypeError("top_token_ids: expected integer token ids, got fractional values")
    ids = values.astype(np.int64)
    n, k = ids.shape
    out = {"top_token": np.empty(n, np.int64), "top_share": np.empty(n),
           "n_types": np.empty(n, np.int64), "entropy": np.empty(n)}  # fmt: skip
    for row, neuron_ids in enumerate(ids):
        types, first, counts = np.unique(neuron_ids, return_index=True, return_counts=True)
        best = np.flatnonzero(counts == counts.max())
        pick = best[np.argmin(first[best])]
        p = counts / k
        out["top_token"][row] = types[pick]
        out["top_share"][row] = counts[pick] / k
        out["n_types"][row] = len(types)
        out["entropy"][row] = float(-(p * np.log2(p)).sum()) + 0.0
    return out
