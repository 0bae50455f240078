"""Predictive uncertainty: MC dropout, entropy, calibration (ECE), temperature scaling, shifts.

MC dropout: Gal & Ghahramani (2016), *Dropout as a Bayesian Approximation: Representing Model
Uncertainty in Deep Learning*, ICML. Deep ensembles: Lakshminarayanan et al. (2017), *Simple
and Scalable Predictive Uncertainty Estimation using Deep Ensembles*, NeurIPS. ECE and
temperature scaling: Guo et al. (2017), *On Calibration of Modern Neural Networks*, ICML.
Corruptions as in Hendrycks & Dietterich (2019), *Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations*, ICLR.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, finite_array, finite_batch, integer, model_device, real_number

__all__ = ["DropoutCNN", "expected_calibration_error", "fit_temperature", "mc_dropout_predict",
           "mutual_information", "predictive_entropy", "reliability_bins",
           "shift_images"]  # fmt: skip

SHIFTS = ("rotation", "noise", "contrast")


class DropoutCNN(nn.Module):
    """The MNIST CNN of ``utils.MnistCNN`` with batch norm and dropout (for MC dropout).

    Architecture::

        features   [0] Conv2d(1, 16, 3, padding=1), [1] BatchNorm2d, [2] ReLU, [3] MaxPool2d(2)
                   [4] Conv2d(16, 32, 3, padding=1), [5] BatchNorm2d, [6] ReLU, [7] MaxPool2d(2)
        classifier [0] Dropout(p), [1] Linear(1568, 64), [2] ReLU,
                   [3] Dropout(p), [4] Linear(64, n_classes) -> logits

    Batch norm must stay in eval mode at test time (its running statistics), while MC
    dropout switches only the dropout layers to training mode (:func:`mc_dropout_predict`).

    Parameters
    ----------
    n_classes : int, default 10
    p : float, default 0.25
        Dropout probability of both dropout layers, in [0, 1).

    Examples
    --------
    >>> model = DropoutCNN()
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> model.target_layer is model.features[4]
    True
    """

    def __init__(self, n_classes: int = 10, p: float = 0.25) -> None:
        super().__init__()
        self.n_classes = integer(n_classes, "n_classes", minimum=1)
        self.p = real_number(p, "p", 0.0, 1.0)
        if self.p >= 1.0:
            raise ValueError(f"p: expected a dropout probability in [0, 1), got {p!r}")
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Dropout(self.p), nn.Linear(32 * 7 * 7, 64), nn.ReLU(),
            nn.Dropout(self.p), nn.Linear(64, self.n_classes),
        )  # fmt: skip

    @property
    def target_layer(self) -> nn.Conv2d:
        """The last convolution (``features[4]``), the Grad-CAM target."""
        return self.features[4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits ``(n, n_classes)`` of images ``(n, 1, 28, 28)``."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"DropoutCNN expects images (n, 1, 28, 28), got {describe(x)}")
        return self.classifier(self.features(x).flatten(1))


def _probabilities(probs: Any, name: str, ndim: int | tuple[int, ...] = 2) -> np.ndarray:
    array = finite_array(probs, name)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in ndims:
        raise ValueError(f"{name}: expected class probabilities with {' or '.join(map(str, ndims))}"
                         f" axes (..., n_classes), got shape {array.shape}")  # fmt: skip
    if array.shape[-1] < 2:
        raise ValueError(f"{name}: expected at least 2 classes, got shape {array.shape}")
    if (array < 0).any() or not np.allclose(array.sum(-1), 1.0, atol=1e-4):
        raise ValueError(f"{name}: expected probabilities (non-negative, each row summing to 1)")
    return array


def _labels(labels: Any, n: int, n_classes: int) -> np.ndarray:
    array = finite_array(labels, "labels")
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"labels: expected {n} integer labels (n,), got shape {array.shape}")
    if (array != np.round(array)).any() or array.min() < 0 or array.max() >= n_classes:
        raise ValueError(f"labels: expected integers in [0, {n_classes}), got {describe(labels)}")
    return array.astype(np.int64)


def predictive_entropy(probs: Any) -> np.ndarray:
    r"""Entropy :math:`H[p] = -\sum_c p_c \log p_c` (nats) of each row of class probabilities.

    For MC-dropout samples or ensemble members, pass the **mean** over the samples
    (``samples.mean(0)``): that is the entropy of the predictive distribution.

    Parameters
    ----------
    probs : array-like, shape (n, n_classes)

    Returns
    -------
    numpy.ndarray, shape (n,)
        In :math:`[0, \log C]`; 0 for a one-hot row.

    Examples
    --------
    >>> predictive_entropy([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    p = _probabilities(probs, "probs")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return 0.0 - terms.sum(-1)  # 0.0 - x, not -x: no -0.0 for one-hot rows


def mutual_information(samples: Any) -> np.ndarray:
    r"""Mutual information (BALD): entropy of the mean minus the mean entropy of the samples.

    :math:`I = H[\bar p] - \frac{1}{S}\sum_s H[p_s]`, the part of the predictive entropy that
    comes from disagreement between MC-dropout samples or ensemble members ("epistemic").

    Parameters
    ----------
    samples : array-like, shape (n_samples, n, n_classes)

    Returns
    -------
    numpy.ndarray, shape (n,)
        Non-negative (up to rounding); 0 where all samples agree.

    Examples
    --------
    >>> mutual_information([[[1.0, 0.0]], [[0.0, 1.0]]]).round(4)
    array([0.6931])
    """
    s = _probabilities(samples, "samples", 3)
    per_sample = predictive_entropy(s.reshape(-1, s.shape[-1])).reshape(s.shape[:2])
    return np.maximum(predictive_entropy(s.mean(0)) - per_sample.mean(0), 0.0)


def reliability_bins(probs: Any, labels: Any, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence, accuracy and count per equal-width confidence bin (reliability diagram).

    The confidence of a prediction is its largest probability; bin ``b`` holds the
    confidences in ``(b / n_bins, (b + 1) / n_bins]`` (the first bin includes 0).

    Parameters
    ----------
    probs : array-like, shape (n, n_classes)
    labels : array-like of int, shape (n,)
    n_bins : int, default 15

    Returns
    -------
    dict of numpy.ndarray
        ``"lower"``, ``"upper"`` (bin edges), ``"count"``, ``"confidence"`` (mean confidence)
        and ``"accuracy"`` per bin (``nan`` for empty bins).
    """
    p = _probabilities(probs, "probs")
    y = _labels(labels, len(p), p.shape[1])
    n_bins = integer(n_bins, "n_bins", minimum=1)
    confidence, correct = p.max(1), (p.argmax(1) == y).astype(float)
    which = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, n_bins) / count
        accuracy = np.bincount(which, correct, n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {"lower": edges[:-1], "upper": edges[1:], "count": count,
            "confidence": mean_conf, "accuracy": accuracy}  # fmt: skip


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    r"""Expected calibration error (Guo et al., 2017) with equal-width confidence bins.

    :math:`\mathrm{ECE} = \sum_b \frac{|B_b|}{n} \, |\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.

    Parameters
    ----------
    probs : array-like, shape (n, n_classes)
    labels : array-like of int, shape (n,)
    n_bins : int, default 15

    Returns
    -------
    float
        In [0, 1]; 0 for a perfectly calibrated model (on these data).

    Examples
    --------
    >>> round(expected_calibration_error([[0.9, 0.1], [0.8, 0.2]], [0, 1]), 4)
    0.45
    """
    bins = reliability_bins(probs, labels, n_bins)
    used = bins["count"] > 0
    weights = bins["count"][used] / bins["count"].sum()
    return float(np.sum(weights * np.abs(bins["accuracy"][used] - bins["confidence"][used])))


def fit_temperature(logits: Any, labels: Any) -> float:
    r"""The temperature :math:`T` that minimises the NLL of ``softmax(logits / T)`` (Guo et al.).

    Fit it on a held-out calibration split, never on the data you evaluate on. Dividing by
    :math:`T > 0` keeps every argmax, so the accuracy is unchanged.

    Parameters
    ----------
    logits : array-like, shape (n, n_classes)
    labels : array-like of int, shape (n,)

    Returns
    -------
    float
        In [0.01, 100]; > 1 softens an over-confident model.

    Examples
    --------
    >>> fit_temperature([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]], [0, 1, 1]) > 1  # doctest: +SKIP
    True
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    z = finite_array(logits, "logits")
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits: expected (n, n_classes) with at least 2 classes, got shape "
                         f"{z.shape}")  # fmt: skip
    y = _labels(labels, len(z), z.shape[1])

    def nll(log_t: float) -> float:
        return float(-log_softmax(z / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded",
                             options={"xatol": 1e-6})  # fmt: skip
    return float(np.exp(result.x))


def mc_dropout_predict(model: nn.Module, x: Any, n_samples: int = 30, seed: int = 0,
                       batch_size: int = 256) -> np.ndarray:  # fmt: skip
    """Class probabilities of ``n_samples`` MC-dropout passes (Gal & Ghahramani, 2016).

    Only the dropout layers (``nn.Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``) are put
    in training mode; everything else, batch norm included, stays in eval mode (running
    statistics, not the statistics of the batch; they are not updated). The modes of all
    modules are restored afterwards. Sample ``s`` uses the torch random state
    ``manual_seed(seed)`` followed by the ``s`` earlier passes; the global state is restored.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier with at least one dropout layer, returning logits.
    x : array-like or torch.Tensor, shape (n, ...)
    n_samples : int, default 30
    seed : int, default 0
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray, shape (n_samples, n, n_classes)
        Softmax probabilities of every pass (average over axis 0 for the prediction).

    Raises
    ------
    ValueError
        If the model has no dropout layer.
    """
    device = model_device(model)
    x = finite_batch(x, "x")
    n_samples = integer(n_samples, "n_samples", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    batch_size = integer(batch_size, "batch_size", minimum=1)
    dropout_types = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
    dropouts = [m for m in model.modules() if isinstance(m, dropout_types)]
    if not dropouts:
        raise ValueError(f"model: {type(model).__name__} has no dropout layer, so MC dropout "
                         "would repeat one deterministic prediction")  # fmt: skip
    modes = {m: m.training for m in model.modules()}
    out = []
    try:
        model.eval()
        for m in dropouts:
            m.train()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            with torch.no_grad():
                for _ in range(n_samples):
                    out.append(torch.cat([
                        torch.softmax(model(x[i:i + batch_size].to(device)).float(), 1).cpu()
                        for i in range(0, len(x), batch_size)]))  # fmt: skip
    finally:
        for m, mode in modes.items():
            m.train(mode)
    return torch.stack(out).numpy().astype(np.float64)


def shift_images(images: Any, kind: str, severity: float, seed: int = 0) -> np.ndarray:
    """Apply one data shift of a given severity to grey images in [0, 1].

    * ``"rotation"``: rotate by ``severity`` degrees (counter-clockwise, bilinear, same size,
      zero outside; ``scipy.ndimage.rotate``);
    * ``"noise"``: add Gaussian noise of standard deviation ``severity`` (seeded), clip to
      [0, 1];
    * ``"contrast"``: pull every pixel towards its image's mean, ``m + (1 - severity)(x - m)``
      (``severity`` in [0, 1]; 1 gives a flat grey image).

    Severity 0 returns an unchanged copy.

    Parameters
    ----------
    images : array-like, shape (n, 1, H, W) or (n, H, W)
    kind : {"rotation", "noise", "contrast"}
    severity : float
        Degrees (any sign), noise standard deviation (>= 0) or contrast loss in [0, 1].
    seed : int, default 0
        Seeds the noise.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``images``.

    Examples
    --------
    >>> shift_images(np.ones((1, 1, 4, 4)) * 0.5, "contrast", 0.5).max()  # doctest: +SKIP
    0.5
    """
    x = finite_array(images, "images")
    if x.ndim not in (3, 4):
        raise ValueError(f"images: expected (n, 1, H, W) or (n, H, W), got shape {x.shape}")
    if not isinstance(kind, str) or kind not in SHIFTS:
        raise ValueError(f"kind: expected one of {list(SHIFTS)}, got {describe(kind)}")
    lowest = None if kind == "rotation" else 0.0
    severity = real_number(severity, "severity", lowest, 1.0 if kind == "contrast" else None)
    seed = integer(seed, "seed", minimum=0)
    if kind == "rotation":
        from scipy.ndimage import rotate

        out = rotate(x, severity, axes=(-2, -1), reshape=False, order=1, mode="constant")
        out = np.clip(out, 0.0, 1.0) if severity else x.copy()
    elif kind == "noise":
        noise = np.random.default_rng(seed).normal(0.0, 1.0, x.shape)
        out = np.clip(x + severity * noise, 0.0, 1.0)
    else:
        mean = x.mean(axis=(-2, -1), keepdims=True)
        out = mean + (1.0 - severity) * (x - mean)
    return out.astype(np.float32)
