"""Tests of utils.models: shapes, the ViT's [CLS] token and attention, the exact CAM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.models import MnistCNN, SignalCNN, TinyViT


def _count_calls(model: nn.Module) -> tuple[list, dict[int, int]]:
    """Register hooks that count how often each leaf module runs in one forward pass."""
    calls: dict[int, int] = {}

    def hook(module, inputs, output):
        calls[id(module)] = calls.get(id(module), 0) + 1

    leaves = [m for m in model.modules() if not list(m.children())]
    return [m.register_forward_hook(hook) for m in leaves], calls


@pytest.mark.parametrize(
    ("model", "x", "n_out"),
    [
        (MnistCNN(), torch.randn(3, 1, 28, 28), 10),
        (SignalCNN(n_classes=2), torch.randn(3, 1, 150), 2),
        (SignalCNN(n_classes=4, in_channels=3), torch.randn(3, 3, 64), 4),
        (TinyViT(), torch.randn(3, 1, 28, 28), 10),
    ],
)
def test_output_shapes_and_hook_friendliness(model, x, n_out):
    hooks, calls = _count_calls(model)
    assert model(x).shape == (3, n_out)
    for hook in hooks:
        hook.remove()
    assert max(calls.values()) == 1, "a module is used twice in forward"
    inplace = [name for name, m in model.named_modules() if getattr(m, "inplace", False)]
    assert not inplace, f"in-place modules: {inplace}"


def test_mnist_cnn_target_layer_is_last_conv():
    model = MnistCNN()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert model.target_layer is convs[-1] is model.features[3]


def test_signal_cnn_accepts_2d_input():
    model = SignalCNN(2).eval()
    x = torch.randn(2, 100)
    assert torch.equal(model(x), model(x[:, None]))


@pytest.mark.parametrize("train_mode", [True, False])
def test_signal_cnn_cam_is_exact(train_mode):
    torch.manual_seed(0)
    model = SignalCNN(n_classes=3).train(train_mode)
    x = torch.randn(5, 1, 80)
    with torch.no_grad():
        maps = model.features(x)  # in train mode BN uses batch statistics: same in both calls
        logits = model(x)
        assert maps.shape == (5, 64, 80)
        torch.testing.assert_close(logits, model.fc(maps.mean(-1)))
        cam = torch.einsum("ck,nkt->nct", model.fc.weight, maps)  # (n, classes, T)
        torch.testing.assert_close(cam.mean(-1) + model.fc.bias, logits, atol=1e-5, rtol=1e-5)


def test_vit_cls_token_and_attention():
    torch.manual_seed(0)
    model = TinyViT().eval()
    x = torch.randn(2, 1, 28, 28)
    logits = model(x)
    assert model.n_tokens == 17 and model.grid_size == 4
    maps = model.attention_maps()
    assert maps.shape == (4, 2, 4, 17, 17)
    torch.testing.assert_close(maps.sum(-1), torch.ones(4, 2, 4, 17))
    assert model.blocks[0].attn.last_attention.shape == (2, 4, 17, 17)
    # the head reads token 0 ([CLS])
    tokens = model.tokens(x)
    torch.testing.assert_close(model.head(model.norm(tokens)[:, 0]), logits)
    assert model.reshape_transform(tokens).shape == (2, 64, 4, 4)


def test_vit_attention_matches_reference():
    torch.manual_seed(0)
    model = TinyViT().eval()
    attn = model.blocks[0].attn
    z = torch.randn(2, 17, 64)
    out = attn(z)
    q, k, v = attn.qkv(z).chunk(3, dim=-1)
    ref = nn.functional.scaled_dot_product_attention(
        *(t.reshape(2, 17, 4, 16).transpose(1, 2) for t in (q, k, v))
    )
    torch.testing.assert_close(out, attn.proj(ref.transpose(1, 2).reshape(2, 17, 64)))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"expects input of shape \(n, 1, 28, 28\)"):
        MnistCNN()(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="28x28"):
        MnistCNN()(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(n, C, T\) with C=2"):
        SignalCNN(2, in_channels=2)(torch.zeros(2, 1, 50))
    with pytest.raises(ValueError, match="patch_size must divide image_size"):
        TinyViT(patch_size=5)
    with pytest.raises(ValueError, match="heads must divide dim"):
        TinyViT(dim=30, heads=4)
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        MnistCNN(n_classes=0)
    with pytest.raises(RuntimeError, match="run the model"):
        TinyViT().attention_maps()
