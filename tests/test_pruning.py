"""Tests of utils.pruning: hook masking = weight zeroing, Taylor = brute force to first order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from utils.hooks import record_activations, top_activating
from utils.pruning import (
    ChannelMask,
    ablation_importance,
    activation_importance,
    feature_map_correlation,
    pruning_curve,
    taylor_importance,
    top_input_overlap,
    zero_channels,
)
from utils.training import evaluate


def tiny_net(scale: float = 1.0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """Conv -> BN -> ReLU -> Conv -> ReLU -> pool -> Linear: a tiny conv net with seeded weights."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 5, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(20, 7), nn.ReLU(), nn.Linear(7, 3),
    )  # fmt: skip
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
        net[3].weight.mul_(scale)
        net[3].bias.mul_(scale)
    return net.to(dtype).eval()


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, np.ndarray]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(24, 2, 8, 8, generator=g), torch.randint(0, 3, (24,), generator=g).numpy()


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize(("layer", "channels"), [("0", [1, 4]), ("1", [0, 5]), ("3", [2]),
                                                  ("7", [0, 3, 6]), ("3", [])])  # fmt: skip
def test_hook_masking_equals_zeroed_weights(batch, layer, channels):
    net, (x, _) = tiny_net(), batch
    with torch.no_grad():
        with ChannelMask(net, layer, channels):
            masked = net(x)
        surgery = zero_channels(net, layer, channels)(x)
        original = net(x)
    assert no_hooks(net)
    assert torch.allclose(masked, surgery, rtol=0, atol=1e-6)
    assert torch.equal(masked, original) == (not channels)  # the mask does change the output


def test_mask_zeroes_exactly_the_channels_and_nothing_else(batch):
    net, (x, _) = tiny_net(), batch
    before = record_activations(net, "4", x)["4"]
    with ChannelMask(net, "4", [1, 3]):
        after = record_activations(net, "4", x)["4"]
    assert torch.equal(after[:, [1, 3]], torch.zeros_like(after[:, [1, 3]]))
    assert torch.equal(after[:, [0, 2, 4]], before[:, [0, 2, 4]])


def test_zero_channels_leaves_the_original_alone(batch):
    net = tiny_net()
    weight = net[3].weight.detach().clone()
    pruned = zero_channels(net, net[3], [0])
    assert torch.equal(net[3].weight, weight)
    assert float(pruned[3].weight[0].detach().abs().max()) == 0.0


def brute_force_loss_change(net: nn.Module, layer: str, x: torch.Tensor,
                            y: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per image and channel: loss with the channel's weights zeroed minus the loss."""
    loss = nn.CrossEntropyLoss(reduction="none")
    target = torch.as_tensor(y)
    with torch.no_grad():
        base = loss(net(x), target)
        return np.stack([(loss(zero_channels(net, layer, [c])(x), target) - base).numpy()
                         for c in range(dict(net.named_modules())[layer].weight.shape[0])],
                        axis=1)  # fmt: skip


def test_taylor_agrees_with_brute_force_in_the_linear_regime(batch):
    """Small activations: the loss is linear in them, so the first-order estimate is exact."""
    x, y = batch[0].double(), batch[1]  # float64: the loss changes are tiny
    for scale, rtol in [(1e-3, 2e-3), (1.0, None)]:
        net = tiny_net(scale, torch.float64)
        exact = brute_force_loss_change(net, "3", x, y)
        signed = taylor_importance(net, "3", x, y, signed=True, batch_size=10)
        unsigned = taylor_importance(net, "3", x, y, batch_size=7)
        assert signed.shape == unsigned.shape == (5,)
        if rtol is not None:
            np.testing.assert_allclose(signed, exact.mean(0), rtol=rtol, atol=1e-12)
            np.testing.assert_allclose(unsigned, np.abs(exact).mean(0), rtol=rtol, atol=1e-12)
        else:  # full-size activations: only an approximation, but the same ranking here
            assert not np.allclose(signed, exact.mean(0), rtol=1e-2)
    assert no_hooks(net)


def test_taylor_error_is_second_order(batch):
    """Halving the activations divides the gap to the brute force by about 4.

    (Small scales: at larger ones a later ReLU may switch when a channel goes, a kink.)
    """
    x, y = batch[0].double(), batch[1]
    gaps = []
    for scale in (2e-3, 1e-3):
        net = tiny_net(scale, torch.float64)
        exact = brute_force_loss_change(net, "3", x, y).mean(0)
        gaps.append(np.abs(taylor_importance(net, "3", x, y, signed=True) - exact).sum())
    assert 3.5 < gaps[0] / gaps[1] < 4.5


def test_taylor_matches_autograd_by_hand_and_changes_no_gradient(batch):
    x, y = batch
    net = tiny_net()
    acts = {}
    handle = net[3].register_forward_hook(lambda m, i, o: acts.update(a=o) or o.retain_grad())
    loss = nn.functional.cross_entropy(net(x), torch.as_tensor(y), reduction="sum")
    loss.backward()
    handle.remove()
    a = acts["a"]
    by_hand = (-(a * a.grad).sum((2, 3))).detach().abs().mean(0).numpy()
    net.zero_grad(set_to_none=True)
    np.testing.assert_allclose(taylor_importance(net, "3", x, y), by_hand, rtol=1e-5)
    assert all(p.grad is None for p in net.parameters())
    assert not net.training and no_hooks(net)


def test_ablation_and_pruning_curve_match_weight_surgery(batch):
    x, y = batch
    net = tiny_net()
    drop = ablation_importance(net, "3", x, y, metric="accuracy", batch_size=5)
    base = evaluate(net, x, y)
    np.testing.assert_allclose(
        drop, [base - evaluate(zero_channels(net, "3", [c]), x, y) for c in range(5)])
    loss = ablation_importance(net, "3", x, y)
    np.testing.assert_allclose(loss, brute_force_loss_change(net, "3", x, y).mean(0), atol=1e-6)
    order = [4, 0, 2, 1, 3]
    curve = pruning_curve(net, "3", order, x, y, batch_size=9)
    np.testing.assert_allclose(
        curve, [evaluate(zero_channels(net, "3", order[:k]), x, y) for k in range(6)])
    np.testing.assert_allclose(pruning_curve(net, "3", order, x, y, counts=[5, 0]),
                               curve[[5, 0]])  # fmt: skip
    assert no_hooks(net)


def test_activation_importance_is_the_mean_absolute_activation(batch):
    x, _ = batch
    net = tiny_net()
    maps = record_activations(net, "3", x)["3"].numpy()
    np.testing.assert_allclose(activation_importance(net, "3", x, batch_size=5),
                               np.abs(maps).mean((0, 2, 3)), rtol=1e-6)  # fmt: skip


def test_feature_map_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((6, 4, 3, 3))
    maps[:, 2] = 3 * maps[:, 0] + 1  # a redundant copy of channel 0
    maps[:, 3] = 0.0  # a dead channel
    corr = feature_map_correlation(torch.as_tensor(maps))
    flat = np.moveaxis(maps, 1, 0).reshape(4, -1)
    np.testing.assert_allclose(corr[:3, :3], np.corrcoef(flat[:3]), atol=1e-12)
    assert corr[0, 2] == pytest.approx(1.0)
    assert np.isnan(corr[3]).all() and np.isnan(corr[:, 3]).all()


def test_top_input_overlap_matches_top_activating(model):
    x = torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    maps = record_activations(model, "features.0", x)["features.0"]
    overlap = top_input_overlap(maps, k=6)
    tops = [set(top_activating(model, "features.0", x, c, k=6)[0]) for c in range(16)]
    expected = [[len(a & b) / len(a | b) for b in tops] for a in tops]
    np.testing.assert_allclose(overlap, expected)
    np.testing.assert_allclose(np.diag(overlap), 1.0)


def test_errors_name_the_problem(batch):
    x, y = batch
    net = tiny_net()
    with pytest.raises(ValueError, match="has 5 channels, expected indices < 5, got 5"):
        with ChannelMask(net, "3", [5]):
            net(x)
    assert no_hooks(net)
    with pytest.raises(ValueError, match="channels: expected indices >= 0"):
        ChannelMask(net, "3", [-1])
    with pytest.raises(ValueError, match="distinct"):
        zero_channels(net, "3", [1, 1])
    with pytest.raises(TypeError, match="integer channel indices"):
        ChannelMask(net, "3", [0.5])
    with pytest.raises(TypeError, match="1-D sequence"):
        ChannelMask(net, "3", 2)
    with pytest.raises(TypeError, match="convolution, linear or affine batch-norm"):
        zero_channels(net, "2", [0])
    with pytest.raises(ValueError, match="has 5 output channels"):
        zero_channels(net, "3", [7])
    with pytest.raises(ValueError, match="metric"):
        ablation_importance(net, "3", x, y, metric="f1")
    with pytest.raises(ValueError, match="counts"):
        pruning_curve(net, "3", [0, 1], x, y, counts=[3])
    with pytest.raises(ValueError, match="labels must lie in"):
        taylor_importance(net, "3", x, np.full(len(x), 9))
    with pytest.raises(ValueError, match="k: expected an integer in"):
        top_input_overlap(np.ones((4, 2, 3)), k=5)
