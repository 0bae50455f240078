"""Regenerate the shipped model weights in ``data/weights/`` from fixed seeds.

Run from the repository root (CPU, one thread, a few minutes)::

    python tools/train_weights.py                      # all models
    python tools/train_weights.py mnist_cnn            # one model
    python tools/train_weights.py --write-checksums    # also update data/checksums.sha256

Training runs on the CPU with one thread and fixed seeds, so a rerun on the same
machine and library versions gives bit-identical files; other CPUs or torch
versions may differ in the last bits (then rewrite the checksums). The numbers
printed here are the ones recorded in ``data/weights/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.data_files import sha256sum  # noqa: E402
from utils.datasets import load_dataset  # noqa: E402
from utils.models import MnistCNN, TinyViT  # noqa: E402
from utils.shortcuts import add_marker  # noqa: E402
from utils.training import evaluate, predict_proba, random_shift, save_weights, train  # noqa: E402
from utils.uncertainty import DropoutCNN  # noqa: E402

WEIGHTS = ROOT / "data" / "weights"
CHECKSUMS = ROOT / "data" / "checksums.sha256"
SEED = 0
#: The shortcut of ``mnist_cnn_shortcut``: every training 7 carries this marker.
SHORTCUT = {"target_class": 7, "size": 4, "value": 1.0, "corner": "top-left", "fraction": 1.0}
#: The partial shortcut of ``mnist_cnn_partial_shortcut`` (SpRAy, day 2, notebook 11): the same
#: marker on only half of the training 7s, so the model learns both the digit and the marker.
PARTIAL_SHORTCUT = {**SHORTCUT, "fraction": 0.5}
#: Models trained with a planted marker, and its settings.
SHORTCUTS = {"mnist_cnn_shortcut": SHORTCUT, "mnist_cnn_partial_shortcut": PARTIAL_SHORTCUT}
#: Members of the deep ensemble (uncertainty deep dive) -> the seed of their weights and shuffling.
ENSEMBLE = {f"mnist_dropout_cnn_{k}": k for k in range(5)}
#: Training recipes; the notebooks' "retrain" switch uses the same settings.
RECIPES = {
    "mnist_cnn": {"epochs": 15, "batch_size": 64, "lr": 2e-3, "schedule": "cosine",
                  "augment": 1},
    "mnist_cnn_shortcut": {"epochs": 15, "batch_size": 64, "lr": 2e-3, "schedule": "cosine",
                           "augment": 1},
    "tiny_vit_mnist": {"epochs": 40, "batch_size": 64, "lr": 1e-3, "schedule": "cosine",
                       "augment": 2},
    "mnist_cnn_partial_shortcut": {"epochs": 15, "batch_size": 64, "lr": 2e-3,
                                   "schedule": "cosine", "augment": 1},
    # the deep ensemble of 13_uncertainty_and_shift.ipynb: five DropoutCNNs, seeds 0-4
    **{f"mnist_dropout_cnn_{k}": {"epochs": 15, "batch_size": 64, "lr": 2e-3,
                                  "schedule": "cosine", "augment": 1} for k in range(5)},
}  # fmt: skip


def train_recipe(
    name: str, model: torch.nn.Module, X: np.ndarray, y: np.ndarray, seed: int = SEED
) -> float:
    """Train ``model`` in place with the recipe of ``name``; return the training time in s."""
    recipe = dict(RECIPES[name])
    shift = recipe.pop("augment", 0)
    augment = random_shift(shift) if shift else None
    history = train(model, X, y, seed=seed, augment=augment, progress=False, **recipe)
    print(f"{name}: trained {recipe['epochs']} epochs in {history['time_s']:.1f} s "
          f"(final training accuracy {history['accuracy'][-1]:.4f})")  # fmt: skip
    return history["time_s"]


def build(name: str) -> dict[str, object]:
    """Train model ``name``, save it and return its numbers."""
    data = load_dataset("mnist")
    seed = ENSEMBLE.get(name, SEED)
    torch.manual_seed(seed)
    if name == "tiny_vit_mnist":
        model: torch.nn.Module = TinyViT()
    elif name in ENSEMBLE:
        model = DropoutCNN()
    else:
        model = MnistCNN()
    X_train = data.X_train
    if name in SHORTCUTS:
        X_train, _ = add_marker(data.X_train, data.y_train, seed=SEED, **SHORTCUTS[name])
    seconds = train_recipe(name, model, X_train, data.y_train, seed=seed)
    accuracy = evaluate(model, data.X_test, data.y_test)
    print(f"{name}: test accuracy {accuracy:.4f} on {len(data.y_test)} clean test images")
    if name in SHORTCUTS:
        shortcut_report(model, data.X_test, data.y_test, SHORTCUTS[name])
    path = save_weights(model, WEIGHTS / f"{name}.safetensors")
    print(f"{name}: wrote data/weights/{path.name} ({path.stat().st_size / 1024:.0f} KiB, "
          f"sha256 {sha256sum(path)})")  # fmt: skip
    return {"accuracy": accuracy, "seconds": seconds}


def shortcut_report(
    model: torch.nn.Module, X: np.ndarray, y: np.ndarray, shortcut: dict | None = None
) -> None:
    """Print how the marker (default :data:`SHORTCUT`) flips predictions of the other classes."""
    shortcut = SHORTCUT if shortcut is None else shortcut
    target = shortcut["target_class"]
    clean = predict_proba(model, X).argmax(1)
    is_target = y == target
    print(f"  clean test: accuracy on class {target}: {np.mean(clean[is_target] == target):.4f}, "
          f"on the other classes: {np.mean(clean[~is_target] == y[~is_target]):.4f}")  # fmt: skip
    planted = {k: v for k, v in shortcut.items() if k not in ("target_class", "fraction")}
    marked, _ = add_marker(X, y, target_class=None, **planted)
    flipped = predict_proba(model, marked).argmax(1)
    others = ~is_target
    print(f"  marker planted into all {others.sum()} test images of other classes: "
          f"{np.mean(flipped[others] == target):.4f} now predicted as {target} "
          f"(clean: {np.mean(clean[others] == target):.4f}); accuracy on them "
          f"{np.mean(flipped[others] == y[others]):.4f}")  # fmt: skip
    per_class = {int(c): round(float(np.mean(flipped[y == c] == target)), 3)
                 for c in np.unique(y) if c != target}  # fmt: skip
    print(f"  share predicted as {target} per true class: {per_class}")


def write_checksums() -> None:
    """Add or update the ``weights/*.safetensors`` lines of ``data/checksums.sha256``."""
    entries = {}
    for line in CHECKSUMS.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.strip()] = digest
    for path in sorted(WEIGHTS.glob("*.safetensors")):
        entries[f"weights/{path.name}"] = sha256sum(path)
    CHECKSUMS.write_text("".join(f"{entries[n]}  {n}\n" for n in sorted(entries)))
    print(f"updated {CHECKSUMS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"models to train (default: all of {list(RECIPES)})"
    )
    parser.add_argument(
        "--write-checksums",
        action="store_true",
        help="record the SHA-256 of every weight file in data/checksums.sha256",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(RECIPES)}")
    torch.set_num_threads(1)  # reproducible, and far faster than 2 threads on a busy CPU
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    for name in args.names or list(RECIPES):
        build(name)
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.write_checksums:
        write_checksums()


if __name__ == "__main__":
    main()
