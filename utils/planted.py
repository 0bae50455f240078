"""Three evaluation cases where the truth is planted: tabular, image and ECG.

Scoring an explanation needs to know where the evidence really is. Each function here
returns a :class:`PlantedCase`: a trained model, inputs that all carry a planted piece
of evidence the model is known to use, the class to explain, a boolean map of where the
evidence lies (``truth``) and one of where nothing is planted (``control``, a
class-independent region of the same size: the chance level of a localisation score),
together with the "absent" value for deletion and the patch size for perturbation tests
(the evaluation metrics are in :mod:`utils.evaluation`).

=====================  ===============================================================
case                   planted evidence (truth)
=====================  ===============================================================
:func:`tabular_case`   one feature (``"planted"``) decides the label; a correlated
                       distractor (``"correlate"``, r = 0.8) and four noise features
                       carry no extra information; a small MLP trained here
:func:`image_case`     the 4x4 marker in the top-left corner that the shipped
                       ``mnist_cnn_shortcut`` reads as "7" (Lapuschkin et al., 2019,
                       *Unmasking Clever Hans predictors*, Nature Communications),
                       planted into test digits of the other classes
:func:`ecg_case`       the wide QRS complex of simulated abnormal beats
                       (:func:`utils.make_ecg_dataset`), a :class:`utils.SignalCNN`
                       trained here
=====================  ===============================================================

Trained models are cached per process (the tabular MLP trains in well under a second,
the ECG model in a few seconds on one thread), so the same model is returned by every
call: copy it (``copy.deepcopy``) before changing its weights.

Examples
--------
>>> case = tabular_case(n=32)  # doctest: +SKIP
>>> case.inputs.shape, case.truth.shape, case.truth[0].nonzero()[0]  # doctest: +SKIP
(torch.Size([32, 6]), (32, 6), array([2]))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import describe, finite_batch, integer, model_device, one_of, real_number

if TYPE_CHECKING:  # torch is imported where it is used
    import torch
    from torch import nn

#: Feature names of :func:`tabular_case`; the label depends on ``"planted"`` only.
TABULAR_FEATURES = ("noise_a", "correlate", "planted", "noise_b", "noise_c", "noise_d")
#: Column of the planted feature, of the correlated distractor and of the control feature.
PLANTED, CORRELATE, CONTROL = 2, 1, 4
#: Correlation of the distractor with the planted feature.
CORRELATION = 0.8
#: Std of the label noise: ``y = 1[planted + 0.3 * noise > 0]``.
LABEL_NOISE = 0.3
#: Smallest ``|planted|`` of an evaluation row (its evidence is clear).
MIN_EVIDENCE = 0.5
#: The ECG recipe: the explorer's model (``utils.explorer``) on a larger simulated set.
_ECG = {"n_per_class": 200, "epochs": 15, "batch_size": 32, "lr": 1e-2}
#: Shift (samples) of the ECG control interval: from the QRS into the ST/T part of the beat.
ECG_CONTROL_SHIFT = 45


@dataclass(frozen=True)
class PlantedCase:
    """A model, inputs that carry planted evidence, and where that evidence is.

    Attributes
    ----------
    name : str
        ``"tabular"``, ``"image"`` (``"image-clean"`` for the clean model) or ``"ecg"``.
    model : torch.nn.Module
        The classifier (eval mode, returns logits); shared between calls (cached).
    inputs : torch.Tensor
        float32 ``(n, *channels, *spatial)``: tabular ``(n, F)``, image ``(n, 1, 28, 28)``,
        ECG ``(n, 1, T)``; every input carries the planted evidence.
    targets : numpy.ndarray
        int64 ``(n,)``: the class to explain.
    truth : numpy.ndarray
        bool ``(n, *spatial)``: True where the planted evidence lies.
    control : numpy.ndarray
        bool, same shape and same number of True positions per row as ``truth``: a
        class-independent region where nothing is planted.
    baseline : float
        The "absent" value that deletion puts in place of removed positions.
    patch_size : int
        Side of the squares / length of the segments of the perturbation tests.
    accuracy : float
        Test accuracy of ``model``, measured when the case was built.
    description : str
        One paragraph: the data, the model and what is planted.
    """

    name: str
    model: nn.Module
    inputs: torch.Tensor
    targets: np.ndarray
    truth: np.ndarray
    control: np.ndarray
    baseline: float
    patch_size: int
    accuracy: float
    description: str

    def __post_init__(self) -> None:
        """Check the fields: one target, truth row and control row per input."""
        import torch

        for field in ("name", "description"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise TypeError(f"{field}: expected a non-empty string, got "
                                f"{describe(getattr(self, field))}")  # fmt: skip
        model_device(self.model)
        if not isinstance(self.inputs, torch.Tensor) or not self.inputs.is_floating_point():
            raise TypeError(f"inputs: expected a float tensor (n, ...), got "
                            f"{describe(self.inputs)}")  # fmt: skip
        n = len(finite_batch(self.inputs, "inputs"))
        targets = self.targets
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu":
            raise TypeError(f"targets: expected an integer array ({n},), got {describe(targets)}")
        if targets.shape != (n,) or (targets < 0).any():
            raise ValueError(f"targets: expected {n} class indices >= 0, got {describe(targets)}")
        for field in ("truth", "control"):
            mask = getattr(self, field)
            if not isinstance(mask, np.ndarray) or mask.dtype != bool:
                raise TypeError(f"{field}: expected a bool array (n, *spatial), got "
                                f"{describe(mask)}")  # fmt: skip
            spatial = tuple(self.inputs.shape[self.inputs.ndim - mask.ndim + 1:])
            if mask.ndim < 2 or mask.ndim > self.inputs.ndim or mask.shape != (n, *spatial):
                raise ValueError(f"{field}: expected the shape (n, *spatial) of the inputs' "
                                 f"trailing axes, e.g. {(n, *self.inputs.shape[2:])}; got "
                                 f"{mask.shape} for inputs {tuple(self.inputs.shape)}")  # fmt: skip
        if self.control.shape != self.truth.shape:
            raise ValueError(f"control: expected the shape of truth {self.truth.shape}, got "
                             f"{self.control.shape}")  # fmt: skip
        real_number(self.baseline, "baseline")
        integer(self.patch_size, "patch_size", minimum=1)
        real_number(self.accuracy, "accuracy", minimum=0.0, maximum=1.0)

    def __repr__(self) -> str:
        return (f"PlantedCase({self.name!r}, inputs {tuple(self.inputs.shape)}, "
                f"accuracy {self.accuracy:.3f})")  # fmt: skip


def _pick(candidates: np.ndarray, n: int, seed: int, what: str) -> np.ndarray:
    """Draw ``n`` of the candidate indices with ``seed`` (sorted), or say there are too few."""
    if n > len(candidates):
        raise ValueError(f"n: expected at most {len(candidates)} ({what}), got {n}")
    return np.sort(np.random.default_rng(seed).choice(candidates, size=n, replace=False))


# --- tabular --------------------------------------------------------------------------------
def _tabular_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(TABULAR_FEATURES)))
    X[:, CORRELATE] = CORRELATION * X[:, PLANTED] + np.sqrt(1 - CORRELATION**2) * X[:, CORRELATE]
    y = (X[:, PLANTED] + LABEL_NOISE * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


@functools.lru_cache(maxsize=8)
def _tabular_model(seed: int) -> tuple[nn.Module, np.ndarray, np.ndarray, float]:
    """Train the MLP once per seed; return it, the standardised test split and its accuracy."""
    from torch import nn

    from .training import _train_small_model, evaluate

    X, y = _tabular_data(3000, seed)
    X_train, X_test, y_train, y_test = X[:2000], X[2000:], y[:2000], y[2000:]
    mean, std = X_train.mean(0), X_train.std(0)
    X_train = ((X_train - mean) / std).astype(np.float32)
    X_test = ((X_test - mean) / std).astype(np.float32)
    width = len(TABULAR_FEATURES)
    model, _ = _train_small_model(
        lambda: nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 2)),
        X_train, y_train, seed, epochs=20, batch_size=64, lr=1e-2, schedule="cosine")  # fmt: skip
    return model, X_test, y_test, evaluate(model, X_test, y_test)


def tabular_case(n: int = 64, seed: int = 0) -> PlantedCase:
    """A tabular model whose label depends on one planted feature only.

    Six standardised features: ``"planted"`` (column 2) decides the label,
    ``y = 1[planted + 0.3 * noise > 0]`` (Bayes accuracy about 0.91); ``"correlate"``
    (column 1) is correlated with it (r = 0.8) but adds no information about ``y``; the
    other four are independent noise. A small MLP (6-16-2, ReLU) is trained on 2000 rows
    (20 epochs, Adam, one thread, well under a second) and tested on 1000 more. The
    evaluation rows are test rows with clear evidence (``|planted| >= 0.5`` before
    standardising); the class explained is the model's prediction. ``truth`` is the
    planted column, ``control`` the noise column 4; ``baseline`` 0 is the feature mean.

    Parameters
    ----------
    n : int, default 64
        Number of evaluation rows (at most the number of clear test rows, about 600).
    seed : int, default 0
        Seeds the data, the model's initial weights and training, and the choice of rows.

    Returns
    -------
    PlantedCase
        ``inputs`` ``(n, 6)``, maps ``(n, 6)``, ``patch_size`` 1.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer.
    ValueError
        If ``n < 1`` or larger than the clear test rows, or ``seed < 0``.

    Examples
    --------
    >>> case = tabular_case(n=8)  # doctest: +SKIP
    >>> case.truth[0].astype(int)  # doctest: +SKIP
    array([0, 0, 1, 0, 0, 0])
    """
    n = integer(n, "n", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    import torch

    from .training import predict_proba

    model, X_test, _, accuracy = _tabular_model(seed)
    raw, _ = _tabular_data(3000, seed)
    clear = np.flatnonzero(np.abs(raw[2000:, PLANTED]) >= MIN_EVIDENCE)
    rows = _pick(clear, n, seed, "test rows with |planted| >= 0.5")
    inputs = torch.from_numpy(X_test[rows].copy())
    targets = predict_proba(model, inputs).argmax(1).astype(np.int64)
    truth = np.zeros((n, len(TABULAR_FEATURES)), dtype=bool)
    control = truth.copy()
    truth[:, PLANTED], control[:, CONTROL] = True, True
    description = (
        f"Tabular: 6 standardised features {list(TABULAR_FEATURES)}; the label is "
        f"1[planted + {LABEL_NOISE} * noise > 0], 'correlate' has r = {CORRELATION} with "
        f"'planted' but no information of its own. MLP 6-16-2 trained on 2000 rows (seed "
        f"{seed}), test accuracy {accuracy:.3f} on 1000 rows. Explained: the predicted class "
        f"of {n} test rows with |planted| >= {MIN_EVIDENCE}. Truth: column {PLANTED} "
        f"('planted'); control: column {CONTROL} ('{TABULAR_FEATURES[CONTROL]}').")
    return PlantedCase("tabular", model, inputs, targets, truth, control, 0.0, 1,
                       float(accuracy), description)  # fmt: skip


# --- image ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _mnist_model(name: str) -> tuple[nn.Module, float]:
    from .datasets import load_dataset
    from .models import MnistCNN
    from .training import evaluate, load_weights

    model = load_weights(MnistCNN(), name).eval()
    data = load_dataset("mnist")
    return model, evaluate(model, data.X_test, data.y_test)


@functools.lru_cache(maxsize=1)
def _marked_digits() -> tuple[np.ndarray, np.ndarray]:
    """Marked MNIST test digits (read-only) and the rows of other classes called 7."""
    from .datasets import load_dataset
    from .shortcuts import add_marker
    from .training import predict_proba

    data = load_dataset("mnist")
    shortcut, _ = _mnist_model("mnist_cnn_shortcut")
    marked, _ = add_marker(data.X_test, data.y_test, target_class=None)
    called_seven = predict_proba(shortcut, marked).argmax(1) == 7
    marked.setflags(write=False)
    return marked, np.flatnonzero((data.y_test != 7) & called_seven)


def image_case(n: int = 64, seed: int = 0, model: str = "shortcut") -> PlantedCase:
    """Marked MNIST test digits and the shortcut model that reads the marker as "7".

    The shipped ``mnist_cnn_shortcut`` saw a white 4x4 square in the top-left corner on
    every training 7 and learned the square instead of the digit. The evaluation inputs
    are test digits of the *other* classes with that marker planted (the defaults of
    :func:`utils.shortcuts.add_marker`) that the shortcut model calls "7": their only
    evidence for class 7 is the marker. The class explained is 7; ``truth`` is the
    marker square, ``control`` the same square in the top-right corner (empty in
    MNIST digits); ``baseline`` 0 is the black background.

    Parameters
    ----------
    n : int, default 64
        Number of inputs (at most the marked test digits called 7, about 1100).
    seed : int, default 0
        Chooses the inputs.
    model : {"shortcut", "clean"}, default "shortcut"
        ``"clean"`` returns the same inputs, targets and regions with the shipped clean
        ``mnist_cnn``, which ignores the marker: the control on the model side.

    Returns
    -------
    PlantedCase
        ``inputs`` ``(n, 1, 28, 28)`` in [0, 1], maps ``(n, 28, 28)``, ``patch_size`` 2.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer or ``model`` not a string.
    ValueError
        If ``n`` is out of range, ``seed < 0`` or ``model`` unknown.

    Examples
    --------
    >>> case = image_case(n=8)  # doctest: +SKIP
    >>> case.truth.shape, int(case.truth[0].sum()), set(case.targets)  # doctest: +SKIP
    ((8, 28, 28), 16, {7})
    """
    n = integer(n, "n", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    kind = one_of(model, "model", ("shortcut", "clean"))
    import torch

    from .shortcuts import marker_region

    marked, candidates = _marked_digits()
    rows = _pick(candidates, n, seed, "marked test digits of other classes called 7")
    net, accuracy = _mnist_model("mnist_cnn_shortcut" if kind == "shortcut" else "mnist_cnn")
    shape = marked.shape[-2:]
    truth = np.repeat(marker_region(shape, 4, "top-left")[None], n, axis=0)
    control = np.repeat(marker_region(shape, 4, "top-right")[None], n, axis=0)
    weights = "mnist_cnn_shortcut" if kind == "shortcut" else "mnist_cnn (clean: the control)"
    description = (
        f"Image: {n} MNIST test digits of classes other than 7 with a white 4x4 marker in "
        f"the top-left corner, all called 7 by mnist_cnn_shortcut (trained with the marker "
        f"on every 7). Model: {weights}, test accuracy {accuracy:.4f} on "
        f"{len(marked)} clean test digits. Explained: class 7. Truth: the marker; "
        "control: the same square in the top-right corner.")
    inputs = torch.from_numpy(np.ascontiguousarray(marked[rows], dtype=np.float32))
    return PlantedCase("image" if kind == "shortcut" else "image-clean", net, inputs,
                       np.full(n, 7, dtype=np.int64), truth, control, 0.0, 2,
                       float(accuracy), description)  # fmt: skip


# --- ECG ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _ecg(seed: int) -> tuple[Any, nn.Module, float]:
    """Simulate the ECG data and train the SignalCNN once per seed."""
    from .ecg import make_ecg_dataset
    from .models import SignalCNN
    from .training import _train_small_model, evaluate

    ecg = make_ecg_dataset(n_per_class=_ECG["n_per_class"], abnormality="wide_qrs", seed=seed)
    d = ecg.dataset
    recipe = {k: v for k, v in _ECG.items() if k != "n_per_class"}
    model, _ = _train_small_model(lambda: SignalCNN(n_classes=2), d.X_train, d.y_train, seed,
                                  schedule="cosine", **recipe)  # fmt: skip
    return ecg, model, evaluate(model, d.X_test, d.y_test)


def ecg_case(n: int = 32, seed: int = 0) -> PlantedCase:
    """Simulated heartbeats with a planted wide QRS complex and a 1D CNN that detects it.

    :func:`utils.make_ecg_dataset` (``"wide_qrs"``, 200 beats per class, 100 samples at
    100 Hz) records where the abnormality was planted; a :class:`utils.SignalCNN` is
    trained on the training split as in the explorer (15 epochs, batch 32, lr 1e-2,
    cosine schedule, one thread, a few seconds). The evaluation inputs are abnormal test
    beats the model calls abnormal; the class explained is 1 (wide QRS). ``truth`` is the
    planted interval, ``control`` an interval of the same length shifted 45 samples
    later (into the ST segment and T wave; moved back to end at the last sample where
    needed, never overlapping the truth); ``baseline`` 0 mV is a flat line.

    Parameters
    ----------
    n : int, default 32
        Number of beats (at most the abnormal test beats called abnormal, about 50).
    seed : int, default 0
        Seeds the simulation, the model and the choice of beats.

    Returns
    -------
    PlantedCase
        ``inputs`` ``(n, 1, 100)``, maps ``(n, 100)``, ``patch_size`` 5.

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer.
    ValueError
        If ``n`` is out of range or ``seed < 0``.

    Examples
    --------
    >>> case = ecg_case(n=8)  # doctest: +SKIP
    >>> case.inputs.shape, case.truth.shape  # doctest: +SKIP
    (torch.Size([8, 1, 100]), (8, 100))
    """
    n = integer(n, "n", minimum=1)
    seed = integer(seed, "seed", minimum=0)
    import torch

    from .evaluation import interval_mask
    from .training import predict_proba

    ecg, model, accuracy = _ecg(seed)
    d = ecg.dataset
    called = predict_proba(model, d.X_test).argmax(1) == 1
    rows = _pick(np.flatnonzero((d.y_test == 1) & called), n, seed,
                 "abnormal test beats called abnormal")  # fmt: skip
    length = d.X_test.shape[-1]
    starts, stops = ecg.regions_test[rows, 0], ecg.regions_test[rows, 1]
    widths = stops - starts
    shifted = np.minimum(starts + ECG_CONTROL_SHIFT, length - widths)
    if np.any(shifted < stops):
        raise RuntimeError("the ECG control interval overlaps the truth")  # pragma: no cover
    truth = interval_mask(ecg.regions_test[rows], length)
    control = interval_mask(np.stack([shifted, shifted + widths], axis=1), length)
    description = (
        f"ECG: {n} simulated abnormal beats (wide QRS, {length} samples at {ecg.fs:g} Hz) "
        f"called abnormal by a SignalCNN trained on {len(d.y_train)} beats (seed {seed}), "
        f"test accuracy {accuracy:.3f} on {len(d.y_test)} beats. Explained: class 1 (wide "
        f"QRS). Truth: the planted interval ({widths.min()}-{widths.max()} samples); control: "
        f"the same length {ECG_CONTROL_SHIFT} samples later (ST segment, T wave).")
    inputs = torch.from_numpy(np.ascontiguousarray(d.X_test[rows, None], dtype=np.float32))
    return PlantedCase("ecg", model, inputs, np.ones(n, dtype=np.int64), truth, control, 0.0,
                       5, float(accuracy), description)  # fmt: skip
