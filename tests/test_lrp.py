"""utils.lrp: the hand-written LRP-ε against zennit, conservation, the EfficientNet canonizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import EpsilonPlusFlat, LayerMapComposite
from zennit.rules import Epsilon, Pass
from zennit.types import Activation, Convolution

from utils.lrp import efficientnet_lite_canonizers, lrp_epsilon_by_hand, lrp_relevance
from utils.models import MnistCNN


def _two_layer(bias: bool = True, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 8, bias=bias), nn.ReLU(), nn.Linear(8, 3, bias=bias))
    if bias:  # biases large enough to matter
        with torch.no_grad():
            net[0].bias.uniform_(-0.5, 0.5)
            net[2].bias.uniform_(-0.5, 0.5)
    return net.eval()


def _zennit_epsilon(net: nn.Module, x: torch.Tensor, target: int, epsilon: float) -> np.ndarray:
    composite = LayerMapComposite([(Activation, Pass()), (nn.Linear, Epsilon(epsilon))])

    def start(out: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(out).scatter(1, torch.full((len(out), 1), target),
                                             out[:, target:target + 1])  # fmt: skip

    with Gradient(net, composite) as attributor:
        _, relevance = attributor(x, start)
    return relevance.detach().numpy()


@pytest.mark.parametrize("epsilon", [1e-6, 0.1, 1.0])
def test_hand_written_epsilon_matches_zennit(epsilon):
    net = _two_layer()
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    mine = lrp_epsilon_by_hand(net, x, target=2, epsilon=epsilon)
    reference = _zennit_epsilon(net, x, 2, epsilon)
    assert mine.shape == (5, 6)
    np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-6)
    # and the library-based helper gives the same map
    composite = LayerMapComposite([(Activation, Pass()), (nn.Linear, Epsilon(epsilon))])
    relevance, _ = lrp_relevance(net, x, 2, composite)
    np.testing.assert_allclose(relevance, reference, rtol=1e-5, atol=1e-7)


def test_hand_written_epsilon_with_flatten_and_per_sample_targets():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)).eval()
    x = torch.randn(3, 3, 4)
    targets = [0, 2, 1]
    mine = lrp_epsilon_by_hand(net, x, targets, epsilon=0.01)
    assert mine.shape == (3, 3, 4)
    for i, t in enumerate(targets):
        single = lrp_epsilon_by_hand(net, x[i:i + 1], t, epsilon=0.01)
        np.testing.assert_allclose(mine[i:i + 1], single)


def test_conservation_on_a_bias_free_net():
    net = _two_layer(bias=False)
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = net(x)[:, 1].double().numpy()
    mine = lrp_epsilon_by_hand(net, x, 1, epsilon=1e-9)
    np.testing.assert_allclose(mine.sum(axis=1), logits, rtol=1e-6)
    # zennit, layer by layer: every layer receives the whole logit
    composite = LayerMapComposite([(Activation, Pass()), (nn.Linear, Epsilon(1e-9))])
    _, sums = lrp_relevance(net, x, 1, composite, ["2", "1", "0"])
    assert list(sums.index) == ["logit", "2", "1", "0", "input"]
    np.testing.assert_allclose(sums.to_numpy(), np.broadcast_to(logits, sums.shape), rtol=1e-5)


def test_bias_absorbs_its_share_in_the_top_layer():
    net = _two_layer()
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    epsilon = 0.5
    composite = LayerMapComposite([(Activation, Pass()), (nn.Linear, Epsilon(epsilon))])
    _, sums = lrp_relevance(net, x, 0, composite, ["2"])
    with torch.no_grad():
        z = net(x)[:, 0].double().numpy()
    b = float(net[2].bias.detach()[0])
    stabilised = z + epsilon * np.where(z >= 0, 1.0, -1.0)
    expected = z * (z - b) / stabilised  # the bias and epsilon keep the rest
    np.testing.assert_allclose(sums.loc["2"].to_numpy(), expected, rtol=1e-5)


def test_lrp0_equals_gradient_times_input_on_a_relu_cnn():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x = torch.rand(2, 1, 28, 28)
    composite = LayerMapComposite([(Activation, Pass()), (Convolution, Epsilon(1e-12)),
                                   (nn.Linear, Epsilon(1e-12))])  # fmt: skip
    relevance, sums = lrp_relevance(model, x, [3, 7], composite, ["classifier.2", "features.0"])
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    (grad,) = torch.autograd.grad(out[0, 3] + out[1, 7], xg)
    np.testing.assert_allclose(relevance, (grad * x).numpy(), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(sums.loc["logit"], out.detach().numpy()[[0, 1], [3, 7]], rtol=1e-6)
    np.testing.assert_allclose(sums.loc["input"], relevance.reshape(2, -1).sum(1), rtol=1e-5)


def test_epsilon_plus_flat_conserves_without_biases():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x = torch.rand(2, 1, 28, 28)
    _, sums = lrp_relevance(model, x, 5, EpsilonPlusFlat(zero_params="bias"),
                            ["classifier.2", "classifier.0", "features.3", "features.0"])
    np.testing.assert_allclose(sums.to_numpy(), np.broadcast_to(sums.loc["logit"], sums.shape),
                               rtol=1e-4)  # fmt: skip


def test_efficientnet_canonizers_keep_the_logits_and_conserve():
    from utils.pretrained import load_imagenet_cnn

    net = load_imagenet_cnn()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        before = net(x)
    canonizers = efficientnet_lite_canonizers(net)
    instances = [i for c in canonizers for i in c.apply(net)]
    assert len(instances) == 49 + 16  # 49 batch norms merged, 16 blocks with a Sum
    with torch.no_grad():
        during = net(x)
    for instance in instances:
        instance.remove()
    with torch.no_grad():
        after = net(x)
    np.testing.assert_allclose(during.numpy(), before.numpy(), atol=1e-4)
    np.testing.assert_array_equal(after.numpy(), before.numpy())
    # residual additions split by the Norm rule: the relevance entering the last block and
    # the first block is at most the logit (biases may take some), never duplicated
    target = int(before.argmax())
    composite = EpsilonPlusFlat(zero_params="bias", canonizers=efficientnet_lite_canonizers(net))
    _, sums = lrp_relevance(net, x, target, composite, ["_fc", "_blocks.1"])
    logit = sums.loc["logit", 0]
    assert abs(sums.loc["_fc", 0] - logit) < 1e-4 * abs(logit)
    assert 0 <= sums.loc["_blocks.1", 0] <= logit
    _, duplicated = lrp_relevance(net, x, target, EpsilonPlusFlat(zero_params="bias"),
                                  ["_blocks.1"])  # fmt: skip
    assert duplicated.loc["_blocks.1", 0] > sums.loc["_blocks.1", 0]


def test_errors_name_the_parameter():
    net = _two_layer()
    x = torch.randn(2, 6)
    with pytest.raises(TypeError, match="composite"):
        lrp_relevance(net, x, 0, "EpsilonPlusFlat")
    with pytest.raises(ValueError, match="layers: unknown"):
        lrp_relevance(net, x, 0, EpsilonPlusFlat(), ["features.9"])
    with pytest.raises(ValueError, match="target must lie"):
        lrp_relevance(net, x, 3, EpsilonPlusFlat())
    with pytest.raises(TypeError, match="target"):
        lrp_relevance(net, x, 1.5, EpsilonPlusFlat())
    with pytest.raises(TypeError, match="Linear, ReLU and Flatten"):
        lrp_epsilon_by_hand(nn.Sequential(nn.Linear(6, 2), nn.Tanh()), x, 0)
    with pytest.raises(ValueError, match="epsilon"):
        lrp_epsilon_by_hand(net, x, 0, epsilon=-1.0)
    with pytest.raises(TypeError, match="EfficientNet-Lite0"):
        efficientnet_lite_canonizers(net)
