"""Check that a machine is ready for the course, with a fix for every failure.

Run it before the course, as a notebook (``setup_check.ipynb``) or as a command::

    python -m utils.setup_check          # exit status 1 if anything failed
    python -m utils.setup_check --quick  # versions, device and data only (no smoke tests)

It checks the Python version, every package the course needs against its version range,
the device torch finds (and whether a GPU is there but unused), the SHA-256 of every
shipped data file, and runs a few-second smoke test of each day's heavy pieces: torch
forward and backward with the shipped MNIST weights, SHAP, LIME, Grad-CAM, the offline
ImageNet CNN and the offline text model.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import sys
import time
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._common import describe

#: The distribution that carries ``utils`` and the course's dependency list.
DISTRIBUTION = "xai-course-utils"
MIN_PYTHON = (3, 11)
FIX_INSTALL = ("install the course in this environment: `pip install -e .` in the course "
               "folder (Colab: run the notebook's first cell; JupyterHub: pick the 'XAI "
               "course' kernel, README section 'HPC node')")


@dataclass
class Outcome:
    """The result of one check: what it checked, whether it passed, and the fix."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0
    fix: str = ""

    def line(self) -> str:
        """One printable line (two with the fix)."""
        mark = "✔" if self.ok else "✘"
        text = f"{mark} {self.name:<34} {self.detail}"
        if self.seconds >= 0.05:
            text += f" ({self.seconds:.1f} s)"
        if not self.ok and self.fix:
            text += f"\n    fix: {self.fix}"
        return text


def _requirements() -> list[str]:
    """The course's runtime requirements (no extras).

    From the checkout's ``pyproject.toml`` (the source of truth, also in Colab where the
    course is on ``sys.path`` but not pip-installed), else from the installed metadata.
    """
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        with open(pyproject, "rb") as handle:
            return list(tomllib.load(handle)["project"]["dependencies"])
    try:
        listed = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [r for r in listed if "extra ==" not in r]


def check_python() -> Outcome:
    """Python is recent enough."""
    found = sys.version_info[:2]
    ok = found >= MIN_PYTHON
    want = ".".join(map(str, MIN_PYTHON))
    return Outcome("python", ok, f"{platform.python_version()} (need ≥ {want})",
                   fix=f"use Python ≥ {want}: a newer module (`module avail python`) or conda")


def check_packages() -> list[Outcome]:
    """Every package the course needs is installed, in its version range."""
    from packaging.requirements import Requirement

    requirements = _requirements()
    if not requirements:
        return [Outcome("course package", False, f"'{DISTRIBUTION}' is not installed",
                        fix=FIX_INSTALL)]
    outcomes = []
    for text in requirements:
        req = Requirement(text)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            outcomes.append(Outcome(req.name, False, "missing",
                                    fix=f"`pip install '{req}'` (or: {FIX_INSTALL})"))
            continue
        ok = req.specifier.contains(version, prereleases=True)
        outcomes.append(Outcome(req.name, ok, f"{version}" + ("" if ok else f", need {req}"),
                                fix=f"`pip install -U '{req}'`"))
    return outcomes


def check_device() -> Outcome:
    """The device torch uses, and a GPU that is present but unusable."""
    import torch

    from .device import get_device

    device = get_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return Outcome("device", True, f"CUDA GPU {name} (torch {torch.__version__})")
    if device.type == "mps":
        return Outcome("device", True, "Apple GPU (MPS)")
    gpu_listed = shutil.which("nvidia-smi") is not None
    if gpu_listed and torch.version.cuda is None:
        return Outcome("device", False, f"CPU, but nvidia-smi lists a GPU and torch "
                       f"{torch.__version__} is a CPU-only build",
                       fix="install a CUDA build of torch (README, section 'Which PyTorch')")
    if gpu_listed:
        return Outcome("device", False, f"CPU, but nvidia-smi lists a GPU that torch "
                       f"{torch.__version__} (CUDA {torch.version.cuda}) cannot use",
                       fix="the driver is older than this torch build needs, or the GPU is "
                           "too old for it: README, section 'Which PyTorch'")
    return Outcome("device", True, "CPU (no GPU found; every notebook runs on a CPU)")


def check_data() -> list[Outcome]:
    """Every shipped data file is present and has its recorded SHA-256."""
    from .data_files import _registry, data_dir, data_path

    folder = data_dir()
    try:
        names = sorted(_registry(folder))
    except FileNotFoundError as err:
        return [Outcome("data", False, str(err), fix="re-clone the course or fix XAI_DATA_DIR")]
    outcomes = []
    for name in names:
        try:
            data_path(name)
            outcomes.append(Outcome(f"data/{name}", True, "checksum ok"))
        except (FileNotFoundError, ValueError) as err:
            outcomes.append(Outcome(f"data/{name}", False, str(err).split("\n")[0],
                                    fix="restore it: `git checkout -- data/` in the course "
                                        "folder, or re-clone (see the message above)"))
    return outcomes


def _smoke_torch() -> str:
    import torch

    from .models import MnistCNN
    from .training import load_weights

    model = load_weights(MnistCNN(), "mnist_cnn").eval()
    x = torch.rand(8, 1, 28, 28, requires_grad=True)
    model(x)[:, 3].sum().backward()
    if not torch.isfinite(x.grad).all():
        raise RuntimeError("the input gradient is not finite")
    return "MNIST CNN forward + backward"


def _smoke_shap() -> str:
    import numpy as np
    import shap
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = X[:, 0] + 2 * X[:, 1]
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    values = shap.TreeExplainer(forest)(X[:5])
    gap = np.abs(values.values.sum(1) + values.base_values - forest.predict(X[:5])).max()
    if gap > 1e-6:
        raise RuntimeError(f"TreeSHAP values do not add up to the prediction (gap {gap:.2g})")
    return f"TreeSHAP, additivity gap {gap:.0e}"


def _smoke_lime() -> str:
    import numpy as np
    from lime.lime_tabular import LimeTabularExplainer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    explainer = LimeTabularExplainer(X, random_state=0)
    explanation = explainer.explain_instance(X[0], model.predict_proba, num_samples=300)
    top = explanation.as_map()[1][0][0]
    if top != 0:
        raise RuntimeError(f"LIME's top feature is {top}, expected 0 on a planted case")
    return "LIME tabular, planted feature found"


def _smoke_grad_cam() -> str:
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from .models import MnistCNN
    from .training import load_weights

    model = load_weights(MnistCNN(), "mnist_cnn").eval()
    layer = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        heat = cam(input_tensor=torch.rand(2, 1, 28, 28), targets=[ClassifierOutputTarget(3)] * 2)
    return f"pytorch-grad-cam, map {tuple(heat.shape[1:])}"


def _smoke_imagenet() -> str:
    import torch

    from .datasets import load_photo
    from .pretrained import imagenet_categories, load_imagenet_cnn, preprocess_imagenet

    model = load_imagenet_cnn()
    with torch.no_grad():
        logits = model(preprocess_imagenet(load_photo("chelsea")))
    label = imagenet_categories()[int(logits.argmax())]
    return f"EfficientNet-Lite0 offline: the cat photo is '{label}'"


def _smoke_text() -> str:
    import torch

    from .pretrained import load_text_encoder

    tokenizer, model = load_text_encoder()
    batch = tokenizer(["a gripping, beautifully acted film"], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    return f"MiniLM offline: {hidden.shape[-1]}-dim token embeddings"


#: Smoke tests: name -> function returning a short description (raises on failure).
SMOKE_TESTS: dict[str, Callable[[], str]] = {
    "torch (day 2, 3)": _smoke_torch,
    "shap (day 1, 2)": _smoke_shap,
    "lime (day 1, 2)": _smoke_lime,
    "grad-cam (day 2)": _smoke_grad_cam,
    "ImageNet CNN (day 2)": _smoke_imagenet,
    "text model (day 3)": _smoke_text,
}


def _run_smoke(name: str, test: Callable[[], str]) -> Outcome:
    start = time.perf_counter()
    try:
        detail = test()
        return Outcome(name, True, detail, time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 - every failure becomes a reported outcome
        where = traceback.extract_tb(err.__traceback__)[-1]
        return Outcome(name, False, f"{type(err).__name__}: {err} (at {where.name})",
                       time.perf_counter() - start,
                       fix="reinstall the package named in the error with `pip install -e .`; "
                           "if it persists, send this output to the instructors")


def check_setup(smoke: bool = True, verbose: bool = True) -> list[Outcome]:
    """Check this machine for the course and print a line (and a fix) per check.

    Parameters
    ----------
    smoke : bool, default True
        Also run the smoke tests (a few seconds each; model loading included).
    verbose : bool, default True
        Print each outcome as it comes and a summary line.

    Returns
    -------
    list of Outcome
        Every check, passed or failed (``[o for o in outcomes if not o.ok]`` are the
        failures, each with its ``fix``).
    """
    if not isinstance(smoke, bool) or not isinstance(verbose, bool):
        raise TypeError(f"smoke, verbose: expected booleans, got {describe(smoke)}, "
                        f"{describe(verbose)}")
    outcomes: list[Outcome] = []

    def add(found: Outcome | list[Outcome]) -> None:
        for outcome in found if isinstance(found, list) else [found]:
            outcomes.append(outcome)
            if verbose:
                print(outcome.line(), flush=True)

    add(check_python())
    add(check_packages())
    packages_ok = all(o.ok for o in outcomes)
    if packages_ok or importlib.util.find_spec("torch") is not None:
        add(_guarded("device", check_device))
    add(check_data())
    if smoke:
        for name, test in SMOKE_TESTS.items():
            add(_run_smoke(name, test))
    if verbose:
        failed = [o for o in outcomes if not o.ok]
        print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} checks passed"
              + (": ready for the course." if not failed else
                 f"; fix the {len(failed)} marked ✘ (each with its fix) and run this again."))
    return outcomes


def _guarded(name: str, check: Callable[[], Outcome]) -> Outcome:
    try:
        return check()
    except Exception as err:  # noqa: BLE001
        return Outcome(name, False, f"{type(err).__name__}: {err}", fix=FIX_INSTALL)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m utils.setup_check [--quick]``; exit status 1 on failure."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m utils.setup_check",
                                     description="Check this machine for the XAI course.")
    parser.add_argument("--quick", action="store_true", help="skip the smoke tests")
    args = parser.parse_args(argv)
    outcomes = check_setup(smoke=not args.quick)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
