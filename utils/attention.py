"""Self-attention from scratch, and attention rollout.

==========================================  =====================================================
function                                    what it does
==========================================  =====================================================
:func:`scaled_dot_product_attention`        ``softmax(Q K^T / sqrt(d_k)) V`` with an optional mask
:func:`split_heads` / :func:`merge_heads`   ``(b, tokens, d)`` <-> ``(b, heads, tokens, d/h)``
:func:`multi_head_attention`                multi-head self-attention with the weights of a
                                            :class:`torch.nn.MultiheadAttention`
:func:`sinusoidal_positional_encoding`      the fixed positional encoding of the Transformer
:func:`attention_rollout`                   attention flow through all layers (Abnar & Zuidema)
==========================================  =====================================================

References: Vaswani et al., 2017, *Attention Is All You Need*, NeurIPS; Abnar & Zuidema, 2020,
*Quantifying Attention Flow in Transformers*, ACL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._common import one_of

HEAD_FUSIONS = ("mean", "max", "min")


def _tensor(x: object, name: str) -> torch.Tensor:
    """Convert a NumPy array / tensor to a non-empty, finite floating tensor, or raise."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or NumPy array, got {type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    x = x if x.is_floating_point() else x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Scaled dot-product attention, written out (Vaswani et al., 2017).

    .. math:: \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(
              \frac{Q K^\top}{\sqrt{d_k}}\right) V

    Parameters
    ----------
    q : torch.Tensor
        Queries ``(..., n_queries, d_k)``.
    k : torch.Tensor
        Keys ``(..., n_keys, d_k)``.
    v : torch.Tensor
        Values ``(..., n_keys, d_v)``.
    mask : torch.Tensor, optional
        Boolean, broadcastable to ``(..., n_queries, n_keys)``; **True = may attend**
        (the convention of :func:`torch.nn.functional.scaled_dot_product_attention`).
        Masked scores are set to ``-inf`` before the softmax. Every query must keep at
        least one key.

    Returns
    -------
    out : torch.Tensor
        ``(..., n_queries, d_v)``, the weighted sums of the values.
    weights : torch.Tensor
        ``(..., n_queries, n_keys)``, the attention weights; each row sums to 1.

    Raises
    ------
    TypeError
        If an input is not a tensor or array, or the mask is not boolean.
    ValueError
        For empty inputs, NaN or infinite values, shapes that do not fit, or a mask that
        hides every key from a query.

    Examples
    --------
    >>> q = k = v = torch.eye(2)[None]
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> w.sum(-1)
    tensor([[1., 1.]])
    """
    q, k, v = _tensor(q, "q"), _tensor(k, "k"), _tensor(v, "v")
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(
            "q, k, v must be at least 2-D (tokens, features); got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k need the same feature size d_k; got {q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v need the same number of tokens; got {k.shape[-2]} and {v.shape[-2]}"
        )
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device)
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be boolean (True = may attend), got dtype {mask.dtype}")
        try:
            allowed = torch.broadcast_to(mask, scores.shape)
        except RuntimeError as err:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the scores "
                f"{tuple(scores.shape)} (..., n_queries, n_keys)"
            ) from err
        if not bool(allowed.any(-1).all()):
            raise ValueError("mask hides every key from at least one query (a row is all False)")
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Split the features into heads: ``(batch, tokens, d)`` -> ``(batch, heads, tokens, d/h)``.

    Head ``h`` gets the features ``h * d/h ... (h+1) * d/h - 1``, as in
    :class:`torch.nn.MultiheadAttention`.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or array.
    ValueError
        For an empty or non-finite ``x``, another shape, or a ``num_heads`` that is not
        a positive integer dividing ``d``.
    """
    x = _tensor(x, "x")
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
    if x.ndim != 3 or x.shape[-1] % num_heads:
        raise ValueError(
            f"expected x of shape (batch, tokens, d) with d divisible by num_heads={num_heads}, "
            f"got {tuple(x.shape)}"
        )
    b, t, d = x.shape
    return x.reshape(b, t, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Undo :func:`split_heads`: ``(batch, heads, tokens, d_h)`` -> ``(batch, tokens, h*d_h)``.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or array.
    ValueError
        For an empty or non-finite ``x`` or another shape.
    """
    x = _tensor(x, "x")
    if x.ndim != 4:
        raise ValueError(
            f"expected x of shape (batch, heads, tokens, d_head), got {tuple(x.shape)}"
        )
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def multi_head_attention(
    x: torch.Tensor, mha: nn.MultiheadAttention, key_padding_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Multi-head self-attention from scratch, with the weights of ``mha``.

    .. math:: \mathrm{head}_h = \mathrm{Attention}(X W^Q_h, X W^K_h, X W^V_h),\qquad
              \mathrm{MHA}(X) = [\mathrm{head}_1, \dots, \mathrm{head}_H]\, W^O

    The projections are read from ``mha.in_proj_weight`` / ``in_proj_bias`` (rows
    ``[W^Q; W^K; W^V]``) and ``mha.out_proj``. Dropout is not applied (as in eval mode).

    Parameters
    ----------
    x : torch.Tensor
        Tokens ``(batch, tokens, embed_dim)`` (batch first, whatever ``mha.batch_first`` is).
    mha : torch.nn.MultiheadAttention
        A module with equal query/key/value sizes and no ``bias_k`` / ``add_zero_attn``.
    key_padding_mask : torch.Tensor, optional
        Boolean ``(batch, tokens)``, **True = padding, ignored** (the convention of
        :class:`torch.nn.MultiheadAttention`).

    Returns
    -------
    out : torch.Tensor
        ``(batch, tokens, embed_dim)``; equals ``mha(x, x, x)[0]`` (batch first).
    weights : torch.Tensor
        Per-head attention weights ``(batch, heads, tokens, tokens)``; their mean over
        heads equals ``mha(x, x, x, average_attn_weights=True)[1]``.

    Raises
    ------
    TypeError
        If ``mha`` is not a :class:`torch.nn.MultiheadAttention` or ``x`` not a tensor.
    ValueError
        For an unsupported ``mha``, an empty ``x``, NaN or infinite values, or shapes
        that do not fit.
    """
    if not isinstance(mha, nn.MultiheadAttention):
        raise TypeError(f"mha must be a torch.nn.MultiheadAttention, got {type(mha).__name__}")
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError(
            "only MultiheadAttention with kdim = vdim = embed_dim, no bias_k/bias_v and "
            "add_zero_attn=False is supported"
        )
    x = _tensor(x, "x").to(mha.in_proj_weight.dtype)
    if x.ndim != 3 or x.shape[-1] != mha.embed_dim:
        raise ValueError(
            f"expected x of shape (batch, tokens, {mha.embed_dim}), got {tuple(x.shape)}"
        )
    mask = None
    if key_padding_mask is not None:
        key_padding_mask = torch.as_tensor(key_padding_mask, device=x.device)
        if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != x.shape[:2]:
            raise ValueError(
                f"key_padding_mask must be boolean of shape {tuple(x.shape[:2])} "
                f"(True = padding), got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}"
            )
        mask = ~key_padding_mask[:, None, None, :]  # (batch, 1, 1, keys), True = may attend
    q, k, v = nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
    heads = [split_heads(t, mha.num_heads) for t in (q, k, v)]
    out, weights = scaled_dot_product_attention(*heads, mask=mask)
    return mha.out_proj(merge_heads(out)), weights


def sinusoidal_positional_encoding(n_positions: int, d_model: int) -> torch.Tensor:
    r"""The fixed positional encoding of Vaswani et al. (2017).

    .. math:: PE_{p, 2i} = \sin\!\left(p / 10000^{2i/d}\right),\qquad
              PE_{p, 2i+1} = \cos\!\left(p / 10000^{2i/d}\right)

    Parameters
    ----------
    n_positions : int
        Number of positions ``p = 0 ... n_positions - 1``.
    d_model : int
        Embedding size (even).

    Returns
    -------
    torch.Tensor
        float32 ``(n_positions, d_model)``, values in [-1, 1].
    """
    for name, value in (("n_positions", n_positions), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin/cos pairs), got {d_model}")
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq)
    return pe.float()


def _stack_layers(attentions: object) -> tuple[torch.Tensor, bool]:
    """Return a float64 tensor (layers, batch, heads, T, T) and whether the input was numpy."""
    if isinstance(attentions, (list, tuple)):
        if not attentions:
            raise ValueError("attentions is empty: expected one attention tensor per layer")
        is_numpy = isinstance(attentions[0], np.ndarray)
        layers = [_tensor(a, f"attentions[{i}]") for i, a in enumerate(attentions)]
        shapes = {tuple(a.shape) for a in layers}
        if len(shapes) != 1:
            raise ValueError(f"all layers must have the same shape, got {sorted(shapes)}")
        stacked = torch.stack([a.detach().to(layers[0].device) for a in layers])
        ndim_layer = stacked.ndim - 1
        if ndim_layer not in (3, 4):
            raise ValueError(
                "each layer's attention must be (batch, heads, tokens, tokens) or "
                f"(heads, tokens, tokens), got shape {tuple(layers[0].shape)}"
            )
    else:
        is_numpy = isinstance(attentions, np.ndarray)
        stacked = _tensor(attentions, "attentions").detach()
        if stacked.ndim not in (4, 5):
            raise ValueError(
                "a stacked attention array must be (layers, batch, heads, tokens, tokens) or "
                f"(layers, heads, tokens, tokens), got shape {tuple(stacked.shape)}"
            )
    if stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            f"attention matrices must be square (tokens, tokens), got {tuple(stacked.shape[-2:])}"
        )
    return stacked.double(), is_numpy


def attention_rollout(
    attentions: Sequence[torch.Tensor] | torch.Tensor | np.ndarray,
    add_residual: bool = True,
    head_fusion: str = "mean",
) -> torch.Tensor | np.ndarray:
    r"""Attention rollout (Abnar & Zuidema, 2020, *Quantifying Attention Flow*, ACL).

    For each layer the heads are fused (``mean`` over heads by default), the residual
    connection is modelled as ``0.5 * A + 0.5 * I`` and rows are re-normalised to sum
    to 1; the layers are then multiplied from the last to the first:

    .. math:: \tilde A_l = \mathrm{rownorm}\!\left(\tfrac12 A_l + \tfrac12 I\right),\qquad
              R = \tilde A_L \tilde A_{L-1} \cdots \tilde A_1

    Row ``i`` of ``R`` says how much the output token ``i`` of the last layer draws
    from each *input* token; ``R[..., 0, :]`` is the rollout of the [CLS] token.

    Parameters
    ----------
    attentions : sequence of tensors/arrays, or one stacked tensor/array
        Either one entry per layer, each ``(batch, heads, tokens, tokens)`` (the format
        of Hugging Face ``output_attentions=True``, and of ``ViT`` models) or
        ``(heads, tokens, tokens)``; or a stacked ``(layers, batch, heads, tokens,
        tokens)`` / ``(layers, heads, tokens, tokens)``. Torch tensors or NumPy arrays;
        layers are ordered from the input to the output.
    add_residual : bool, default True
        Model the skip connection as ``0.5 A + 0.5 I`` (as in the paper). With False,
        the fused attention matrices are multiplied as they are.
    head_fusion : {"mean", "max", "min"}, default "mean"
        How the heads of a layer are combined. "max"/"min" are used by some ViT
        implementations; rows are re-normalised after fusion.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        ``(batch, tokens, tokens)`` (or ``(tokens, tokens)`` for unbatched input),
        rows sum to 1; a NumPy array if the input was NumPy, otherwise a float32 tensor
        on the input's device.

    Raises
    ------
    TypeError
        If the attention weights are not tensors or arrays.
    ValueError
        For no layers, empty, non-finite or non-square attention, layers of different
        shapes, an unknown ``head_fusion`` or rows that sum to zero.

    Examples
    --------
    >>> eye = torch.eye(3).expand(2, 4, 3, 3)  # 2 layers, 4 heads, 3 tokens
    >>> attention_rollout(eye)
    tensor([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.]])
    """
    one_of(head_fusion, "head_fusion", HEAD_FUSIONS)
    stacked, is_numpy = _stack_layers(attentions)
    device = stacked.device
    batched = stacked.ndim == 5
    if not batched:
        stacked = stacked[:, None]  # (layers, 1, heads, T, T)
    if head_fusion == "mean":
        fused = stacked.mean(dim=2)
    elif head_fusion == "max":
        fused = stacked.amax(dim=2)
    else:
        fused = stacked.amin(dim=2)
    n_tokens = fused.shape[-1]
    eye = torch.eye(n_tokens, dtype=fused.dtype, device=device)
    if add_residual:
        fused = 0.5 * fused + 0.5 * eye
    row_sums = fused.sum(-1, keepdim=True)
    if bool((row_sums <= 0).any()):
        raise ValueError("an attention row sums to zero or less: are these attention weights?")
    fused = fused / row_sums
    rollout = eye.expand(fused.shape[1], n_tokens, n_tokens)
    for layer in fused:  # input -> output: R_l = A_l @ R_{l-1}
        rollout = layer @ rollout
    if not batched:
        rollout = rollout[0]
    if is_numpy:
        return rollout.cpu().numpy()
    return rollout.float()
