"""Tests of utils.attacks against closed forms, captum, quantus and brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.attacks import fgsm_attack, pgd_attack, saliency_attack, softplus_model
from utils.evaluation.robustness import max_sensitivity
from utils.models import MnistCNN


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 3)).eval()


def _images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_fgsm_step_is_eps_times_sign_of_the_closed_form_gradient():
    model = _linear()
    x = 0.3 + 0.4 * torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 0, 1])
    weight = model[1].weight.detach()
    probs = F.softmax(model(x), dim=1).detach()
    grad = (probs - F.one_hot(y, 3).float()) @ weight  # d CE / d x of a linear model
    step = fgsm_attack(model, x, y, eps=0.05) - x
    torch.testing.assert_close(step, 0.05 * grad.sign(), atol=1e-6, rtol=0)


def test_fgsm_and_pgd_equal_captum():
    from captum.robust import FGSM, PGD

    torch.manual_seed(0)
    model = MnistCNN().eval()
    x, y = _images(6), torch.tensor([0, 1, 2, 3, 4, 5])
    loss = lambda out, t: F.cross_entropy(out, t, reduction="none")  # noqa: E731
    fgsm = FGSM(model, loss_func=loss, lower_bound=0.0, upper_bound=1.0)
    fgsm.zero_thresh = 0.0
    pgd = PGD(model, loss_func=loss, lower_bound=0.0, upper_bound=1.0)
    pgd.fgsm.zero_thresh = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # captum: "did not require gradients"
        ref_fgsm = fgsm.perturb(x.clone(), epsilon=0.1, target=y)
        ref_pgd = pgd.perturb(x.clone(), radius=0.1, step_size=0.03, step_num=7, target=y)
    torch.testing.assert_close(fgsm_attack(model, x, y, 0.1), ref_fgsm, atol=1e-6, rtol=0)
    torch.testing.assert_close(pgd_attack(model, x, y, 0.1, steps=7, step_size=0.03), ref_pgd,
                               atol=1e-6, rtol=0)  # fmt: skip


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_stays_in_the_ball_and_the_box(random_start):
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x, y = _images(5, seed=3), torch.arange(5)
    x_adv = pgd_attack(model, x, y, eps=0.07, steps=6, step_size=0.05, random_start=random_start)
    assert float((x_adv - x).abs().max()) <= 0.07 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert not torch.equal(x_adv, x)
    assert model.training is False


def test_pgd_is_at_least_as_strong_as_fgsm_on_its_loss():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x, y = _images(8, seed=4), torch.arange(8) % 10
    losses = [F.cross_entropy(model(a), y).item()
              for a in (x, fgsm_attack(model, x, y, 0.05), pgd_attack(model, x, y, 0.05, 20))]
    assert losses[0] < losses[1] <= losses[2]


def test_attacks_work_inside_no_grad():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x, y = _images(2), torch.tensor([1, 2])
    expected = pgd_attack(model, x, y, 0.05, steps=2)
    with torch.no_grad():
        torch.testing.assert_close(pgd_attack(model, x, y, 0.05, steps=2), expected)
        saliency_attack(model, x, np.eye(28, dtype=bool), 0.05, steps=1)


def test_max_sensitivity_of_a_linear_models_gradient_is_zero():
    model = _linear()

    def gradient(z):
        z = z.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(z)[:, 1].sum(), z)
        return g

    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(max_sensitivity(gradient, x, radius=0.3, n_samples=20),
                                  np.zeros(4))  # fmt: skip


def test_max_sensitivity_equals_brute_force_and_quantus():
    import quantus

    x = np.random.default_rng(0).random((3, 1, 4, 4)).astype(np.float32) + 0.5
    square = lambda z: np.asarray(z) ** 2  # noqa: E731  the explanation of a constructed case
    rng = np.random.RandomState(7)
    base = square(x).reshape(3, -1)
    brute = np.zeros(3)
    for _ in range(5):  # the definition, one draw at a time
        moved = square(x + rng.uniform(-0.1, 0.1, size=x.shape).astype(np.float32)).reshape(3, -1)
        brute = np.maximum(brute, np.linalg.norm(moved - base, axis=1))
    brute /= np.linalg.norm(base, axis=1)
    mine = max_sensitivity(lambda z: square(z.numpy()), torch.as_tensor(x), radius=0.1,
                           n_samples=5, seed=7)  # fmt: skip
    np.testing.assert_allclose(mine, brute, rtol=1e-5)

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    metric = quantus.MaxSensitivity(nr_samples=5, lower_bound=0.1, disable_warnings=True)
    np.random.seed(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = metric(model=model, x_batch=x, y_batch=np.array([0, 1, 0]), a_batch=square(x),
                     explain_func=lambda model, inputs, targets, **kw: square(inputs),
                     device="cpu")  # fmt: skip
    np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-5)


def test_softplus_model_leaves_the_original_and_gives_curvature():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    smooth = softplus_model(model, beta=10.0)
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3
    assert not any(isinstance(m, nn.ReLU) for m in smooth.modules())
    assert sum(isinstance(m, nn.Softplus) for m in smooth.modules()) == 3
    x = _images(2)

    def second_order(net):
        z = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(z)[:, 3].sum(), z, create_graph=True)
        if not g.requires_grad:  # ReLU + max-pool: the gradient is piecewise constant
            return torch.zeros_like(x)
        (h,) = torch.autograd.grad(g.abs().sum(), z, allow_unused=True)
        return torch.zeros_like(x) if h is None else h

    assert float(second_order(model).abs().max()) == 0.0
    assert float(second_order(smooth).abs().max()) > 0.0
    with torch.no_grad():  # a sharp softplus is close to the ReLU net
        assert float((smooth(x) - model(x)).abs().max()) < 1.0


def test_saliency_attack_moves_mass_and_respects_the_budget():
    torch.manual_seed(0)
    model = MnistCNN().eval()
    x = _images(3, seed=5) * 0.5
    region = np.zeros((28, 28), dtype=bool)
    region[-8:, -8:] = True

    def share(z):
        z = z.clone().requires_grad_(True)
        with torch.no_grad():
            c = model(x).argmax(1)
        (g,) = torch.autograd.grad(model(z).gather(1, c[:, None]).sum(), z)
        s = g.abs().sum(1)
        return (s[:, -8:, -8:].sum((1, 2)) / s.sum((1, 2))).mean().item()

    x_adv = saliency_attack(model, x, region, eps=0.1, steps=20, step_size=0.01)
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert share(x_adv) > share(x)


@pytest.mark.parametrize(("call", "message"), [
    (lambda m, x: pgd_attack(m, x * 2, [0] * len(x), 0.1), "x: expected pixel values in"),
    (lambda m, x: pgd_attack(m, x, [0] * (len(x) + 1), 0.1), "y: expected"),
    (lambda m, x: pgd_attack(m, x, [11] * len(x), 0.1), "y: expected classes"),
    (lambda m, x: pgd_attack(m, x, 0, -0.1), "eps"),
    (lambda m, x: fgsm_attack("model", x, 0, 0.1), "model"),
    (lambda m, x: softplus_model(nn.Sequential(nn.Linear(2, 2))), "no nn.ReLU"),
    (lambda m, x: softplus_model(m, beta=0.0), "beta"),
    (lambda m, x: saliency_attack(m, x, np.ones((5, 5), bool), 0.1), "region"),
    (lambda m, x: max_sensitivity("f", x, 0.1), "explain"),
    (lambda m, x: max_sensitivity(lambda z: z, x, 0.0), "radius"),
    (lambda m, x: max_sensitivity(lambda z: z[:1], x, 0.1), "one map per image"),
])  # fmt: skip
def test_errors_name_the_parameter(call, message):
    torch.manual_seed(0)
    with pytest.raises((TypeError, ValueError), match=message):
        call(MnistCNN().eval(), _images(2))
