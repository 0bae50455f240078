"""Tests of utils.image_explain (LIME helpers for images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.segmentation import slic

from utils.image_explain import (
    grey_batch,
    grid_segmentation,
    imagenet_batch,
    lime_image_map,
    lime_predict_fn,
    quiet_lime,
    relabel_segments,
    segment_rank,
    segment_weights,
)
from utils.pretrained import deprocess_imagenet, preprocess_imagenet
from utils.training import predict_proba


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((10, 1, 28, 28)).astype(np.float32)


def _rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images.transpose(0, 2, 3, 1), 3, axis=-1)


# --- segmentations -------------------------------------------------------------------------


def test_grid_segmentation_numbers_cells_row_by_row():
    seg = grid_segmentation((28, 28), cell=4)
    assert seg.shape == (28, 28) and seg.dtype == np.int64
    assert np.array_equal(np.unique(seg), np.arange(49))
    assert (seg[:4, :4] == 0).all() and (seg[:4, 4:8] == 1).all() and (seg[4:8, :4] == 7).all()
    assert np.array_equal(np.bincount(seg.ravel()), np.full(49, 16))


def test_grid_segmentation_accepts_images_and_uneven_cells():
    seg = grid_segmentation(np.zeros((5, 7, 3)), cell=(2, 3))
    assert seg.shape == (5, 7)
    assert int(seg.max()) + 1 == 3 * 3  # ceil(5/2) rows x ceil(7/3) columns
    assert seg[4, 6] == 8


@pytest.mark.parametrize(
    ("shape", "cell", "error", "message"),
    [
        ((28, 28), 0, ValueError, "cell sides must lie in"),
        ((28, 28), 29, ValueError, "cell sides must lie in"),
        ((28, 28), 2.5, TypeError, "cell must be an int or a pair"),
        ((28, 28), (2, 2, 2), TypeError, "cell must be an int or a pair"),
        ((28,), 4, ValueError, "expected an image"),
        ((2, 28, 28, 3), 4, ValueError, "expected an image"),
    ],
)
def test_grid_segmentation_rejects_bad_input(shape, cell, error, message):
    with pytest.raises(error, match=message):
        grid_segmentation(shape, cell)


def test_relabel_segments_fixes_slic_start_label():
    image = np.random.default_rng(0).random((28, 28))
    raw = slic(image, n_segments=20, compactness=0.1, channel_axis=None)  # labels start at 1
    assert raw.min() == 1
    seg = relabel_segments(raw)
    n = len(np.unique(raw))
    assert np.array_equal(np.unique(seg), np.arange(n))
    # the partition is unchanged: same pixels grouped together
    assert len(np.unique(raw * 1000 + seg)) == n


def test_relabel_segments_rejects_bad_input():
    with pytest.raises(ValueError, match="2D label image"):
        relabel_segments(np.zeros((2, 3, 4), dtype=int))
    with pytest.raises(TypeError, match="integer labels"):
        relabel_segments(np.zeros((3, 4)))


# --- prediction function -------------------------------------------------------------------


def test_grey_batch_undoes_gray2rgb(digits):
    x = grey_batch(_rgb(digits))
    assert x.shape == (10, 1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x, torch.from_numpy(digits))
    uint8 = grey_batch(np.full((1, 28, 28, 3), 255, dtype=np.uint8))
    assert torch.allclose(uint8, torch.ones(1, 1, 28, 28))


def test_imagenet_batch_matches_preprocess_imagenet():
    photo = np.random.default_rng(0).integers(0, 256, (240, 260, 3), dtype=np.uint8)
    x = preprocess_imagenet(photo)
    crop = deprocess_imagenet(x)  # (1, 224, 224, 3) in [0, 1]
    assert torch.allclose(imagenet_batch(crop), x, atol=1e-5)


def test_lime_predict_fn_matches_predict_proba_in_batches(model, digits):
    calls: list[int] = []
    hook = model.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    try:
        probs = lime_predict_fn(model, "grey", batch_size=4)(_rgb(digits))
    finally:
        hook.remove()
    assert probs.shape == (10, 10)
    assert np.allclose(probs, predict_proba(model, digits), atol=1e-6)
    assert calls == [4, 4, 2]


def test_lime_predict_fn_accepts_a_callable(model, digits):
    def first_channel(imgs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(imgs[..., :1].transpose(0, 3, 1, 2).copy())

    predict = lime_predict_fn(model, first_channel)
    assert np.allclose(predict(_rgb(digits)), predict_proba(model, digits), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"preprocess": "rgb"}, ValueError, "preprocess must be one of"),
        ({"preprocess": 3}, TypeError, "preprocess must be a string or a callable"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": True}, ValueError, "batch_size must be a positive integer"),
    ],
)
def test_lime_predict_fn_rejects_bad_arguments(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        lime_predict_fn(model, **kwargs)


def test_lime_predict_fn_checks_model_and_images(model):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        lime_predict_fn("not a model")
    with pytest.raises(ValueError, match=r"\(n, H, W, 3\)"):
        lime_predict_fn(model)(np.zeros((2, 28, 28)))
    with pytest.raises(TypeError, match="must return a torch.Tensor"):
        lime_predict_fn(model, lambda imgs: imgs)(np.zeros((1, 28, 28, 3), dtype=np.float32))


# --- reading explanations ------------------------------------------------------------------


@pytest.fixture(scope="module")
def explanation(model, digits):
    from lime import lime_image

    explainer = lime_image.LimeImageExplainer(random_state=0)
    with quiet_lime():
        return explainer.explain_instance(
            digits[0, 0], lime_predict_fn(model), labels=(3,), top_labels=None, hide_color=0,
            num_samples=60, batch_size=30, segmentation_fn=lambda im: grid_segmentation(im, 7))


def test_segment_weights_and_map_follow_local_exp(explanation):
    weights = segment_weights(explanation, 3)
    assert weights.shape == (16,)
    for j, w in explanation.local_exp[3]:
        assert weights[j] == pytest.approx(w)
    amap = lime_image_map(explanation, 3)
    assert amap.shape == (28, 28)
    assert np.array_equal(amap, weights[explanation.segments])


def test_segment_weights_rejects_bad_input(explanation):
    with pytest.raises(TypeError, match="ImageExplanation"):
        segment_weights(object(), 3)
    with pytest.raises(ValueError, match="label 5 was not explained"):
        segment_weights(explanation, 5)

    class Shifted:
        segments = explanation.segments + 1
        local_exp = explanation.local_exp

    with pytest.raises(ValueError, match="relabel_segments"):
        segment_weights(Shifted(), 3)


def test_quiet_lime_hides_the_bar_and_restores_tqdm(model, digits, capsys):
    from lime import lime_image

    original = lime_image.tqdm
    explainer = lime_image.LimeImageExplainer(random_state=0)
    with quiet_lime():
        explainer.explain_instance(digits[0, 0], lime_predict_fn(model), labels=(0,),
                                   top_labels=None, num_samples=20, batch_size=20,
                                   segmentation_fn=lambda im: grid_segmentation(im, 14))
    assert lime_image.tqdm is original
    captured = capsys.readouterr()
    assert "it/s" not in captured.err and "%|" not in captured.err


def test_segment_rank():
    assert segment_rank([0.1, -0.5, 0.3], 2) == 1
    assert segment_rank([0.1, -0.5, 0.3], 1) == 3
    assert segment_rank([0.2, 0.2, 0.1], 1) == 2  # ties: lower index first
    with pytest.raises(ValueError, match=r"segment must be an integer in \[0, 2\]"):
        segment_rank([0.1, 0.2, 0.3], 3)
    with pytest.raises(ValueError, match="non-empty 1D"):
        segment_rank(np.zeros((2, 2)), 0)
