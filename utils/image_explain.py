"""Helpers for perturbation explanations of images: LIME (superpixels) and SHAP maskers.

``lime.lime_image`` (Ribeiro et al., 2016, *"Why Should I Trust You?": Explaining the
Predictions of Any Classifier*, KDD) switches *segments* (superpixels) of an image on
and off, asks the model for class probabilities and fits a weighted ridge model on the
on/off pattern. These helpers fill the gaps between lime and a PyTorch model:

* :func:`lime_predict_fn` turns a model into lime's ``classifier_fn`` (batched, on the
  model's device, without gradients, returning probabilities);
* :func:`grid_segmentation` and :func:`relabel_segments` make segmentations that lime
  can use (lime assumes labels ``0 ... n-1``);
* :func:`segment_weights`, :func:`lime_image_map` and :func:`segment_rank` read an
  explanation back as numbers and as a pixel map;
* :func:`quiet_lime` hides the progress bar that ``explain_instance`` always shows.

Examples
--------
>>> segments = grid_segmentation((28, 28), cell=4)
>>> segments.shape, int(segments.max()) + 1        # 7 x 7 cells
((28, 28), 49)
>>> segment_rank([0.1, -0.5, 0.3], segment=2)      # the largest positive weight
1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import finite_array, integer
from .lime_by_hand import lime_weights
from .pretrained import scale_imagenet_pixels
from .training import predict_proba

#: Names of the built-in conversions of :func:`lime_predict_fn`.
PREPROCESSORS = ("grey", "imagenet")


def _image_hw(image_or_shape: Any) -> tuple[int, int]:
    if isinstance(image_or_shape, (tuple, list)):
        shape = tuple(image_or_shape)
        if not all(isinstance(s, (int, np.integer)) for s in shape):
            raise TypeError(f"shape must contain integers, got {image_or_shape!r}")
    else:
        shape = np.shape(image_or_shape)
    if len(shape) not in (2, 3) or min(shape[:2]) < 1:
        raise ValueError(
            "expected an image (H, W) or (H, W, C), or its shape, with positive sides; "
            f"got shape {shape}"
        )
    return int(shape[0]), int(shape[1])


def grid_segmentation(image_or_shape: Any, cell: int | tuple[int, int]) -> np.ndarray:
    """Cut an image into a regular grid of rectangular segments.

    A grid is the simplest *custom* segmentation for LIME: every segment has the
    same size, and a segment can be aligned with a region of interest (e.g. a 4x4
    marker in the corner of a 28x28 digit is exactly one cell of ``cell=4``).

    Parameters
    ----------
    image_or_shape : array_like or tuple
        An image ``(H, W)`` / ``(H, W, C)`` or its shape.
    cell : int or (int, int)
        Cell height and width in pixels. When a side does not divide the image,
        the last row/column of cells is smaller.

    Returns
    -------
    numpy.ndarray
        int64 ``(H, W)``; cells are numbered ``0 ... n-1`` row by row.

    Examples
    --------
    >>> grid_segmentation((4, 6), cell=(2, 3))
    array([[0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [2, 2, 2, 3, 3, 3],
           [2, 2, 2, 3, 3, 3]])
    """
    height, width = _image_hw(image_or_shape)
    if isinstance(cell, (int, np.integer)):
        cells: tuple = (cell, cell)
    elif isinstance(cell, (tuple, list)):
        cells = tuple(cell)
    else:
        raise TypeError(f"cell must be an int or a pair of ints, got {cell!r}")
    if (len(cells) != 2 or any(isinstance(c, bool) or not isinstance(c, (int, np.integer))
                               for c in cells)):  # fmt: skip
        raise TypeError(f"cell must be an int or a pair of ints, got {cell!r}")
    ch, cw = int(cells[0]), int(cells[1])
    if not (1 <= ch <= height and 1 <= cw <= width):
        raise ValueError(
            f"cell sides must lie in [1, {height}] x [1, {width}] for a {height}x{width} "
            f"image, got {(ch, cw)}"
        )
    n_cols = -(-width // cw)
    rows = np.arange(height) // ch
    cols = np.arange(width) // cw
    return (rows[:, None] * n_cols + cols[None, :]).astype(np.int64)


def relabel_segments(segments: Any) -> np.ndarray:
    """Renumber a segmentation to ``0 ... n-1``, the labels lime expects.

    ``lime_image`` switches segment ``j`` off by comparing ``segments == j`` for
    ``j`` in ``range(n_segments)``. With labels ``1 ... n`` (scikit-image's SLIC
    by default) segment ``n`` is never switched off and column 0 of the
    surrogate is empty, silently. Relabelling avoids that.

    Parameters
    ----------
    segments : array_like of int
        ``(H, W)`` segment labels, any integers.

    Returns
    -------
    numpy.ndarray
        int64 ``(H, W)``, labels ``0 ... n-1`` in the order of the sorted old labels.

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If ``segments`` is not a non-empty 2D label image.
    """
    seg = np.asarray(segments)
    if seg.ndim != 2 or seg.size == 0:
        raise ValueError(f"segments must be a 2D label image (H, W), got shape {seg.shape}")
    if seg.dtype.kind not in "iu":
        raise TypeError(f"segments must hold integer labels, got dtype {seg.dtype}")
    _, inverse = np.unique(seg, return_inverse=True)
    return inverse.reshape(seg.shape).astype(np.int64)


def _as_float_images(images: Any) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(
            "expected RGB images (n, H, W, 3) as lime passes them (channels last), "
            f"got shape {array.shape}"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype.kind != "f":
        raise TypeError(f"expected uint8 or float images, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def grey_batch(images: Any) -> torch.Tensor:
    """Turn lime's RGB images ``(n, H, W, 3)`` of a grey digit into ``(n, 1, H, W)``.

    lime converts a 2D image to RGB by repeating it three times
    (``skimage.color.gray2rgb``); the mean of the channels undoes that. uint8
    images are scaled to [0, 1], float images are kept as they are.
    """
    return torch.from_numpy(np.ascontiguousarray(_as_float_images(images).mean(axis=-1)[:, None]))


def imagenet_batch(images: Any) -> torch.Tensor:
    """Turn RGB images ``(n, 224, 224, 3)`` in [0, 1] (or uint8) into model input.

    The pixel scaling of :func:`utils.pretrained.preprocess_imagenet`
    (:func:`utils.pretrained.scale_imagenet_pixels`), but without resizing or cropping:
    the images must already be the 224x224 crop (e.g.
    ``deprocess_imagenet(preprocess_imagenet(photo))[0]``), so that lime's segments stay
    aligned with what the model sees.
    """
    x = _as_float_images(images) * 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)
    return scale_imagenet_pixels(tensor)


def lime_predict_fn(
    model: nn.Module,
    preprocess: str | Callable[[np.ndarray], torch.Tensor] = "grey",
    batch_size: int = 64,
) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a PyTorch classifier as lime's ``classifier_fn``.

    The returned function takes lime's images ``(n, H, W, 3)`` (NumPy,
    channels last), converts them with ``preprocess``, runs the model in
    batches of ``batch_size`` on the model's device in eval mode without
    gradients, and returns the softmax probabilities ``(n, n_classes)``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits.
    preprocess : {"grey", "imagenet"} or callable, default "grey"
        ``"grey"``: :func:`grey_batch` (MNIST-like models with one channel);
        ``"imagenet"``: :func:`imagenet_batch` (EfficientNet-Lite0 of
        :func:`utils.pretrained.load_imagenet_cnn`); or a function mapping the
        NumPy batch to a float tensor ``(n, C, H, W)``.
    batch_size : int, default 64
        Images per forward pass.

    Returns
    -------
    callable
        ``predict(images) -> numpy.ndarray`` of shape ``(n, n_classes)``, float32.

    Examples
    --------
    >>> predict = lime_predict_fn(model, "grey")  # doctest: +SKIP
    >>> explainer.explain_instance(image, predict, segmentation_fn=...)  # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1):  # fmt: skip
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(preprocess, str):
        if preprocess not in PREPROCESSORS:
            raise ValueError(f"preprocess must be one of {PREPROCESSORS} or a callable, "
                             f"got {preprocess!r}")  # fmt: skip
        convert = grey_batch if preprocess == "grey" else imagenet_batch
    elif callable(preprocess):
        convert = preprocess
    else:
        raise TypeError(
            f"preprocess must be a string or a callable, got {type(preprocess).__name__}"
        )

    def predict(images: np.ndarray) -> np.ndarray:
        x = convert(images)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"preprocess must return a torch.Tensor, got {type(x).__name__}")
        return predict_proba(model, x, batch_size=int(batch_size))

    return predict


def segment_weights(explanation: Any, label: int) -> np.ndarray:
    """Return the LIME weight of every segment as a dense vector.

    Parameters
    ----------
    explanation : lime.lime_image.ImageExplanation
        Result of ``LimeImageExplainer.explain_instance``.
    label : int
        An explained class (one of ``explanation.local_exp``).

    Returns
    -------
    numpy.ndarray
        float64 ``(n_segments,)``; entry ``j`` is the weight of segment ``j``
        (0 for segments outside the ``num_features`` kept by lime).

    Raises
    ------
    TypeError
        If ``explanation`` is not a lime ImageExplanation or ``label`` not an integer.
    ValueError
        If the segments are not labelled ``0 ... n-1`` or ``label`` was not explained.
    """
    segments = getattr(explanation, "segments", None)
    if segments is None or not hasattr(explanation, "local_exp"):
        raise TypeError(
            f"expected a lime ImageExplanation (with .segments and .local_exp), "
            f"got {type(explanation).__name__}"
        )
    n_segments = len(np.unique(segments))
    if int(np.max(segments)) != n_segments - 1 or int(np.min(segments)) != 0:
        raise ValueError(
            f"the explanation's segments are labelled {int(np.min(segments))} ... "
            f"{int(np.max(segments))} for {n_segments} segments; lime needs 0 ... "
            f"{n_segments - 1}: pass a segmentation_fn that returns relabel_segments(...)"
        )
    return lime_weights(explanation, n_segments, label=integer(label, "label"))


def lime_image_map(explanation: Any, label: int) -> np.ndarray:
    """Paint each pixel with the LIME weight of its segment.

    Parameters
    ----------
    explanation : lime.lime_image.ImageExplanation
    label : int
        An explained class.

    Returns
    -------
    numpy.ndarray
        float64 ``(H, W)`` attribution map (signed: > 0 supports ``label``), ready
        for :func:`utils.show_attribution` and
        :func:`utils.mass_in_region`.

    Raises
    ------
    TypeError, ValueError
        As :func:`segment_weights`.
    """
    weights = segment_weights(explanation, label)
    return weights[np.asarray(explanation.segments)]


def segment_rank(weights: Sequence[float] | np.ndarray, segment: int) -> int:
    """Rank of one segment when the weights are sorted from most positive to most negative.

    Parameters
    ----------
    weights : array_like
        One weight per segment, e.g. from :func:`segment_weights`.
    segment : int
        Index of the segment of interest.

    Returns
    -------
    int
        1 when ``segment`` has the largest weight (the strongest evidence *for*
        the class); ties are broken by segment index.

    Raises
    ------
    TypeError
        If ``weights`` are not numbers.
    ValueError
        For empty, non-finite or not 1D weights, or a segment index out of range.
    """
    w = finite_array(weights, "weights")
    if w.ndim != 1 or len(w) == 0:
        raise ValueError(f"weights must be a non-empty 1D array, got shape {w.shape}")
    if isinstance(segment, bool) or not isinstance(segment, (int, np.integer)) \
            or not 0 <= segment < len(w):  # fmt: skip
        raise ValueError(f"segment must be an integer in [0, {len(w) - 1}], got {segment!r}")
    order = np.argsort(-w, kind="stable")
    return int(np.flatnonzero(order == segment)[0]) + 1


@contextlib.contextmanager
def quiet_lime() -> Iterator[None]:
    """Hide the progress bar of ``LimeImageExplainer.explain_instance`` inside a ``with`` block.

    lime 0.2.0.1 wraps its sampling loop in ``tqdm`` without an option to turn
    it off; this swaps lime's ``tqdm`` for a disabled one and restores it on exit.

    Examples
    --------
    >>> with quiet_lime():  # doctest: +SKIP
    ...     explanation = explainer.explain_instance(image, predict, ...)
    """
    import functools

    from lime import lime_image

    original = lime_image.tqdm
    lime_image.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        lime_image.tqdm = original
