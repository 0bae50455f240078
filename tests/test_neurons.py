"""Tests of utils.neurons against brute-force loops, scipy and a tiny hand-made encoder."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from torch import nn

from utils.neurons import max_activating_tokens, neuron_token_stats, token_activations


class _Batch(dict):
    def to(self, device):
        return _Batch({k: v.to(device) for k, v in self.items()})


class _Tokenizer:
    """Characters -> ids 3..; [CLS] = 1 and [SEP] = 2 frame each text; 0 pads."""

    all_special_ids = [0, 1, 2]

    def __call__(self, texts, max_length=64, **_):
        rows = [[1] + [3 + ord(c) % 20 for c in t][: max_length - 2] + [2] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        return _Batch(input_ids=ids, attention_mask=(ids > 0).long())


class _Encoder(nn.Module):
    """Embedding -> Linear -> GELU, so that a unit's activation is a function of its token."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(23, 4)
        self.ffn = nn.Sequential(nn.Linear(4, 6), nn.GELU())

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(last_hidden_state=self.ffn(self.embed(input_ids)))


def _brute_force_top(acts, k):
    """For each neuron, a Python loop over the tokens sorted by (-activation, position)."""
    positions = []
    for j in range(acts.shape[1]):
        ranked = sorted(range(acts.shape[0]), key=lambda t: (-acts[t, j], t))
        positions.append(ranked[:k])
    return np.array(positions)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_max_activating_tokens_matches_a_brute_force_loop(k):
    acts = np.random.default_rng(k).normal(size=(40, 9))
    acts[5:9, 2] = acts[:, 2].max()  # ties at the top: the earlier token first
    acts[:, 4] = 0.5  # a constant neuron: the first k tokens
    positions, values = max_activating_tokens(acts, k=k)
    expected = _brute_force_top(acts, k)
    np.testing.assert_array_equal(positions, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(acts.T, expected, axis=1))
    np.testing.assert_array_equal(positions[4], np.arange(k))
    positions_32, values_32 = max_activating_tokens(acts.astype(np.float32), k=k)  # no copy
    np.testing.assert_array_equal(positions_32, _brute_force_top(acts.astype(np.float32), k))
    assert values_32.dtype == np.float32


def test_recorder_top_tokens_match_a_brute_force_loop_over_the_model():
    tokenizer, model = _Tokenizer(), _Encoder()
    texts = ["abc", "a gem", "dull film", "zz"]
    ids, acts = token_activations(tokenizer, model, texts, ["ffn.1", "embed"], batch_size=3)
    # brute force: every text alone, every non-special token, every unit
    rows, ref_ids = [], []
    for text in texts:
        batch = tokenizer([text])
        with torch.no_grad():
            hidden = model.ffn(model.embed(batch["input_ids"]))[0]
        for t, token in enumerate(batch["input_ids"][0].tolist()):
            if token not in tokenizer.all_special_ids:
                rows.append(hidden[t].numpy())
                ref_ids.append(token)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(acts["ffn.1"], np.array(rows), atol=1e-6)
    assert acts["embed"].shape == (len(ids), 4)
    positions, _ = max_activating_tokens(acts["ffn.1"], k=3)
    for j in range(6):
        best = sorted(range(len(rows)), key=lambda t: (-rows[t][j], t))[:3]
        assert [ref_ids[t] for t in best] == ids[positions[j]].tolist()


def test_special_tokens_can_be_kept():
    ids, acts = token_activations(_Tokenizer(), _Encoder(), ["ab", "c"], "ffn.1",
                                  skip_special=False)
    assert ids.tolist() == [1, 3 + ord("a") % 20, 3 + ord("b") % 20, 2, 1, 3 + ord("c") % 20, 2]
    assert acts["ffn.1"].shape == (7, 6)


def test_neuron_token_stats_match_counter_and_scipy():
    rng = np.random.default_rng(0)
    top_ids = rng.integers(0, 5, size=(30, 8))
    top_ids[0] = 7
    top_ids[1] = [4, 2, 2, 4, 1, 0, 3, 5]  # tie between 4 and 2: 4 occurs first
    stats = neuron_token_stats(top_ids)
    for row, neuron in enumerate(top_ids):
        counts = Counter(neuron.tolist())
        best = max(counts.values())
        first = next(t for t in neuron.tolist() if counts[t] == best)
        assert stats["top_token"][row] == first
        assert stats["top_share"][row] == pytest.approx(best / 8)
        assert stats["n_types"][row] == len(counts)
        assert stats["entropy"][row] == pytest.approx(entropy(list(counts.values()), base=2))
    assert stats["entropy"][0] == 0 and stats["top_share"][0] == 1
    assert stats["top_token"][1] == 4


@pytest.mark.parametrize(("call", "message"), [
    (lambda: max_activating_tokens(np.zeros(5)), "2-D"),
    (lambda: max_activating_tokens(np.zeros((4, 2)), k=5), "k"),
    (lambda: max_activating_tokens(np.full((4, 2), np.nan)), "NaN"),
    (lambda: max_activating_tokens(np.full((4, 2), np.inf, np.float32)), "infinite"),
    (lambda: neuron_token_stats(np.array([[0.5, 1.0]])), "integer"),
    (lambda: neuron_token_stats(np.zeros(3)), "2-D"),
    (lambda: token_activations(_Tokenizer(), _Encoder(), "abc", "ffn.1"), "texts"),
    (lambda: token_activations(_Tokenizer(), _Encoder(), ["a"], "nope"), "no layer"),
    (lambda: token_activations(_Tokenizer(), _Encoder(), ["a"], "ffn.0", batch_size=0),
     "batch_size"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()
