"""Tests of utils.attention: from-scratch attention against torch, and attention rollout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from utils.attention import (
    attention_rollout,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    sinusoidal_positional_encoding,
    split_heads,
)

ATOL = 1e-5


def _mha(embed_dim: int = 16, heads: int = 4, batch_first: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(embed_dim, heads, batch_first=batch_first).eval()
    with torch.no_grad():  # non-zero biases, so that they are tested too
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    return mha


# --- scaled dot-product attention -------------------------------------------------------------


def test_sdpa_matches_torch_without_and_with_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    out, w = scaled_dot_product_attention(q, k, v)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(out, ref, atol=ATOL)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 5), atol=ATOL)
    mask = torch.rand(2, 1, 5, 7) > 0.4
    mask[..., 0] = True  # every query keeps a key
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(out, ref, atol=ATOL)
    assert torch.all(w[~mask.expand_as(w)] == 0)


def test_sdpa_by_hand_tiny_example():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[1.0], [3.0]])
    out, w = scaled_dot_product_attention(q, k, v)
    p = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    assert torch.allclose(w, torch.tensor([[p, 1 - p]]), atol=1e-6)
    assert torch.allclose(out, torch.tensor([[p + 3 * (1 - p)]]), atol=1e-6)


def test_sdpa_bad_input():
    x = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="same feature size"):
        scaled_dot_product_attention(x, torch.zeros(3, 5), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="same number of tokens"):
        scaled_dot_product_attention(x, x, torch.zeros(2, 4))
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(x, x, x, mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="all False"):
        scaled_dot_product_attention(x, x, x, mask=torch.zeros(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(x, x, x, mask=torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.Tensor or NumPy"):
        scaled_dot_product_attention([[1.0]], x, x)


# --- heads and multi-head attention -------------------------------------------------------------


def test_split_merge_roundtrip_and_layout():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    h = split_heads(x, 4)
    assert h.shape == (2, 4, 3, 2)
    assert torch.equal(h[0, 1, 0], x[0, 0, 2:4])  # head 1 = features 2..3
    assert torch.equal(merge_heads(h), x)
    with pytest.raises(ValueError, match="divisible"):
        split_heads(x, 3)
    with pytest.raises(ValueError, match="positive integer"):
        split_heads(x, 0)
    with pytest.raises(ValueError, match="d_head"):
        merge_heads(x)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("padded", [False, True])
def test_multi_head_attention_matches_torch(batch_first, padded):
    mha = _mha(batch_first=batch_first)
    torch.manual_seed(1)
    x = torch.randn(3, 6, 16)  # batch first
    kpm = None
    if padded:
        kpm = torch.zeros(3, 6, dtype=torch.bool)
        kpm[1, 4:] = True
        kpm[2, 2:] = True
    out, w = multi_head_attention(x, mha, key_padding_mask=kpm)
    xt = x if batch_first else x.transpose(0, 1)
    with torch.no_grad():
        ref_out, ref_w = mha(xt, xt, xt, key_padding_mask=kpm, average_attn_weights=False)
        _, ref_mean = mha(xt, xt, xt, key_padding_mask=kpm, average_attn_weights=True)
    if not batch_first:
        ref_out = ref_out.transpose(0, 1)
    assert w.shape == (3, 4, 6, 6)
    assert torch.allclose(out, ref_out, atol=ATOL)
    assert torch.allclose(w, ref_w, atol=ATOL)
    assert torch.allclose(w.mean(1), ref_mean, atol=ATOL)
    if padded:
        assert torch.all(w[2, :, :, 2:] == 0)


def test_multi_head_attention_bad_input():
    mha = _mha()
    with pytest.raises(TypeError, match="MultiheadAttention"):
        multi_head_attention(torch.zeros(1, 2, 16), torch.nn.Linear(16, 16))
    with pytest.raises(ValueError, match=r"\(batch, tokens, 16\)"):
        multi_head_attention(torch.zeros(1, 2, 8), mha)
    with pytest.raises(ValueError, match="key_padding_mask"):
        multi_head_attention(torch.zeros(1, 2, 16), mha, key_padding_mask=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="kdim"):
        multi_head_attention(torch.zeros(1, 2, 16), torch.nn.MultiheadAttention(16, 4, kdim=8))


# --- positional encoding -------------------------------------------------------------------------


def test_sinusoidal_positional_encoding_formula():
    pe = sinusoidal_positional_encoding(50, 8)
    assert pe.shape == (50, 8) and pe.dtype == torch.float32
    p, i = 7, 2
    assert math.isclose(pe[p, 2 * i], math.sin(p / 10000 ** (2 * i / 8)), abs_tol=1e-6)
    assert math.isclose(pe[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 8)), abs_tol=1e-6)
    assert torch.equal(pe[0, 0::2], torch.zeros(4)) and torch.equal(pe[0, 1::2], torch.ones(4))
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positional_encoding(5, 3)
    with pytest.raises(ValueError, match="positive integer"):
        sinusoidal_positional_encoding(0, 4)


# --- attention rollout -------------------------------------------------------------------------


def test_rollout_identity_attention_gives_identity():
    eye = torch.eye(5).expand(3, 2, 4, 5, 5)  # layers, batch, heads, T, T
    for residual in (True, False):
        r = attention_rollout(list(eye), add_residual=residual)
        assert r.shape == (2, 5, 5)
        assert torch.allclose(r, torch.eye(5).expand(2, 5, 5))


def test_rollout_hand_computed_two_layers():
    a1 = np.array([[0.5, 0.5], [0.0, 1.0]])
    a2 = np.array([[1.0, 0.0], [0.5, 0.5]])
    # residual: 0.5 A + 0.5 I (rows already sum to 1)
    r1 = np.array([[0.75, 0.25], [0.0, 1.0]])
    r2 = np.array([[1.0, 0.0], [0.25, 0.75]])
    expected = r2 @ r1  # [[0.75, 0.25], [0.1875, 0.8125]]
    heads = np.stack([a1, a2])[:, None]  # (layers, heads=1, T, T), unbatched
    got = attention_rollout(heads)
    assert isinstance(got, np.ndarray) and got.shape == (2, 2)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(attention_rollout(heads, add_residual=False), a2 @ a1)


def test_rollout_head_fusion_rows_sum_to_one_and_formats_agree():
    torch.manual_seed(0)
    layers = [torch.softmax(torch.randn(2, 3, 6, 6), -1) for _ in range(4)]
    for fusion in ("mean", "max", "min"):
        r = attention_rollout(layers, head_fusion=fusion)
        assert r.shape == (2, 6, 6) and r.dtype == torch.float32
        assert torch.allclose(r.sum(-1), torch.ones(2, 6), atol=1e-5)
        assert torch.all(r >= 0)
    stacked = attention_rollout(torch.stack(layers))
    assert torch.allclose(stacked, attention_rollout(layers))
    unbatched = attention_rollout([a[1] for a in layers])
    assert torch.allclose(unbatched, stacked[1])
    as_numpy = attention_rollout([a.numpy() for a in layers])
    np.testing.assert_allclose(as_numpy, stacked.numpy(), atol=1e-6)
    # mean fusion: one layer with residual = 0.5 * mean over heads + 0.5 * I
    one = attention_rollout(layers[:1])
    assert torch.allclose(one, 0.5 * layers[0].mean(1) + 0.5 * torch.eye(6), atol=1e-6)


def test_rollout_bad_input():
    with pytest.raises(ValueError, match="empty"):
        attention_rollout([])
    with pytest.raises(ValueError, match="same shape"):
        attention_rollout([torch.ones(1, 2, 3, 3), torch.ones(1, 2, 4, 4)])
    with pytest.raises(ValueError, match="square"):
        attention_rollout(torch.ones(2, 1, 3, 4))
    with pytest.raises(ValueError, match=r"\(layers, batch, heads"):
        attention_rollout(torch.ones(3, 3, 3))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(torch.ones(2, 1, 3, 3), head_fusion="median")
    with pytest.raises(TypeError, match="torch.Tensor or NumPy"):
        attention_rollout([[1.0]])
