"""utils.method_choice: model evaluations counted against what the methods do by definition
(captum's IG, occlusion, NoiseTunnel; a loop of single calls), and the timer against a known
sleep."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from torch import nn

from utils.method_choice import count_model_calls, model_call_counter, time_per_explanation

# captum's saliency on inputs that do not require grad says so once per call
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 20, 3)).eval()  # fmt: skip


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(4, 1, 20, generator=torch.Generator().manual_seed(0))


def test_integrated_gradients_costs_its_steps(net, x):
    def explain(z):
        return IntegratedGradients(net).attribute(z, target=0, n_steps=12)

    # captum puts the 12 steps of each input into one batch: one call, one backward pass
    assert count_model_calls(explain, net, x[:1]) == {"calls": 1, "inputs": 12, "backward": 1}
    assert count_model_calls(explain, net, x)["inputs"] == 12 * len(x)


def test_occlusion_costs_one_input_per_window_plus_the_original(net, x):
    def explain(z):
        return Occlusion(net).attribute(z, sliding_window_shapes=(1, 5), strides=(1, 5), target=0)

    count = count_model_calls(explain, net, x[:1])
    assert count["inputs"] == 20 // 5 + 1
    assert count["backward"] == 0


def test_smoothgrad_and_saliency(net, x):
    def smooth(z):
        return NoiseTunnel(Saliency(net)).attribute(z, nt_type="smoothgrad", nt_samples=7,
                                                    target=0)  # fmt: skip

    assert count_model_calls(smooth, net, x[:2])["inputs"] == 7 * 2
    plain = count_model_calls(lambda z: Saliency(net).attribute(z, target=0), net, x[:2])
    assert plain == {"calls": 1, "inputs": 2, "backward": 1}


def test_counts_a_loop_of_single_calls_like_brute_force(net, x):
    def one_at_a_time(z):
        with torch.no_grad():
            return [net(zi[None]) for zi in z]

    count = count_model_calls(one_at_a_time, net, x)
    assert count == {"calls": len(x), "inputs": len(x), "backward": 0}


def test_hook_removed_after_an_error(net, x):
    def broken(z):
        net(z)
        raise KeyError("inside explain")

    with pytest.raises(KeyError):
        count_model_calls(broken, net, x)
    assert not net._forward_hooks
    with model_call_counter(net) as count:
        with torch.no_grad():
            net(x)
    assert count["inputs"] == len(x) and not net._forward_hooks


def test_time_per_explanation_divides_by_n_and_takes_the_median():
    calls = []

    def sleepy(z):
        calls.append(len(z))
        time.sleep(0.02)

    seconds = time_per_explanation(sleepy, np.zeros((4, 3)), repeats=3)
    assert len(calls) == 4  # one warm-up, three timed runs
    assert 0.02 / 4 <= seconds < 0.2 / 4


def test_dataframe_inputs():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert time_per_explanation(lambda rows: rows.sum(), frame, repeats=1) >= 0


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"explain": None}, TypeError, "explain: expected a callable"),
    ({"inputs": "abc"}, TypeError, "inputs: expected a batch"),
    ({"inputs": np.zeros((0, 3))}, ValueError, "inputs"),
    ({"inputs": np.full((2, 3), np.nan)}, ValueError, "inputs contains NaN"),
    ({"inputs": np.float64(1.0)}, TypeError, "inputs: expected a batch"),
    ({"repeats": 0}, ValueError, "repeats"),
    ({"repeats": 1.5}, TypeError, "repeats: expected an integer"),
])  # fmt: skip
def test_time_per_explanation_errors(kwargs, error, message):
    call = {"explain": lambda z: z, "inputs": np.zeros((2, 3)), "repeats": 1} | kwargs
    with pytest.raises(error, match=message):
        time_per_explanation(**call)


def test_count_model_calls_errors(net, x):
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        count_model_calls(lambda z: z, "not a model", x)
    with pytest.raises(TypeError, match="explain: expected a callable"):
        count_model_calls(3, net, x)
    with pytest.raises(ValueError, match="inputs"):
        count_model_calls(lambda z: z, net, torch.zeros(0, 1, 20))
