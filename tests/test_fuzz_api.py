"""Fuzz the whole public API of ``utils``: bad input must get a clear error, every time.

For every function and class in ``utils.__all__`` (found by introspection, so a new public
name is covered as soon as it is exported) the table :func:`valid_calls` holds keyword
arguments of a call that succeeds. Each argument of that call is then replaced, one at a
time, by each bad value of :func:`bad_values`: ``None``, a string, ``-1``, an all-NaN
array, an empty array and arrays of too few / too many axes (derived from the valid
argument, so that only one thing is wrong). Every such call must

* raise ``TypeError``, ``ValueError``, ``KeyError``, ``IndexError`` or ``FileNotFoundError``
  from a ``raise`` statement in ``utils/`` (not from deep inside NumPy, torch or
  matplotlib) with a message that names the parameter or says what was expected, or
* return normally only where the value is genuinely valid: a check returning a falsy
  :class:`utils.CheckResult` ("not yet"), or an entry of :data:`ACCEPTED` with its reason.

``AttributeError``, ``ZeroDivisionError``, ``RuntimeError`` from torch, NumPy floating-point
errors and ``RuntimeWarning`` (both turned into errors here) and silent acceptance of junk
all count as unclear.

Flags (bool options such as ``progress``) are not fuzzed: like Python itself they accept any
truthy or falsy value. ``utils/checks.py`` is fuzzed in a test of its own (the exercise checks
print their verdict, so their output is dropped there).

Measured with this test on the code before the checks were added (commit 479f47b): 1286 of
1684 calls clear (76.4 %) outside ``utils.checks``, 50 of 74 in it; after: 1684 of 1684 and
74 of 74.
"""

from __future__ import annotations

import copy
import inspect
import linecache
import os
import random
import re
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

import utils

UTILS_DIR = Path(utils.__file__).resolve().parent
CLEAR_TYPES = (TypeError, ValueError, KeyError, IndexError, FileNotFoundError)

#: Public names without calls, and why.
EXEMPT: dict[str, str] = {
    "PHOTOS": "a constant (dict of photo names), not callable",
    "answer_key": "hashes str(option) of any object by design: options may be of any type, "
                  "so no value is bad",
}

#: Modules fuzzed in a test of their own.
SEPARATE: tuple[str, ...] = ("checks",)

#: (name, parameter, bad value) -> why returning normally is right.
ACCEPTED: dict[tuple[str, str, str], str] = {
    ("add_marker", "target_class", "None"): "documented: None marks every image",
    ("max_sensitivity", "x", "rank-"): "any batch (n, ...) that explain() accepts",
    ("max_sensitivity", "x", "rank+"): "any batch (n, ...) that explain() accepts",
    ("count_model_calls", "inputs", "rank-"): "any batch (n, ...) that explain() accepts",
    ("count_model_calls", "inputs", "rank+"): "any batch (n, ...) that explain() accepts",
    ("time_per_explanation", "inputs", "rank-"): "any batch (n, ...) that explain() accepts",
    ("time_per_explanation", "inputs", "rank+"): "any batch (n, ...) that explain() accepts",
    ("pgd_attack", "step_size", "None"): "documented: None means 2.5 * eps / steps",
    ("saliency_attack", "step_size", "None"): "documented: None means eps / 20",
    ("attention_rollout", "attentions", "rank-"): "documented: (layers, heads, T, T) unbatched",
    ("check_shapley_values", "background", "rank-"): "documented: one row (M,) is a baseline",
    ("check_true", "condition", "*"): "the notebook's property test: any truthy/falsy value",
    ("CheckResult", "passed", "*"): "a record of bool(passed), built by the checks",
    ("claim", "evidence", "*"): "printed as given",
    ("CheckResult", "name", "str"): "any non-empty name",
    ("claim", "holds", "*"): "the measured condition: any truthy/falsy value",
    ("claim", "key", "str"): "a valid key (letters)",
    ("claim", "statement", "str"): "any non-empty statement",
    ("coalition_values", "background", "rank-"): "documented: one row (M,) is a baseline",
    ("completeness_gap", "baselines", "-1"): "a number is a valid baseline (x' = -1)",
    ("Dataset", "class_names", "empty"): "regression has no classes",
    ("Dataset", "description", "str"): "any description",
    ("Dataset", "feature_names", "empty"): "images, signals and texts have no feature names",
    ("Dataset", "name", "str"): "any non-empty name",
    ("Dataset", "X_test", "nan"): "a table may have missing values (NaN)",
    ("Dataset", "X_test", "rank+"): "4-D inputs are images (n, C, H, W)",
    ("Dataset", "X_test", "rank-"): "1-D inputs of the right length are texts (n,)",
    ("Dataset", "X_train", "nan"): "a table may have missing values (NaN)",
    ("Dataset", "X_train", "rank+"): "4-D inputs are images (n, C, H, W)",
    ("deletion_auc", "baseline", "-1"): "a number is a valid baseline value",
    ("deletion_auc", "steps", "None"): "documented: None deletes one patch per step",
    ("deletion_auc", "target", "None"): "documented: None tracks the predicted class",
    ("deletion_curve", "baseline", "-1"): "a number is a valid baseline value",
    ("deletion_curve", "steps", "None"): "documented: None deletes one patch per step",
    ("deletion_curve", "target", "None"): "documented: None tracks the predicted class",
    ("deletion_curves", "baseline", "-1"): "a number is a valid baseline value",
    ("area_under_curve", "values", "rank+"): "documented: a batch of curves, one per row",
    ("deletion_auc", "attribution", "rank-"): "a map over the image's last axis is valid",
    ("deletion_curve", "attribution", "rank-"): "a map over the image's last axis is valid",
    ("patch_scores", "attribution", "*"): "documented: a map of any number of axes",
    ("tie_break_orders", "scores", "*"): "documented: scores of any shape, flattened",
    ("sparseness", "attribution", "*"): "documented: a map or a batch of any shape",
    ("entropy_complexity", "attribution", "*"): "documented: a map or a batch of any shape",
    ("mass_in_region", "mask", "rank-"): "documented: a mask that broadcasts to the maps",
    ("region_fraction", "mask", "*"): "documented: one region or a batch of any shape",
    ("mass_in_region", "axis", "*"): "documented: None pools, -1 scores each map",
    ("pointing_game", "axis", "*"): "documented: None pools, -1 scores each map",
    ("region_fraction", "axis", "*"): "documented: None pools, -1 scores each map",
    ("sparseness", "axis", "*"): "documented: None pools, -1 scores each map",
    ("entropy_complexity", "axis", "*"): "documented: None pools, -1 scores each map",
    ("insertion_curves", "baseline", "-1"): "a number is a valid baseline value",
    ("insertion_curves", "steps", "None"): "documented: None inserts one patch per step",
    ("insertion_curves", "targets", "None"): "documented: None tracks the predicted classes",
    ("insertion_curves", "targets", "rank-"): "documented: one class (int) for all images",
    ("road_curves", "targets", "None"): "documented: None tracks the predicted classes",
    ("road_curves", "targets", "rank-"): "documented: one class (int) for all inputs",
    ("deletion_curves", "steps", "None"): "documented: None deletes one patch per step",
    ("deletion_curves", "targets", "None"): "documented: None tracks the predicted classes",
    ("deletion_curves", "targets", "rank-"): "documented: one class (int) for all images",
    ("deprocess_imagenet", "x", "rank-"): "documented: one image (3, H, W)",
    ("exact_shapley_values", "background", "rank-"): "documented: one row (M,) is a baseline",
    ("explain_by_hand", "kernel_width", "None"): "documented: None is lime's default width",
    ("explain_selection", "class_idx", "None"): "documented: None explains the predicted class",
    ("explain_selection", "layer", "None"): "documented: None is the method's default layer",
    ("explorer_options", "input_name", "None"): "documented: no input chosen yet",
    ("explorer_options", "model_name", "None"): "documented: no model chosen yet",
    ("get_device", "prefer", "None"): "documented: None picks the best device",
    ("lime_kernel", "distances", "rank+"): "element-wise: any shape of distances is valid",
    ("lime_kernel", "distances", "rank-"): "element-wise: any shape of distances is valid",
    ("LocalSurrogate", "intercept", "-1"): "any finite intercept",
    ("LocalSurrogate", "score", "-1"): "a weighted R^2 can be negative",
    ("plot_attention", "tokens", "None"): "documented: no labels",
    ("plot_importance", "top", "None"): "documented: None shows every feature",
    ("plot_signal_attribution", "fs", "None"): "documented: the x-axis shows samples",
    ("plot_signal_attribution", "highlight", "empty"): "no region to highlight",
    ("plot_signal_attribution", "highlight", "None"): "documented: no region to highlight",
    ("ChannelMask", "channels", "empty"): "documented: no channel masked (the unpruned model)",
    ("feature_map_correlation", "maps", "rank+"): "(n, C, H, W) feature maps are valid",
    ("pruning_curve", "counts", "None"): "documented: None prunes 0, 1, ..., all channels",
    ("top_input_overlap", "maps", "rank+"): "(n, C, H, W) feature maps are valid",
    ("zero_channels", "channels", "empty"): "documented: no channel zeroed (a plain copy)",
    ("PlantedCase", "baseline", "-1"): "any number can be the absent value",
    ("PlantedCase", "description", "str"): "any description",
    ("PlantedCase", "name", "str"): "any non-empty name",
    ("proximity_matrix", "X", "nan"): "scikit-learn forests route missing values (NaN)",
    ("scale_imagenet_pixels", "images", "rank-"): "documented: one image (3, H, W)",
    ("scaled_dot_product_attention", "k", "rank-"): "(tokens, d) broadcasts over the batch",
    ("scaled_dot_product_attention", "q", "rank-"): "(tokens, d) broadcasts over the batch",
    ("shift_images", "images", "rank-"): "documented: grey images (n, H, W) without a channel",
    ("shift_images", "severity", "-1"): "a rotation angle may be negative (clockwise)",
    ("scaled_dot_product_attention", "v", "rank-"): "(tokens, d) broadcasts over the batch",
    ("setup_notebook", "device", "None"): "documented: None picks the best device",
    ("spectral_embedding", "n_components", "None"): "documented: None returns all columns",
    ("spectral_relevance_analysis", "n_clusters", "None"): "documented: None lets the "
                                                           "eigengap choose",
    ("show_attribution", "image", "rank-"): "(1, 28, 28) -> (28, 28): an (H, W) image",
    ("show_attribution_grid", "titles", "None"): "documented: no titles",
    ("upsample_1d", "maps", "rank-"): "documented: one map (T',)",
    ("upsample_cam", "cam", "rank-"): "documented: one map (h, w)",
    ("visualise_feature", "init_value", "None"): "documented: None starts at the low end",
    ("visualise_feature", "layer", "None"): "documented: None maximises a logit",
}


@pytest.fixture(autouse=True)
def _isolated():
    """Undo what setup_notebook/seed_everything change: RNG states, plot style, environment."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    environ = dict(os.environ)
    with matplotlib.rc_context():
        yield
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])
    os.environ.clear()
    os.environ.update(environ)


# --- example objects ----------------------------------------------------------------------
class _Batch(dict):
    """What a Hugging Face tokenizer returns: a dict of tensors with ``.to(device)``."""

    def to(self, device: torch.device) -> _Batch:
        return _Batch({k: v.to(device) for k, v in self.items()})


def _tokenizer(texts: list[str], **_: Any) -> _Batch:
    width = max(len(t) for t in texts)
    ids = torch.tensor([[ord(c) % 50 + 1 for c in t] + [0] * (width - len(t)) for t in texts])
    return _Batch(input_ids=ids, attention_mask=(ids > 0).long())


class _Encoder(nn.Module):
    """A tiny stand-in for a Hugging Face encoder (output with ``last_hidden_state``)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(64, 4)

    def forward(self, input_ids: torch.Tensor, attention_mask: Any = None) -> SimpleNamespace:
        return SimpleNamespace(last_hidden_state=self.embed(input_ids))


def _linear_sum(X: np.ndarray) -> np.ndarray:
    return 3 * X[:, 0] + 2 * X[:, 1] - X[:, 2]


def _two_class_proba(X: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(-np.asarray(X, dtype=float).sum(1)))
    return np.c_[1 - p, p]


@pytest.fixture(scope="module")
def valid_calls(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Keyword arguments of a call that succeeds, per public name (small and fast)."""
    from lime.lime_image import ImageExplanation
    from lime.lime_tabular import LimeTabularExplainer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    mnist = utils.MnistCNN().eval()
    images = rng.random((2, 1, 28, 28)).astype(np.float32)
    signal_model = utils.SignalCNN(n_classes=2).eval()
    signals = rng.standard_normal((2, 32)).astype(np.float32)
    pixel_map = rng.random((28, 28))
    interval_masks = utils.interval_mask(np.array([[3, 9], [4, 10]]), 32)
    tabular = rng.standard_normal((20, 3))
    explainer = LimeTabularExplainer(tabular, discretize_continuous=True, random_state=0)
    tab_explanation = explainer.explain_instance(tabular[0], _two_class_proba, labels=(1,),
                                                 num_features=3, num_samples=50)  # fmt: skip
    segments = utils.grid_segmentation((8, 8), cell=4)
    img_explanation = ImageExplanation(rng.random((8, 8, 3)), segments)
    img_explanation.local_exp = {1: [(0, 0.5), (1, -0.2), (2, 0.1), (3, 0.0)]}
    Z = np.vstack([np.ones(3), rng.integers(0, 2, (7, 3))]).astype(float)
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    forest.fit(tabular, (tabular[:, 0] > 0).astype(int))
    logistic = LogisticRegression().fit(tabular[:, :2], (tabular[:, 0] > 0).astype(int))
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    dataset = utils.Dataset("toy", np.zeros((4, 10)), np.zeros((2, 10)), np.array([0, 1, 0, 1]),
                            np.array([0, 1]), [], ["no", "yes"], "toy signals")  # fmt: skip
    weights_path = tmp_path_factory.mktemp("weights") / "model.safetensors"
    maps = rng.random((2, 4, 4))
    return {
        # attention
        "attention_rollout": {"attentions": torch.softmax(torch.randn(2, 1, 2, 4, 4), -1)},
        "merge_heads": {"x": torch.randn(2, 2, 5, 4)},
        "multi_head_attention": {"x": torch.randn(2, 5, 8), "mha": mha},
        "scaled_dot_product_attention": {"q": torch.randn(1, 3, 4), "k": torch.randn(1, 3, 4),
                                         "v": torch.randn(1, 3, 4)},  # fmt: skip
        "sinusoidal_positional_encoding": {"n_positions": 5, "d_model": 4},
        # distributed (one process: no process group)
        "gather_shards": {"indices": np.arange(5), "results": {"maps": rng.random((5, 2))},
                          "n": 5},  # fmt: skip
        "shard_indices": {"n": 10, "rank": 1, "world_size": 3},
        "split_heads": {"x": torch.randn(2, 5, 8), "num_heads": 2},
        # attacks
        "fgsm_attack": {"model": mnist, "x": images, "y": np.array([1, 2]), "eps": 0.1},
        "max_sensitivity": {"explain": lambda z: z * 2, "x": images, "radius": 0.1,
                            "n_samples": 2, "seed": 0},  # fmt: skip
        "pgd_attack": {"model": mnist, "x": images, "y": np.array([1, 2]), "eps": 0.1,
                       "steps": 2, "step_size": 0.05, "seed": 0},  # fmt: skip
        "saliency_attack": {"model": mnist, "x": images, "region": pixel_map > 0.5,
                            "eps": 0.1, "steps": 1, "step_size": 0.01, "beta": 10.0,
                            "gamma": 1.0},  # fmt: skip
        "softplus_model": {"model": mnist, "beta": 10.0},
        # evaluation: randomisation
        "agreement_matrix": {"maps": {"a": maps, "b": maps[::-1].copy()}},
        "completeness_gap": {"model": nn.Linear(3, 2), "inputs": rng.random((2, 3)),
                             "attributions": rng.random((2, 3)), "baselines": 0.0,
                             "target": 1},  # fmt: skip
        "mean_rank_correlation": {"maps_a": maps, "maps_b": maps[::-1].copy()},
        "randomize_layers": {"model": mnist, "layers": "classifier.2", "seed": 1},
        "rank_correlation": {"map_a": maps[0], "map_b": maps[1]},
        # cam1d
        "library_grad_cam_1d": {"model": signal_model, "target_layer": "features",
                                "x": signals, "class_idx": 1},  # fmt: skip
        # evaluation: localisation, complexity, ROAD
        "interval_mask": {"regions": np.array([[3, 9], [4, 10]]), "length": 32},
        "mass_in_region": {"attribution": signals, "mask": interval_masks, "axis": -1},
        "pointing_game": {"attribution": signals, "mask": interval_masks, "axis": -1},
        "region_fraction": {"mask": interval_masks, "axis": -1},
        "sparseness": {"attribution": maps, "axis": (-2, -1)},
        "entropy_complexity": {"attribution": maps, "axis": (-2, -1)},
        "noisy_linear_imputation": {"inputs": images[:, :, :8, :8],
                                    "masks": (images[:, 0, :8, :8] > 0.5),
                                    "noise": 0.01, "seed": 0},  # fmt: skip
        "road_curves": {"model": signal_model, "inputs": signals[:, None],
                        "attributions": signals, "fractions": (0.2, 0.5), "order": "lerf",
                        "targets": [0, 1], "noise": 0.01, "tie_breaks": 2, "batch_size": 4,
                        "seed": 0},  # fmt: skip
        "signal_cam": {"model": signal_model, "x": signals, "class_idx": 1},
        "upsample_1d": {"maps": signals[:, :8], "length": 32},
        # method_choice
        "count_model_calls": {"explain": lambda z: z * 2, "model": signal_model,
                              "inputs": signals},
        "time_per_explanation": {"explain": lambda z: z * 2, "inputs": signals, "repeats": 1},
        # checks
        "CheckResult": {"name": "answer", "passed": True},
        "check_choice": {"answer": "b", "accepted": ["b"], "options": ["a", "b"]},
        "check_close": {"answer": [0.5, 0.25], "expected": [0.5, 0.25]},
        "check_true": {"condition": True},
        "claim": {"key": "demo", "holds": True, "statement": "a statement",
                  "evidence": "0.9"},  # fmt: skip
        # concepts (fixed arrays: the rng stream of the other examples stays as it was)
        "concept_activation_vector": {"concept": np.eye(4, 3) + 1, "random": np.eye(4, 3),
                                      "C": 1.0},  # fmt: skip
        "concept_sensitivity": {"gradients": np.eye(4, 3), "direction": np.ones(3)},
        "layer_gradients": {"model": mnist, "layer": "features.5", "x": images, "target": 7,
                            "batch_size": 1},  # fmt: skip
        "regression_concept_vector": {"activations": tabular[:10],
                                      "values": _linear_sum(tabular[:10]),
                                      "test_activations": tabular[10:],
                                      "test_values": _linear_sum(tabular[10:]),
                                      "alpha": 1.0},  # fmt: skip
        "stroke_thickness": {"images": images[:, 0], "threshold": 0.5},
        "tcav_p_value": {"concept_scores": [0.9, 1.0, 0.95], "random_scores": [0.2, 0.6, 0.5]},
        "tcav_score": {"gradients": np.eye(4, 3), "direction": np.ones(3)},
        # data_files, datasets, device
        "data_path": {"name": "adult.csv"},
        "sha256sum": {"path": utils.data_dir() / "checksums.sha256"},
        "Dataset": {"name": "toy", "X_train": np.zeros((4, 2)), "X_test": np.zeros((2, 2)),
                    "y_train": np.array([0, 1, 0, 1]), "y_test": np.array([0, 1]),
                    "feature_names": ["a", "b"], "class_names": ["no", "yes"],
                    "description": "a toy set"},  # fmt: skip
        "load_dataset": {"name": "wine", "test_size": 0.25, "seed": 0},
        "load_photo": {"name": "coffee"},
        "device_banner": {"device": torch.device("cpu")},
        "get_device": {"prefer": "cpu"},
        # ecg
        "EcgData": {"dataset": dataset, "regions_train": np.array([[1, 3]] * 4),
                    "regions_test": np.array([[1, 3]] * 2), "fs": 100.0,
                    "abnormality": "wide_qrs"},  # fmt: skip
        "make_ecg_dataset": {"n_per_class": 10, "length": 100, "fs": 100.0,
                             "abnormality": "inverted_t", "seed": 0,
                             "test_size": 0.25},  # fmt: skip
        # planted
        "PlantedCase": {"name": "toy", "model": nn.Linear(3, 2), "inputs": torch.zeros(2, 3),
                        "targets": np.array([0, 1]), "truth": np.eye(2, 3, dtype=bool),
                        "control": np.eye(2, 3, k=1, dtype=bool), "baseline": 0.0,
                        "patch_size": 1, "accuracy": 0.9, "description": "a toy case"},
        "ecg_case": {"n": 4, "seed": 0},
        "image_case": {"n": 4, "seed": 0, "model": "clean"},
        "tabular_case": {"n": 4, "seed": 0},
        # explorer
        "explain_selection": {"input_name": "digit-7", "model_name": "mnist_cnn",
                              "method": "Grad-CAM", "layer": "features.3",
                              "class_idx": 3},  # fmt: skip
        "explorer_options": {"input_name": "digit-7", "model_name": "mnist_cnn"},
        "make_explorer": {"input_name": "digit-7", "model_name": "mnist_cnn",
                          "method": "gradient"},  # fmt: skip
        # fairness
        "disparate_impact_ratio": {"y_pred": [1, 0, 1, 1], "groups": ["a", "a", "b", "b"],
                                   "protected": "a", "reference": "b"},  # fmt: skip
        "selection_rates": {"y_pred": [1, 0, 1, 1], "groups": ["a", "a", "b", "b"]},
        # featvis
        "fourier_scale": {"height": 4, "width": 6, "decay": 1.0},
        "image_to_spectrum": {"images": torch.rand(1, 1, 4, 6), "decay": 1.0},
        "spectrum_to_image": {"spectrum": torch.randn(1, 1, 4, 4, dtype=torch.complex64),
                              "size": (4, 6), "decay": 1.0},  # fmt: skip
        "total_variation": {"images": torch.rand(2, 1, 4, 4)},
        "visualise_feature": {"model": mnist, "target": 3, "layer": "features.0",
                              "shape": (1, 28, 28), "steps": 2, "lr": 0.05, "l2": 0.1,
                              "tv": 0.1, "jitter": 1, "blur_sigma": 0.5, "blur_every": 1,
                              "parametrization": "fourier", "decay": 1.0,
                              "value_range": (0.0, 1.0), "init_value": 0.0, "init_std": 0.01,
                              "seed": 0},  # fmt: skip
        # faithfulness
        "area_under_curve": {"fractions": [0.0, 0.5, 1.0], "values": [1.0, 0.5, 0.0]},
        "deletion_auc": {"model": mnist, "image": images[0], "attribution": pixel_map,
                         "patch_size": 7, "target": 1, "steps": 4, "baseline": 0.0},
        "deletion_curve": {"model": mnist, "image": images[0], "attribution": pixel_map,
                           "patch_size": 7, "target": 1, "steps": 4, "baseline": 0.0,
                           "batch_size": 8},  # fmt: skip
        "deletion_curves": {"model": mnist, "inputs": images,
                            "attributions": np.stack([pixel_map, pixel_map.T]),
                            "patch_size": 7, "targets": [1, 2], "steps": 4, "baseline": 0.0,
                            "batch_size": 8},  # fmt: skip
        "insertion_curves": {"model": mnist, "inputs": images,
                             "attributions": np.stack([pixel_map, pixel_map.T]),
                             "patch_size": 7, "targets": [1, 2], "steps": 4, "baseline": 0.0,
                             "batch_size": 8},  # fmt: skip
        "tie_break_orders": {"scores": [1.0, 1.0, 0.5], "tie_breaks": 2, "seed": 0},
        "patch_scores": {"attribution": maps[0], "patch_size": 2},
        # forest
        "jaccard_matrix": {"labels_a": [0, 0, 1, 1], "labels_b": [1, 1, 1, 0]},
        "matched_jaccard": {"labels_ref": [0, 0, 1, 1], "labels_other": [1, 1, 1, 0]},
        "proximity_matrix": {"model": forest, "X": tabular[:5]},
        # gradcam
        "class_activation_map": {"feature_maps": rng.random((2, 3, 4, 4)),
                                 "fc_weight": rng.random((5, 3)), "class_idx": 1},  # fmt: skip
        "grad_cam": {"model": mnist, "target_layer": "features.3", "x": images, "class_idx": 1},
        "upsample_cam": {"cam": rng.random((2, 7, 7)), "size": (28, 28)},
        # hooks
        "ActivationRecorder": {"model": mnist, "layers": "features.0"},
        "get_layer": {"model": mnist, "layer": "features.3"},
        "layer_names": {"model": mnist},
        "receptive_fields": {"layers": mnist.features},
        "record_activations": {"model": mnist, "layers": ["features.0"], "x": images,
                               "batch_size": 1},  # fmt: skip
        "top_activating": {"model": mnist, "layer": "features.0", "x": images, "channel": 0,
                           "k": 2, "batch_size": 1},  # fmt: skip
        # image_explain
        "grid_segmentation": {"image_or_shape": (8, 8), "cell": 4},
        "lime_image_map": {"explanation": img_explanation, "label": 1},
        "lime_predict_fn": {"model": mnist, "preprocess": "grey", "batch_size": 4},
        "relabel_segments": {"segments": segments + 1},
        "segment_rank": {"weights": [0.1, -0.5, 0.3], "segment": 2},
        "segment_weights": {"explanation": img_explanation, "label": 1},
        # lime_by_hand
        "LocalSurrogate": {"intercept": 0.5, "coefs": np.ones(3), "score": 0.9,
                           "distances": np.zeros(8), "weights": np.ones(8)},  # fmt: skip
        "RecordingPredictFn": {"predict_fn": _linear_sum},
        "default_kernel_width": {"n_features": 4},
        "explain_by_hand": {"Z": Z, "predictions": _linear_sum(Z), "kernel_width": 1.0,
                            "alpha": 1.0},  # fmt: skip
        "fit_local_surrogate": {"Z": Z, "predictions": _linear_sum(Z), "weights": np.ones(8),
                                "alpha": 1.0},  # fmt: skip
        "interpretable_representation": {"explainer": explainer, "samples": tabular[:6]},
        "lime_kernel": {"distances": np.linspace(0, 2, 6), "kernel_width": 1.0},
        "lime_weights": {"explanation": tab_explanation, "n_features": 3, "label": 1},
        "top_k_stability": {"weight_vectors": rng.random((3, 4)), "k": 2},
        "weighted_r2": {"y": _linear_sum(Z), "y_pred": _linear_sum(Z) + 0.1,
                        "weights": np.linspace(1, 2, 8)},  # fmt: skip
        # lrp
        "efficientnet_lite_canonizers": {"model": utils.load_imagenet_cnn()},
        "lrp_epsilon_by_hand": {"model": nn.Sequential(nn.Linear(3, 4), nn.ReLU(),
                                                       nn.Linear(4, 2)),
                                "x": rng.random((2, 3)), "target": 1,
                                "epsilon": 0.1},  # fmt: skip
        "lrp_relevance": {"model": mnist, "x": images, "target": 1,
                          "composite": __import__("zennit.composites").composites
                          .EpsilonPlusFlat(), "layers": ["classifier.2"]},  # fmt: skip
        # models
        "MnistCNN": {"n_classes": 10},
        "SignalCNN": {"n_classes": 2, "in_channels": 1},
        "TinyViT": {"image_size": 28, "patch_size": 7, "dim": 16, "depth": 1, "heads": 2,
                    "n_classes": 10, "in_channels": 1},  # fmt: skip
        # neurons
        "max_activating_tokens": {"activations": rng.random((6, 3)), "k": 2},
        "neuron_token_stats": {"top_token_ids": np.array([[3, 3, 5], [1, 2, 1]])},
        "token_activations": {"tokenizer": _tokenizer, "model": _Encoder(),
                              "texts": ["a gem", "dull film"], "layers": ["embed"],
                              "batch_size": 1, "max_length": 8},  # fmt: skip
        # plotting
        "plot_attention": {"matrix": rng.random((4, 4)), "tokens": ["a", "b", "c", "d"]},
        "plot_importance": {"values": np.array([0.3, -0.1, 0.2]), "names": ["a", "b", "c"],
                            "top": 2},  # fmt: skip
        "plot_signal_attribution": {"signal": signals[0], "attribution": signals[1],
                                    "fs": 100.0, "highlight": [(3, 9)]},  # fmt: skip
        "plot_token_attribution": {"tokens": ["a", "good", "film"],
                                   "scores": np.array([0.1, 0.8, -0.2])},  # fmt: skip
        "show_attribution": {"image": images[0], "attribution": pixel_map, "alpha": 0.5},
        "show_attribution_grid": {"images": [images[0, 0], images[1, 0]],
                                  "attributions": np.stack([np.stack([pixel_map] * 2)]),
                                  "titles": ["a", "b"]},  # fmt: skip
        # pretrained
        "deprocess_imagenet": {"x": torch.zeros(1, 3, 8, 8)},
        "preprocess_imagenet": {"image": rng.integers(0, 256, (16, 12, 3), dtype=np.uint8),
                                "size": 16},  # fmt: skip
        "scale_imagenet_pixels": {"images": torch.zeros(1, 3, 4, 4)},
        # pruning
        "ChannelMask": {"model": mnist, "layer": "features.3", "channels": [0, 2]},
        "ablation_importance": {"model": mnist, "layer": "features.0", "x": images,
                                "y": np.array([1, 2]), "metric": "accuracy",
                                "batch_size": 1},  # fmt: skip
        "activation_importance": {"model": mnist, "layer": "features.0", "x": images,
                                  "batch_size": 1},  # fmt: skip
        "feature_map_correlation": {"maps": rng.random((3, 2))},
        "pruning_curve": {"model": mnist, "layer": "features.0", "order": [3, 1, 0],
                          "x": images, "y": np.array([1, 2]), "counts": [0, 2],
                          "batch_size": 1},  # fmt: skip
        "taylor_importance": {"model": mnist, "layer": "features.0", "x": images,
                              "y": np.array([1, 2]), "batch_size": 1},  # fmt: skip
        "top_input_overlap": {"maps": rng.random((3, 2)), "k": 2},
        "zero_channels": {"model": mnist, "layer": "features.3", "channels": [0, 2]},
        # session
        "seed_everything": {"seed": 0},
        "setup_notebook": {"seed": 0, "device": "cpu"},
        "check_setup": {"smoke": False, "verbose": False},
        # shapley
        "check_shapley_values": {"values": [3.0, 2.0, -1.0], "predict": _linear_sum,
                                 "x": [1.0, 1.0, 1.0], "background": [[0.0, 0.0, 0.0]]},
        "coalition_values": {"predict": _linear_sum, "x": [1.0, 1.0, 1.0],
                             "background": [[0.0, 0.0, 0.0]]},  # fmt: skip
        "exact_shapley_values": {"predict": _linear_sum, "x": [1.0, 1.0, 1.0],
                                 "background": [[0.0, 0.0, 0.0]]},  # fmt: skip
        # shortcuts
        "add_marker": {"images": rng.random((3, 1, 8, 8)), "labels": np.array([7, 1, 7]),
                       "target_class": 7, "size": 2, "fraction": 1.0},  # fmt: skip
        "marker_region": {"shape": (8, 8), "size": 2, "corner": "top-left"},
        # spray
        "cluster_purity_recall": {"labels": np.array([0, 0, 1, 1, 2, 2]),
                                  "truth": np.array([True, True, False, False, True, False])},
        "eigengap": {"eigenvalues": np.array([0.0, 0.01, 0.5, 0.6, 0.9]), "max_clusters": 3},
        "knn_affinity": {"features": rng.random((6, 3)), "n_neighbors": 2},
        "spectral_embedding": {"affinity": np.kron(np.eye(2), np.ones((3, 3))) + 0.1,
                               "n_components": 2},
        "spectral_relevance_analysis": {"maps": rng.random((6, 4, 4)), "n_clusters": 2,
                                        "n_neighbors": 2, "max_clusters": 3, "pool": 2,
                                        "seed": 0},  # fmt: skip
        "spray_features": {"maps": rng.random((3, 4, 4)), "pool": 2},
        # text
        "MeanPoolClassifier": {"encoder": _Encoder(), "head": nn.Linear(4, 2)},
        "encode_texts": {"tokenizer": _tokenizer, "model": _Encoder(),
                         "texts": ["a gem", "dull film"], "batch_size": 1,
                         "max_length": 8},  # fmt: skip
        "linear_head_from_logistic": {"classifier": logistic},
        "mean_pool": {"hidden": torch.randn(2, 3, 4),
                      "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]])},  # fmt: skip
        # training
        "evaluate": {"model": mnist, "X": images, "y": np.array([1, 2]), "batch_size": 1},
        "load_weights": {"model": utils.MnistCNN(), "name_or_path": "mnist_cnn"},
        "predict_proba": {"model": mnist, "X": images, "batch_size": 1},
        "random_shift": {"max_shift": 2},
        "save_weights": {"model": mnist, "path": weights_path},
        "train": {"model": mnist, "X_train": images, "y_train": np.array([1, 2]), "epochs": 1,
                  "batch_size": 1, "lr": 1e-3, "X_val": images,
                  "y_val": np.array([1, 2])},  # fmt: skip
        # uncertainty
        "DropoutCNN": {"n_classes": 10, "p": 0.25},
        "expected_calibration_error": {"probs": np.array([[0.9, 0.1], [0.3, 0.7]]),
                                       "labels": np.array([0, 0]), "n_bins": 5},  # fmt: skip
        "fit_temperature": {"logits": np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
                            "labels": np.array([0, 1, 1])},  # fmt: skip
        "mc_dropout_predict": {"model": utils.DropoutCNN().eval(), "x": images, "n_samples": 2,
                               "seed": 0, "batch_size": 1},  # fmt: skip
        "mutual_information": {"samples": np.array([[[0.9, 0.1]], [[0.2, 0.8]]])},
        "predictive_entropy": {"probs": np.array([[0.9, 0.1], [0.5, 0.5]])},
        "reliability_bins": {"probs": np.array([[0.9, 0.1], [0.3, 0.7]]),
                             "labels": np.array([0, 0]), "n_bins": 5},  # fmt: skip
        "shift_images": {"images": images, "kind": "rotation", "severity": 15.0, "seed": 0},
    }


# --- bad values ---------------------------------------------------------------------------
def _numeric(value: Any) -> np.ndarray | None:
    """The value as a numeric array when it is an array, tensor or list of numbers."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value):
        try:
            array = np.asarray(value)
        except ValueError:
            return None
        return array if array.dtype.kind in "biuf" and array.ndim >= 1 else None
    return None


def bad_values(valid: Any) -> Iterator[tuple[str, Any]]:
    """Yield (label, value): bad values shaped like ``valid`` where it is an array."""
    yield "None", None
    yield "str", "junk"
    yield "-1", -1
    array = _numeric(valid)
    if array is None:
        yield "nan", np.full(3, np.nan)
        yield "empty", np.empty(0)
        yield "rank", np.zeros((1, 1, 1))
        return
    as_input = torch.as_tensor if isinstance(valid, torch.Tensor) else (lambda a: a)
    fill = array.reshape(-1)[0]
    yield "nan", as_input(np.full(array.shape, np.nan))
    yield "empty", as_input(array[:0])
    yield "rank-", as_input(np.full(array.shape[1:] if array.ndim > 1 else (), fill))
    yield "rank+", as_input(np.full(array.shape + (2, 2), fill))


# --- running one call ---------------------------------------------------------------------
def _parameters(target: Callable) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in inspect.signature(target).parameters.values()
            if p.kind in kinds and p.name != "self"]  # fmt: skip


def _required(target: Callable) -> list[str]:
    return [p.name for p in inspect.signature(target).parameters.values()
            if p.default is inspect.Parameter.empty and p.name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # fmt: skip


def _raise_site(err: BaseException) -> tuple[str, str]:
    """File and source line of the innermost frame of ``err``'s traceback."""
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return frame.filename, (linecache.getline(frame.filename, frame.lineno) or "").strip()


def _verdict(name: str, param: str, outcome: Any, err: BaseException | None) -> str | None:
    """None if the outcome is clear; otherwise why it is not."""
    if err is None:
        if isinstance(outcome, utils.CheckResult) and not outcome:
            return None  # "not yet": the intended answer of a check to a wrong input
        return "returned normally (silently accepted)"
    if not isinstance(err, CLEAR_TYPES):
        return f"{type(err).__name__}: {err}"
    filename, line = _raise_site(err)
    if not Path(filename).resolve().is_relative_to(UTILS_DIR) or not line.startswith("raise"):
        where = Path(filename).name
        return f"{type(err).__name__} from inside {where} ({line[:60]!r}): {err}"
    message = str(err)
    if not (re.search(rf"\b{re.escape(param)}\b", message) or re.search(
            r"\bexpect(ed|s)?\b|\bmust\b", message)):  # fmt: skip
        return f"{type(err).__name__} whose message names neither {param!r} nor what was " \
               f"expected: {message}"
    return None


def _call(target: Callable, kwargs: dict[str, Any]) -> tuple[Any, BaseException | None]:
    try:
        with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise"):
            warnings.simplefilter("error", RuntimeWarning)
            return target(**kwargs), None
    except Exception as err:  # noqa: BLE001 - every exception is judged by _verdict
        return None, err
    finally:
        plt.close("all")


def public_callables() -> list[str]:
    return [n for n in utils.__all__ if n not in EXEMPT
            and (inspect.isfunction(getattr(utils, n)) or inspect.isclass(getattr(utils, n)))]


def _accepted(name: str, param: str, label: str) -> bool:
    return (name, param, label) in ACCEPTED or (name, param, "*") in ACCEPTED


# --- tests --------------------------------------------------------------------------------
def test_every_public_name_has_an_example_or_an_exemption(valid_calls):
    missing = [n for n in public_callables() if n not in valid_calls and _required(getattr(
        utils, n))]  # fmt: skip
    assert not missing, f"add valid example arguments to valid_calls() for {missing}"
    for name, kwargs in valid_calls.items():
        params = _parameters(getattr(utils, name))
        assert set(kwargs) <= set(params), f"{name}: unknown parameters {set(kwargs) - set(params)}"
        assert set(_required(getattr(utils, name))) <= set(kwargs), f"{name}: required missing"
    stale = [k for k in ACCEPTED if k[0] not in valid_calls or k[1] not in valid_calls[k[0]]]
    assert not stale, f"ACCEPTED entries for calls that are not made: {stale}"


def test_the_examples_are_valid(valid_calls, monkeypatch):
    """Every example call succeeds, so a bad value is the only thing wrong in the fuzz."""
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    failures = {}
    for name, kwargs in valid_calls.items():
        outcome, err = _call(getattr(utils, name), copy.deepcopy(kwargs))
        if err is not None:
            failures[name] = f"{type(err).__name__}: {err}"
        elif isinstance(outcome, utils.CheckResult) and not outcome:
            failures[name] = "check failed"
    assert not failures, failures


def _fuzz(valid_calls: dict[str, dict[str, Any]], names: list[str]) -> tuple[int, list[str]]:
    """Call ``names`` with every bad value in turn; return the number of calls and the unclear."""
    unclear, calls = [], 0
    for name in names:
        target = getattr(utils, name)
        example = valid_calls.get(name, {})
        for param in example:
            for label, value in bad_values(example[param]):
                kwargs = copy.deepcopy(example)
                kwargs[param] = value
                outcome, err = _call(target, kwargs)
                calls += 1
                if err is None and _accepted(name, param, label):
                    continue
                problem = _verdict(name, param, outcome, err)
                if problem:
                    unclear.append(f"{name}({param}={label}): {problem}"[:300])
    return calls, unclear


def _report(what: str, calls: int, unclear: list[str], capsys) -> None:
    capsys.readouterr()  # drop what the calls printed
    with capsys.disabled():
        print(f"\nfuzz of {what}: {calls} calls with a bad value, {calls - len(unclear)} clear "
              f"({100 * (calls - len(unclear)) / max(calls, 1):.1f} %)")
    assert not unclear, f"{len(unclear)} unclear outcomes:\n" + "\n".join(unclear)


def test_bad_input_gets_a_clear_error(valid_calls, monkeypatch, capsys):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    monkeypatch.setenv("XAI_DEVICE", "cpu")
    names = [n for n in public_callables() if utils._WHERE[n] not in SEPARATE]
    _report("the utils API", *_fuzz(valid_calls, names), capsys)


def test_bad_input_to_the_checks_gets_a_clear_error(valid_calls, monkeypatch, capsys):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    names = [n for n in public_callables() if utils._WHERE[n] == "checks"]
    _report("utils.checks", *_fuzz(valid_calls, names), capsys)
