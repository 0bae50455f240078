"""Tests of utils.pretrained: offline EfficientNet-Lite0 and MiniLM (slow: loads the models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.datasets import load_photo
from utils.pretrained import (
    deprocess_imagenet,
    imagenet_categories,
    load_imagenet_cnn,
    load_text_encoder,
    preprocess_imagenet,
)

pytestmark = pytest.mark.xdist_group("pretrained")


@pytest.fixture(scope="module")
def cnn():
    return load_imagenet_cnn()


@pytest.fixture(scope="module")
def text_encoder():
    return load_text_encoder()


def test_categories():
    categories = imagenet_categories()
    assert len(categories) == 1000 and categories[281] == "tabby"


def test_efficientnet_predicts_a_cat(cnn):
    x = preprocess_imagenet(load_photo("chelsea"))
    assert x.shape == (1, 3, 224, 224) and -1.01 <= float(x.min()) and float(x.max()) <= 1.0
    with torch.no_grad():
        top = cnn(x)[0].argmax().item()
    assert imagenet_categories()[top] in {"tabby", "tiger cat", "Egyptian cat"}


def test_efficientnet_is_hook_friendly(cnn):
    inplace = [name for name, m in cnn.named_modules() if getattr(m, "inplace", False)]
    assert not inplace, f"in-place modules: {inplace}"
    assert not cnn.training
    calls: dict[int, int] = {}

    def count(module, inputs, output):
        calls[id(module)] = calls.get(id(module), 0) + 1

    hooks = [m.register_forward_hook(count) for m in cnn.modules()
             if isinstance(m, torch.nn.ReLU6)]  # fmt: skip
    with torch.no_grad():
        cnn(torch.zeros(1, 3, 224, 224))
    for hook in hooks:
        hook.remove()
    assert len(calls) == len(hooks) and set(calls.values()) == {1}, "an activation is reused"
    assert isinstance(cnn.target_layer, torch.nn.ReLU6)


def test_preprocess_batches_and_round_trip():
    photo = load_photo("coffee")
    batch = preprocess_imagenet(np.stack([photo, photo]))
    assert batch.shape == (2, 3, 224, 224)
    torch.testing.assert_close(batch[:1], preprocess_imagenet(photo))
    torch.testing.assert_close(preprocess_imagenet(photo / 255.0), preprocess_imagenet(photo))
    shown = deprocess_imagenet(batch[0])
    assert shown.shape == (224, 224, 3) and 0.0 <= shown.min() and shown.max() <= 1.0
    with pytest.raises(ValueError, match=r"expected an RGB image \(H, W, 3\)"):
        preprocess_imagenet(photo[..., 0])
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        preprocess_imagenet(photo.astype(np.float32))


def test_text_encoder_attentions_and_similarity(text_encoder):
    tokenizer, model = text_encoder
    sentences = ["The cat sits on the mat.", "A cat is sitting on a rug.",
                 "Stock markets fell sharply after the announcement."]  # fmt: skip
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
    tokens = batch["input_ids"].shape[1]
    assert len(out.attentions) == 6
    for attention in out.attentions:
        assert attention.shape == (3, 12, tokens, tokens)
        torch.testing.assert_close(attention.sum(-1), torch.ones(3, 12, tokens))
    mask = batch["attention_mask"].unsqueeze(-1).float()
    embeddings = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
    embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
    similar = float(embeddings[0] @ embeddings[1])
    unrelated = float(embeddings[0] @ embeddings[2])
    assert similar > unrelated + 0.3
