"""Sentence embeddings and a differentiable sentiment model on a frozen text encoder.

* :func:`mean_pool`: average of the token vectors over the attention mask (the pooling
  of Sentence-BERT; Reimers & Gurevych, 2019, EMNLP). The published all-MiniLM-L6-v2
  embedding then scales this mean to unit length (its ``Normalize`` module); the course's
  features and :class:`MeanPoolClassifier` use the mean without that step.
* :func:`encode_texts`: mean-pooled embeddings of many texts, in length-sorted
  batches without gradients (fast on a CPU).
* :func:`linear_head_from_logistic`: a ``torch.nn.Linear`` with the probabilities of
  a fitted scikit-learn ``LogisticRegression``.
* :class:`MeanPoolClassifier`: ``encoder -> mean pool -> head`` as one torch module,
  so that gradient methods (Integrated Gradients) can explain it token by token.

Examples
--------
>>> tokenizer, encoder = load_text_encoder()  # doctest: +SKIP
>>> X = encode_texts(tokenizer, encoder, ["a gem of a film", "dull"])  # doctest: +SKIP
>>> X.shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, model_device


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average token vectors over the real (non-padding) tokens.

    Parameters
    ----------
    hidden : torch.Tensor
        ``(batch, tokens, dim)``, e.g. ``model(**batch).last_hidden_state``.
    attention_mask : torch.Tensor
        ``(batch, tokens)``, 1 for real tokens and 0 for padding.

    Returns
    -------
    torch.Tensor
        ``(batch, dim)``.

    Raises
    ------
    TypeError
        If ``hidden`` or ``attention_mask`` is not a tensor, or ``hidden`` not floating.
    ValueError
        For shapes that do not fit, non-finite ``hidden`` or a mask with other values
        than 0 and 1.
    """
    for name, value in (("hidden", hidden), ("attention_mask", attention_mask)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {describe(value)}")
    if not hidden.is_floating_point():
        raise TypeError(f"hidden: expected floating token vectors, got dtype {hidden.dtype}")
    if hidden.ndim != 3 or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            "expected hidden (batch, tokens, dim) and attention_mask (batch, tokens), got "
            f"{tuple(hidden.shape)} and {tuple(attention_mask.shape)}"
        )
    if not bool(torch.isfinite(hidden).all()):
        raise ValueError("hidden contains NaN or infinite values")
    if not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("attention_mask: expected 1 for real tokens and 0 for padding")
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encode_texts(
    tokenizer: Any, model: nn.Module, texts: Sequence[str], batch_size: int = 64,
    max_length: int = 128,
) -> np.ndarray:  # fmt: skip
    """Mean-pooled sentence embeddings of ``texts`` (no gradients, in batches).

    The texts are sorted by length before batching (less padding, same result) and the
    embeddings are returned in the original order. The model runs on its own device.

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Called as ``tokenizer(list_of_str, padding=True, truncation=True, ...)``.
    model : torch.nn.Module
        A Hugging Face encoder whose output has ``last_hidden_state``.
    texts : sequence of str
    batch_size : int, default 64
    max_length : int, default 128
        Longer texts are truncated to this many tokens.

    Returns
    -------
    numpy.ndarray
        float32 ``(len(texts), hidden_size)``.

    Raises
    ------
    TypeError
        If ``tokenizer`` is not callable, ``model`` not a module or ``texts`` not a
        non-empty sequence of strings.
    ValueError
        If ``batch_size`` or ``max_length`` is not a positive integer.
    """
    device = model_device(model)
    if not callable(tokenizer):
        raise TypeError(f"tokenizer: expected a callable Hugging Face tokenizer, got "
                        f"{describe(tokenizer)}")  # fmt: skip
    if not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be a non-empty sequence of str, got {describe(texts)}")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, got a single str: wrap it in a list")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        bad = next((type(t).__name__ for t in texts if not isinstance(t, str)), "nothing")
        raise TypeError(f"texts must be a non-empty sequence of str, got an item of type {bad}")
    for name, value in (("batch_size", batch_size), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    order = np.argsort([len(t) for t in texts], kind="stable")
    chunks = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(device)  # fmt: skip
            hidden = model(**batch).last_hidden_state
            chunks.append(mean_pool(hidden, batch["attention_mask"]).float().cpu())
    out = torch.empty(len(texts), chunks[0].shape[1])
    out[torch.as_tensor(order)] = torch.cat(chunks)
    return out.numpy()


def linear_head_from_logistic(classifier: Any) -> nn.Linear:
    """Copy a fitted binary scikit-learn ``LogisticRegression`` into ``nn.Linear(d, 2)``.

    With the weights ``w, b`` of the classifier the two logits are ``-(w.x + b)/2`` and
    ``+(w.x + b)/2``, so their softmax equals ``classifier.predict_proba(x)`` and the
    logit difference is the classifier's log-odds.

    Parameters
    ----------
    classifier : sklearn.linear_model.LogisticRegression
        Fitted on two classes.

    Returns
    -------
    torch.nn.Linear
        float32, on the CPU.
    """
    coef = getattr(classifier, "coef_", None)
    intercept = getattr(classifier, "intercept_", None)
    if coef is None or intercept is None:
        raise TypeError(
            "expected a fitted LogisticRegression (with coef_ and intercept_), got "
            f"{type(classifier).__name__}"
        )
    coef, intercept = np.asarray(coef, dtype=np.float32), np.asarray(intercept, np.float32)
    if coef.shape[0] != 1:
        raise ValueError(f"expected a binary classifier (coef_ of shape (1, d)), got {coef.shape}")
    head = nn.Linear(coef.shape[1], 2)
    with torch.no_grad():
        w, b = torch.from_numpy(coef[0]), torch.from_numpy(intercept)
        head.weight.copy_(torch.stack([-w / 2, w / 2]))
        head.bias.copy_(torch.cat([-b / 2, b / 2]))
    return head


class MeanPoolClassifier(nn.Module):
    """``encoder -> mean pool over real tokens -> head``, as one differentiable module.

    Parameters
    ----------
    encoder : torch.nn.Module
        A Hugging Face encoder (e.g. from :func:`utils.load_text_encoder`).
    head : torch.nn.Module
        Maps the pooled embedding ``(batch, hidden_size)`` to logits.

    Examples
    --------
    >>> model = MeanPoolClassifier(encoder, head).eval()  # doctest: +SKIP
    >>> batch = tokenizer(["a gem"], return_tensors="pt")  # doctest: +SKIP
    >>> model(batch["input_ids"], batch["attention_mask"]).softmax(-1)  # doctest: +SKIP
    """

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        for name, module in (("encoder", encoder), ("head", head)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
        self.encoder = encoder
        self.head = head

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return logits ``(batch, n_classes)`` for token ids ``(batch, tokens)``."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))
