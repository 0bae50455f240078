"""Train, evaluate, save and load the course's PyTorch classifiers.

All functions take the device from the model (``next(model.parameters()).device``)
and accept NumPy arrays or tensors. Weights are stored as safetensors (no pickles).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from ._common import as_path, finite_batch, model_device, real_number
from .data_files import data_path


def _as_tensor(values: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    return finite_batch(values, name).detach().to(dtype)


def _labels(y: Any, n: int, name: str) -> torch.Tensor:
    array = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{name}: expected {n} labels of shape ({n},), got shape {array.shape}")
    if array.dtype.kind not in "iu" and not (
        array.dtype.kind == "f" and np.all(array == np.round(array))
    ):
        raise TypeError(f"{name}: expected integer class labels, got dtype {array.dtype}")
    return torch.as_tensor(array.astype(np.int64))


def _check_label_range(y: torch.Tensor, n_outputs: int, name: str) -> None:
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_outputs):
        raise ValueError(
            f"{name}: labels must lie in [0, {n_outputs - 1}] for a model with {n_outputs} "
            f"outputs, got labels in [{int(y.min())}, {int(y.max())}]"
        )


def _forward_batches(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = model_device(model)
    outputs = [model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def _eval_outputs(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's outputs for ``X`` in batches, in eval mode, without gradients, on the CPU.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _forward_batches(model, X, batch_size)
    finally:
        model.train(was_training)


def train(
    model: nn.Module,
    X_train: Any,
    y_train: Any,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    X_val: Any = None,
    y_val: Any = None,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train a classifier with Adam and cross-entropy, reproducibly.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of inputs to logits ``(batch, n_classes)``; trained in place
        on its own device and left in eval mode.
    X_train : numpy.ndarray or torch.Tensor
        Inputs, first axis = samples (e.g. images ``(n, 1, 28, 28)``).
    y_train : numpy.ndarray or torch.Tensor
        Integer labels ``(n,)`` in ``[0, n_classes)``.
    epochs : int
        Passes over the training data.
    batch_size : int, default 64
    lr : float, default 1e-3
        Adam learning rate.
    seed : int, default 0
        Seeds the shuffling (and dropout, if any) inside this call only; the global
        random state is restored afterwards. The model's initial weights are *not*
        set here: seed before creating the model.
    X_val, y_val : array-like, optional
        Validation data; its loss and accuracy are recorded after each epoch.
    weight_decay : float, default 0.0
        Adam weight decay.
    schedule : {"constant", "cosine"}, default "constant"
        Learning rate: constant, or cosine decay from ``lr`` to 0 over all steps.
    augment : callable, optional
        Applied to every training batch (on the model's device), e.g.
        :func:`random_shift`; it may use torch's global RNG, which is seeded here.
    progress : bool, default True
        Show one progress bar over the epochs (also off when ``TQDM_DISABLE=1``).

    Returns
    -------
    dict
        ``"loss"`` and ``"accuracy"`` per epoch (training set, averaged over the
        epoch's batches), ``"val_loss"`` and ``"val_accuracy"`` when validation
        data are given, and ``"time_s"``: the wall time of the whole call.

    Raises
    ------
    ValueError, TypeError
        For empty or non-finite inputs, mismatched lengths, non-integer labels, labels
        out of range or bad hyper-parameters.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +SKIP
    >>> model = MnistCNN()  # doctest: +SKIP
    >>> history = train(model, data.X_train, data.y_train, epochs=3)  # doctest: +SKIP
    """
    device = model_device(model)
    for name, value in [("epochs", epochs), ("batch_size", batch_size)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    real_number(lr, "lr", minimum=0.0, strict=True)
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    X = _as_tensor(X_train, "X_train", torch.float32)
    y = _labels(y_train, len(X), "y_train")
    has_val = X_val is not None or y_val is not None
    if has_val:
        if X_val is None or y_val is None:
            raise ValueError("give both X_val and y_val, or neither")
        Xv = _as_tensor(X_val, "X_val", torch.float32)
        yv = _labels(y_val, len(Xv), "y_val")

    history: dict[str, Any] = {"loss": [], "accuracy": []}
    if has_val:
        history.update(val_loss=[], val_accuracy=[])
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(X) // batch_size)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
                 if schedule == "cosine" else None)  # fmt: skip
    disable = not progress or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
    cuda = [device.index or 0] if device.type == "cuda" else []
    start = time.perf_counter()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        bar = tqdm(range(epochs), desc=f"training {type(model).__name__}", unit="epoch",
                   disable=disable, leave=True)  # fmt: skip
        for _ in bar:
            model.train()
            order = torch.randperm(len(X), generator=generator)
            total_loss, correct = 0.0, 0
            for i in range(0, len(X), batch_size):
                idx = order[i : i + batch_size]
                xb, yb = X[idx].to(device), y[idx].to(device)
                if augment is not None:
                    xb = augment(xb)
                logits = model(xb)
                if i == 0:
                    _check_label_range(y, logits.shape[-1], "y_train")
                loss = loss_fn(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total_loss += loss.item() * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
            history["loss"].append(total_loss / len(X))
            history["accuracy"].append(correct / len(X))
            postfix = {"loss": f"{history['loss'][-1]:.3f}", "acc": f"{correct / len(X):.3f}"}
            if has_val:
                model.eval()
                with torch.no_grad():
                    logits = _forward_batches(model, Xv, 256)
                _check_label_range(yv, logits.shape[-1], "y_val")
                history["val_loss"].append(float(loss_fn(logits, yv)))
                history["val_accuracy"].append(float((logits.argmax(1) == yv).float().mean()))
                postfix["val_acc"] = f"{history['val_accuracy'][-1]:.3f}"
            bar.set_postfix(postfix)
        bar.close()
    model.eval()
    history["time_s"] = time.perf_counter() - start
    return history


def _train_small_model(build: Callable[[], nn.Module], X: Any, y: Any, seed: int,
                       **recipe: Any) -> tuple[nn.Module, dict[str, list[float]]]:  # fmt: skip
    """Build a model with torch seeded by ``seed`` and :func:`train` it on one thread.

    For the small models the course trains on the fly (the explorer's and the planted
    cases' ECG CNN, a tabular MLP): one thread is faster than several that compete, and
    seeding only the construction leaves the caller's random state alone. ``recipe`` goes
    to :func:`train` (``seed`` and ``progress=False`` are set here). Returns the model in
    eval mode and the training history.
    """
    with torch.random.fork_rng():  # seeds the initial weights, leaves the caller's RNG alone
        torch.manual_seed(seed)
        model = build()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        history = train(model, X, y, seed=seed, progress=False, **recipe)
    finally:
        torch.set_num_threads(threads)
    return model.eval(), history


def random_shift(max_shift: int = 2) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return an augmentation that shifts each image by up to ``max_shift`` pixels.

    The image is moved by a random integer offset in each direction and the
    uncovered border is filled with zeros (no wrap-around). Use it as
    ``train(..., augment=random_shift(2))``.

    Parameters
    ----------
    max_shift : int, default 2
        Largest shift in pixels, ``>= 0``.

    Returns
    -------
    callable
        Maps a batch ``(n, C, H, W)`` to a shifted batch of the same shape.
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative integer, got {max_shift!r}")

    def shift(batch: torch.Tensor) -> torch.Tensor:
        if batch.ndim != 4:
            raise ValueError(f"random_shift expects (n, C, H, W) batches, got {tuple(batch.shape)}")
        if max_shift == 0:
            return batch
        s, (height, width) = max_shift, batch.shape[-2:]
        padded = torch.nn.functional.pad(batch, (s, s, s, s))
        offsets = torch.randint(0, 2 * s + 1, (len(batch), 2)).tolist()
        return torch.stack([padded[i, :, dy : dy + height, dx : dx + width]
                            for i, (dy, dx) in enumerate(offsets)])  # fmt: skip

    return shift


def predict_proba(model: nn.Module, X: Any, batch_size: int = 256) -> np.ndarray:
    """Return class probabilities (softmax of the logits), computed in batches.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits; run in eval mode without gradients (its
        previous train/eval mode is restored).
    X : numpy.ndarray or torch.Tensor
        Inputs, first axis = samples.
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        float32 ``(n, n_classes)``; each row sums to 1.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``X`` not numbers.
    ValueError
        For an empty or non-finite ``X`` or a bad ``batch_size``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    model_device(model)
    X = _as_tensor(X, "X", torch.float32)
    logits = _eval_outputs(model, X, batch_size)
    return torch.softmax(logits, dim=-1).numpy().astype(np.float32)


def evaluate(model: nn.Module, X: Any, y: Any, batch_size: int = 256) -> float:
    """Return the accuracy of ``model`` on ``(X, y)``, a float in [0, 1].

    Raises
    ------
    TypeError
        If ``model`` is not a module, ``X`` not numbers or ``y`` not integer labels.
    ValueError
        For an empty or non-finite ``X``, labels that do not fit, or a bad ``batch_size``.
    """
    X = _as_tensor(X, "X", torch.float32)
    labels = _labels(y, len(X), "y").numpy()
    return float(np.mean(predict_proba(model, X, batch_size).argmax(1) == labels))


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Save the model's ``state_dict`` as a safetensors file (no pickle).

    Parameters
    ----------
    model : torch.nn.Module
    path : str or pathlib.Path
        Target file; should end in ``.safetensors``. Parent folders are created.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``path`` not a path.
    ValueError
        If ``path`` does not end in ``.safetensors``.
    """
    model_device(model)
    path = as_path(path, "path")
    if path.suffix != ".safetensors":
        raise ValueError(f"path should end in '.safetensors', got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "pt", "model": type(model).__name__})
    return path


def _resolve(name_or_path: str | Path) -> Path:
    as_path(name_or_path, "name_or_path")
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".safetensors") or os.sep in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"No weight file at {path}. Give the name of a shipped weight file "
                "(e.g. 'mnist_cnn') or the path of a .safetensors file saved with save_weights."
            )
        return path
    try:
        return data_path(f"weights/{text}.safetensors")
    except KeyError:
        raise FileNotFoundError(
            f"No shipped weights named {text!r}; expected one of {shipped_weights()}, "
            "or the path of your own file ending in '.safetensors'."
        ) from None


def shipped_weights() -> list[str]:
    """Return the names of the weight files shipped in ``data/weights/``."""
    from .data_files import _registry, data_dir

    names = _registry(data_dir())
    return sorted(n[len("weights/") : -len(".safetensors")] for n in names
                  if n.startswith("weights/") and n.endswith(".safetensors"))  # fmt: skip


def load_weights(model: nn.Module, name_or_path: str | Path) -> nn.Module:
    """Load safetensors weights into ``model`` (in place) and return it in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        A model of the architecture the weights were saved from.
    name_or_path : str or pathlib.Path
        Either the name of a shipped file (``"mnist_cnn"`` loads
        ``data/weights/mnist_cnn.safetensors`` after checking its SHA-256) or
        the path of a ``.safetensors`` file.

    Returns
    -------
    torch.nn.Module
        The same model, on its device, in eval mode.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``name_or_path`` not a string or path.
    FileNotFoundError
        If the file or name does not exist.
    ValueError
        If the file does not fit the architecture (the message lists the missing,
        unexpected and differently shaped parameters), or is corrupted.

    Examples
    --------
    >>> model = load_weights(MnistCNN(), "mnist_cnn")  # doctest: +SKIP
    """
    device = model_device(model)
    path = _resolve(name_or_path)
    try:
        state = load_file(str(path), device="cpu")
    except SafetensorError as err:
        raise ValueError(f"{path} is not a valid safetensors file: {err}") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in expected if k in state and state[k].shape != expected[k].shape]  # fmt: skip
    if missing or unexpected or shapes:

        def few(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f", ... ({len(items)} in all)" if len(items) > 5 else "")

        problems = [f"{label}: {few(items)}" for label, items in
                    [("missing in file", missing), ("unexpected in file", unexpected),
                     ("shape mismatch", shapes)] if items]  # fmt: skip
        raise ValueError(
            f"The weights in {path.name} do not fit this {type(model).__name__} "
            f"(wrong architecture or settings?). " + "; ".join(problems)
        )
    model.load_state_dict({k: v.to(device) for k, v in state.items()}, strict=True)
    return model.eval()
