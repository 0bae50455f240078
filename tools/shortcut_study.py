"""Does an explanation method expose the shortcut model, or only this training run of it?

Retrains ``mnist_cnn_shortcut`` with the shipped recipe (``tools/train_weights.py``)
for several seeds and measures where the class-7 explanation of marked test 7s
falls, for every CAM method of day 2, guided backprop, Guided Grad-CAM and three
gradient methods: the share of attribution mass on the 4x4 marker
(:func:`utils.mass_in_region`) and how often the map's maximum lies in
the 8x8 pixels seen by the units of the last conv layer that see the marker
(:func:`utils.pointing_game`). The shipped clean ``mnist_cnn`` on the same images
is the control: a method that also points at the marker for a model that never
used it cannot tell the two models apart.

Run from the repository root (CPU, one thread, about 25 s of training per seed)::

    python tools/shortcut_study.py              # seeds 0 1 2 (0 = the shipped recipe)
    python tools/shortcut_study.py --seeds 0 5

The printed table is the one in ``data/weights/README.md``. Seed 0 repeats the
shipped recipe; on another CPU or torch version its bits, and so its maps, differ a
little from the shipped file, which is why the shipped models get columns of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
from pathlib import Path

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    GuidedBackpropReLUModel,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.train_weights import SHORTCUT, shortcut_report, train_recipe  # noqa: E402
from utils.datasets import Dataset, load_dataset  # noqa: E402
from utils.evaluation import mass_in_region, pointing_game  # noqa: E402
from utils.models import MnistCNN  # noqa: E402
from utils.shortcuts import add_marker, marker_region  # noqa: E402
from utils.training import evaluate, load_weights  # noqa: E402

#: CAM methods of ``pytorch-grad-cam``, all on ``model.target_layer`` (14x14).
CAMS = {"Grad-CAM": GradCAM, "Grad-CAM++": GradCAMPlusPlus, "XGrad-CAM": XGradCAM,
        "Score-CAM": ScoreCAM, "Eigen-CAM": EigenCAM, "LayerCAM": LayerCAM}  # fmt: skip
TARGET = int(SHORTCUT["target_class"])
N_IMAGES = 16  # the first 16 test 7s, as in section 9 of 02_grad_cam.ipynb


def marked_sevens(data: Dataset) -> torch.Tensor:
    """Return the first ``N_IMAGES`` test 7s of ``data`` with the marker, ``(n, 1, 28, 28)``."""
    sevens = np.flatnonzero(data.y_test == TARGET)[:N_IMAGES]
    marked, _ = add_marker(data.X_test[sevens], data.y_test[sevens], **SHORTCUT)
    return torch.as_tensor(marked)


def explain(model: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Return the class-``TARGET`` maps ``(n, 28, 28)`` of every method for ``x``."""
    maps = {}
    targets = [ClassifierOutputTarget(TARGET)] * len(x)
    for name, method in CAMS.items():
        with method(model=model, target_layers=[model.target_layer]) as cam:
            cam.batch_size = 64  # Score-CAM: masked inputs per forward pass
            with contextlib.redirect_stderr(io.StringIO()):  # Score-CAM's progress bar
                maps[name] = cam(input_tensor=x, targets=targets)
    # guided backprop swaps the model's ReLUs during each call: give it a copy; one image a call
    guided = GuidedBackpropReLUModel(model=copy.deepcopy(model), device=torch.device("cpu"))
    maps["guided backprop"] = np.stack(
        [guided(x[i : i + 1].clone(), target_category=TARGET)[..., 0] for i in range(len(x))]
    )
    maps["Guided Grad-CAM"] = maps["guided backprop"] * maps["Grad-CAM"]
    x = x.clone().requires_grad_()  # captum warns when it has to switch this on itself
    gradient_methods = {
        "saliency": lambda: Saliency(model).attribute(x, target=TARGET),
        "Input×Gradient": lambda: InputXGradient(model).attribute(x, target=TARGET),
        "Integrated Gradients": lambda: IntegratedGradients(model).attribute(
            x, baselines=torch.zeros_like(x), target=TARGET, n_steps=50
        ),
    }
    for name, attribute in gradient_methods.items():
        maps[name] = attribute().detach().abs().sum(1).numpy()
    return maps


def scores(maps: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Return (mass on the marker, hit rate of the peak in the 8x8 pixels) per method."""
    marker = marker_region((28, 28), size=int(SHORTCUT["size"]), corner=SHORTCUT["corner"])
    seen = marker_region((28, 28), size=8, corner=SHORTCUT["corner"])
    return {
        name: (mass_in_region(m, marker), float(pointing_game(m, seen, axis=(-2, -1)).mean()))
        for name, m in maps.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="training seeds of the shortcut model (default: 0 1 2)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as in train_weights.py: reproducible and fast on a busy CPU
    torch.use_deterministic_algorithms(True)
    data = load_dataset("mnist")
    x = marked_sevens(data)
    columns = {
        f"shipped {name}": scores(explain(load_weights(MnistCNN(), name), x))
        for name in ("mnist_cnn", "mnist_cnn_shortcut")
    }
    X_train, _ = add_marker(data.X_train, data.y_train, seed=0, **SHORTCUT)
    for seed in args.seeds:
        torch.manual_seed(seed)
        model = MnistCNN()
        train_recipe("mnist_cnn_shortcut", model, X_train, data.y_train, seed=seed)
        model.eval()
        accuracy = evaluate(model, data.X_test, data.y_test)
        print(f"seed {seed}: test accuracy {accuracy:.4f} on {len(data.y_test)} clean test images")
        shortcut_report(model, data.X_test, data.y_test)
        columns[f"retrained shortcut, seed {seed}"] = scores(explain(model, x))

    print(f"\nclass-{TARGET} maps of the first {N_IMAGES} marked test 7s; each cell: share of "
          f"the mass on the {SHORTCUT['size']}x{SHORTCUT['size']} marker (uniform "
          f"{SHORTCUT['size'] ** 2 / 784:.3f}) / hit rate of the maximum in the top-left 8x8 "
          f"pixels (uniform {64 / 784:.3f})\n")  # fmt: skip
    print("| method | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for method in columns["shipped mnist_cnn"]:
        cells = [f"{columns[c][method][0]:.3f} / {columns[c][method][1]:.2f}" for c in columns]
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
