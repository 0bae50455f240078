"""Unit tests of utils.evaluation.faithfulness on models where the right answer is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from utils.evaluation.faithfulness import (
    area_under_curve,
    deletion_auc,
    deletion_curve,
    deletion_curves,
    insertion_curves,
    patch_scores,
    tie_break_orders,
)


class _Linear(nn.Module):
    """Two-class linear model on (1, H, W) images: logit_1 - logit_0 = sum(w * x)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x[:, 0] * self.weight).flatten(1).sum(1)
        return torch.stack([torch.zeros_like(score), score], dim=1)


def _setup(size: int = 4, seed: int = 0) -> tuple[_Linear, torch.Tensor, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(size, size, generator=gen)
    image = torch.rand(1, size, size, generator=gen)
    contribution = (weight * image[0]).numpy()  # exact share of each pixel in the logit
    return _Linear(weight), image, contribution


def test_curve_by_hand_on_linear_model():
    model, image, contribution = _setup()
    fractions, probs = deletion_curve(model, image, contribution, target=1)
    order = np.argsort(-contribution.ravel(), kind="stable")
    total = contribution.sum()
    removed = np.concatenate([[0.0], np.cumsum(contribution.ravel()[order])])
    expected = 1 / (1 + np.exp(-(total - removed)))  # softmax of (0, score) for class 1
    np.testing.assert_allclose(fractions, np.arange(17) / 16)
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    assert probs[-1] == pytest.approx(0.5)  # all deleted: score 0


def test_true_contributions_give_the_steepest_drop():
    """Deleting the largest contributions first removes the most evidence at every step."""
    model, image, contribution = _setup()
    _, best = deletion_curve(model, image, contribution, target=1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, other = deletion_curve(model, image, rng.random((4, 4)), target=1)
        assert np.all(best <= other + 1e-12)
    worst = deletion_auc(model, image, -contribution, target=1)
    assert deletion_auc(model, image, contribution, target=1) < worst


def test_minimal_auc_among_all_orders_brute_force():
    model, image, contribution = _setup(size=2, seed=3)
    best = deletion_auc(model, image, contribution, target=1)
    aucs = []
    for perm in itertools.permutations(range(4)):
        scores = np.empty(4)
        scores[list(perm)] = np.arange(4)[::-1]  # perm[0] deleted first
        aucs.append(deletion_auc(model, image, scores.reshape(2, 2), target=1))
    assert best == pytest.approx(min(aucs))


def test_patches_pixel_map_equals_patch_map():
    model, image, contribution = _setup(size=4)
    coarse = patch_scores(contribution, 2)
    a = deletion_curve(model, image, contribution, patch_size=2, target=1)
    b = deletion_curve(model, image, coarse, patch_size=2, target=1)
    np.testing.assert_allclose(a[0], np.arange(5) / 4)
    np.testing.assert_allclose(a[1], b[1])
    # a whole patch disappears at once: step 1 removes the sum of the best patch
    total = contribution.sum()
    best_patch = coarse.max() * 4
    assert a[1][1] == pytest.approx(1 / (1 + np.exp(-(total - best_patch))), rel=1e-5)


def test_steps_baseline_and_default_target():
    model, image, contribution = _setup()
    fractions, probs = deletion_curve(model, image[None], contribution, steps=4)
    np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1.0])
    predicted = int(contribution.sum() > 0)
    full = deletion_curve(model, image, contribution, target=predicted)[1]
    np.testing.assert_allclose(probs, full[::4])
    # deleting everything with a baseline image gives the baseline's probability
    baseline = torch.ones_like(image)
    _, probs = deletion_curve(model, image, contribution, target=1, baseline=baseline)
    score = model.weight.detach().sum().item()
    assert probs[-1] == pytest.approx(1 / (1 + np.exp(-score)), rel=1e-5)


def test_patch_scores_and_auc():
    np.testing.assert_allclose(patch_scores(np.arange(16.0).reshape(4, 4), 2),
                               [[2.5, 4.5], [10.5, 12.5]])  # fmt: skip
    assert area_under_curve([0.0, 0.5, 1.0], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert area_under_curve([0, 1], [0.2, 0.2]) == pytest.approx(0.2)
    curves = np.array([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]])  # a batch: one area per row
    np.testing.assert_allclose(area_under_curve([0.0, 0.5, 1.0], curves), [0.5, 0.2])
    with pytest.raises(ValueError, match="1-D arrays of the same length"):
        area_under_curve([0.0, 1.0], np.ones((2, 3)))


def test_model_mode_is_restored():
    model, image, contribution = _setup()
    model.train()
    deletion_curve(model, image, contribution)
    assert model.training


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attribution": np.zeros((3, 3))}, r"input's shape \(4, 4\) or one score per patch"),
        ({"patch_size": 3}, "must divide every side"),
        ({"patch_size": 0}, "patch_size must be a positive integer"),
        ({"steps": 17}, "at most the number of patches"),
        ({"target": 2}, r"target must be a class index in \[0, 1\]"),
        ({"baseline": np.zeros((1, 2, 2))}, "baseline: expected a number or an array"),
        ({"image": np.zeros(4)}, r"expected one input and its map over the input's trailing axes"),
        ({"attribution": np.full((4, 4), np.nan)}, "NaN or infinite"),
        ({"tie_breaks": 0}, "tie_breaks must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_errors(kwargs, message):
    model, image, contribution = _setup()
    args = {"image": image, "attribution": contribution} | kwargs
    with pytest.raises(ValueError, match=message):
        deletion_curve(model, **args)


def test_type_errors():
    _, image, contribution = _setup()
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        deletion_curve(lambda x: x, image, contribution)
    with pytest.raises(ValueError, match="1-D arrays of the same length"):
        area_under_curve([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        area_under_curve([1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="multiples of patch_size"):
        patch_scores(np.zeros((5, 4)), 2)


def test_model_output_shape_error():
    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum((1, 2, 3)) * self.w

    _, image, contribution = _setup()
    with pytest.raises(ValueError, match=r"expected logits \(n, n_classes\)"):
        deletion_curve(Flat(), image, contribution)


def test_batched_curves_equal_single_curves():
    model, image, contribution = _setup()
    rng = np.random.default_rng(1)
    images = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    maps = rng.random((5, 2, 2))
    fractions, batched = deletion_curves(model, images, maps, patch_size=2, batch_size=7)
    assert batched.shape == (5, 5)
    for i in range(5):
        single = deletion_curve(model, images[i], maps[i], patch_size=2)
        np.testing.assert_allclose(single[0], fractions)
        np.testing.assert_allclose(single[1], batched[i], rtol=1e-6)
    per_image = deletion_curves(model, images, maps, patch_size=2, targets=[0, 1, 0, 1, 0])[1]
    np.testing.assert_allclose(per_image[1], deletion_curve(model, images[1], maps[1], 2,
                                                            target=1)[1], rtol=1e-6)  # fmt: skip


def test_batched_errors():
    model, image, _ = _setup()
    images = image[None].repeat(3, 1, 1, 1)
    with pytest.raises(ValueError, match=r"one map per input, shape \(3, ...\)"):
        deletion_curves(model, images, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"targets: expected one class index or 3"):
        deletion_curves(model, images, np.zeros((3, 4, 4)), targets=[0, 1])
    with pytest.raises(ValueError, match=r"inputs: expected at least one value"):
        deletion_curves(model, np.zeros((0, 1, 4, 4)), np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="target must be a class index"):
        deletion_curve(model, image, np.zeros((4, 4)), target=1.5)


def _curve_of_order(model, image, order, target=1):
    """Brute force: the deletion curve of one explicit order (distinct scores, no ties)."""
    scores = np.empty(len(order))
    scores[list(order)] = np.arange(len(order))[::-1]  # order[0] deleted first
    side = int(np.sqrt(len(order)))
    return deletion_curve(model, image, scores.reshape(side, side), target=target)[1]


def test_tie_break_orders():
    np.testing.assert_array_equal(tie_break_orders([0.5, 2.0, 1.0, -1.0]), [[1, 2, 0, 3]])
    np.testing.assert_array_equal(tie_break_orders([3.0, 1.0, 1.0]), [[0, 1, 2], [0, 2, 1]])
    every = tie_break_orders(np.zeros(4), tie_breaks=24)  # 4! orders: all of them
    assert len({tuple(o) for o in every}) == 24
    sampled = tie_break_orders(np.r_[5.0, np.zeros(7)], tie_breaks=6, seed=1)  # 7! > 6
    assert sampled.shape == (6, 8) and np.all(sampled[:, 0] == 0)
    assert all(sorted(o) == list(range(8)) for o in sampled.tolist())
    np.testing.assert_array_equal(sampled, tie_break_orders(np.r_[5.0, np.zeros(7)], 6, seed=1))
    with pytest.raises(ValueError, match="tie_breaks must be a positive integer"):
        tie_break_orders([1.0, 1.0], tie_breaks=0)
    with pytest.raises(ValueError, match="scores: expected at least one"):
        tie_break_orders([])


def test_no_ties_give_the_plain_ranking():
    model, image, contribution = _setup()
    order = np.argsort(-contribution.ravel())
    np.testing.assert_allclose(deletion_curve(model, image, contribution, target=1)[1],
                               _curve_of_order(model, image, order), rtol=1e-12)  # fmt: skip


def test_all_tied_scores_give_the_random_order_curve():
    """A constant map is no ranking: its curve is the mean curve over all orders."""
    model, image, _ = _setup(size=2, seed=3)
    brute = np.mean([_curve_of_order(model, image, perm)
                     for perm in itertools.permutations(range(4))], axis=0)  # fmt: skip
    exact = deletion_curve(model, image, np.zeros((2, 2)), target=1, tie_breaks=24)[1]
    np.testing.assert_allclose(exact, brute, rtol=1e-10)
    sampled = deletion_curve(model, image, np.zeros((2, 2)), target=1, tie_breaks=2000)[1]
    np.testing.assert_allclose(sampled, brute, atol=0.01)  # a seeded sample of 2000 orders
    # the row-major order a stable sort would use is one of the 24, not their mean
    row_major = _curve_of_order(model, image, [0, 1, 2, 3])
    assert np.abs(row_major - brute).max() > 0.05


def test_partial_ties_average_the_orders_of_the_tie():
    model, image, _ = _setup(size=2, seed=3)
    scores = np.array([[3.0, 1.0], [1.0, 0.0]])  # patches 1 and 2 tie
    expected = np.mean([_curve_of_order(model, image, [0, 1, 2, 3]),
                        _curve_of_order(model, image, [0, 2, 1, 3])], axis=0)  # fmt: skip
    np.testing.assert_allclose(deletion_curve(model, image, scores, target=1)[1], expected,
                               rtol=1e-10)  # fmt: skip


def test_tied_maps_are_seeded_and_independent_of_the_batch():
    model, _, _ = _setup()
    images = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(5))
    maps = np.zeros((3, 4, 4))
    maps[1, 0, 0] = 1.0  # one best pixel, 15 tied zeros
    _, batched = deletion_curves(model, images, maps, targets=1, tie_breaks=7, seed=2)
    for i in range(3):
        single = deletion_curve(model, images[i], maps[i], target=1, tie_breaks=7, seed=2)[1]
        np.testing.assert_allclose(batched[i], single, rtol=1e-12)
    again = deletion_curves(model, images, maps, targets=1, tie_breaks=7, seed=2)[1]
    np.testing.assert_array_equal(batched, again)
    other = deletion_curves(model, images, maps, targets=1, tie_breaks=7, seed=3)[1]
    assert not np.allclose(batched, other)


def test_patches_equal_to_the_baseline_are_evaluated_once():
    """Deleting a patch that already equals the baseline gives the same image: one evaluation."""
    model, image, _ = _setup(size=2, seed=3)
    image = image.clone()
    image[0, 0, 1] = image[0, 1, 0] = 0.0  # two "empty" patches (baseline 0)
    brute = np.mean([_curve_of_order(model, image, perm)
                     for perm in itertools.permutations(range(4))], axis=0)  # fmt: skip

    class Counting(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner, self.seen = inner, 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen += len(x)
            return self.inner(x)

    counting = Counting(model)
    curve = deletion_curve(counting, image, np.zeros((2, 2)), target=1, tie_breaks=24)[1]
    np.testing.assert_allclose(curve, brute, rtol=1e-10)
    assert counting.seen == 4  # intact, one or both non-empty patches deleted (2 ways), all


# --- insertion and other data types ---------------------------------------------------------
def test_insertion_curve_by_hand_on_linear_model():
    """Insertion puts the largest contributions back first: the logit is their running sum."""
    model, image, contribution = _setup()
    fractions, probs = insertion_curves(model, image[None], contribution[None], targets=1)
    order = np.argsort(-contribution.ravel(), kind="stable")
    added = np.concatenate([[0.0], np.cumsum(contribution.ravel()[order])])
    np.testing.assert_allclose(fractions, np.arange(17) / 16)
    np.testing.assert_allclose(probs[0], 1 / (1 + np.exp(-added)), rtol=1e-5)
    # the mirror image of deletion: inserting the first k = deleting the other 16 - k
    _, deleted = deletion_curves(model, image[None], -contribution[None], targets=1)
    np.testing.assert_allclose(probs[0], deleted[0, ::-1], rtol=1e-5)


def test_insertion_default_target_is_the_intact_inputs_class():
    model, image, contribution = _setup()
    predicted = int(model(image[None]).argmax())
    _, default = insertion_curves(model, image[None], contribution[None])
    _, explicit = insertion_curves(model, image[None], contribution[None], targets=predicted)
    np.testing.assert_array_equal(default, explicit)


class _Tabular(nn.Module):
    """Two-class linear model on rows (n, F) or signals (n, 1, T): logit_1 = w . x."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x.reshape(len(x), -1) * self.weight).sum(1)
        return torch.stack([torch.zeros_like(score), score], dim=1)


@pytest.mark.parametrize("shape", [(6,), (1, 6)])
def test_rows_and_signals_against_brute_force(shape):
    """Maps over the trailing axis: features of a table (no channel) or samples of a signal."""
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(6, generator=gen)
    x = torch.rand(2, *shape, generator=gen)
    model = _Tabular(weight)
    maps = (x.reshape(2, 6) * weight).numpy()
    fractions, probs = deletion_curves(model, x, maps, targets=1, baseline=0.5)
    for i in range(2):
        order = np.argsort(-maps[i])
        expected = []
        for k in range(7):
            row = x[i].reshape(6).clone()
            row[order[:k]] = 0.5
            expected.append(torch.softmax(model(row.reshape(1, *shape)), 1)[0, 1].item())
        np.testing.assert_allclose(probs[i], expected, rtol=1e-5)
    # segments of a signal: patch_size 2 replaces pairs of samples, ranked by their mean
    if shape == (1, 6):
        _, paired = deletion_curves(model, x, maps, patch_size=2, targets=1)
        assert paired.shape == (2, 4)
        first = np.argmax(maps[0].reshape(3, 2).mean(1))
        row = x[0].clone()
        row[0, 2 * first : 2 * first + 2] = 0.0
        assert paired[0, 1] == pytest.approx(torch.softmax(model(row[None]), 1)[0, 1].item())
