"""Install what a Colab runtime lacks for the course, and nothing else.

Run by the setup cell of every notebook in Colab, once per runtime, from the fetched
course folder. It reads the course's runtime dependencies from ``pyproject.toml``,
installs only those that are missing or too old, and pins every package the runtime
already has at a compatible version (and Colab's torch and Jupyter stack in any case),
so pip never upgrades them as a side effect. On success it writes the marker file
``.colab-setup-done`` that makes later setup cells skip the whole step.

Usage: ``python tools/colab_setup.py [--dry-run]``
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
MARKER = ROOT / ".colab-setup-done"
#: Packages of the Colab runtime that must never change (its kernel stack and its torch).
PROTECTED = ("torch", "torchvision", "torchaudio", "ipykernel", "ipython", "ipywidgets",
             "jupyter-client", "jupyter-core", "jupyter-server", "notebook", "tornado",
             "google-colab")  # fmt: skip


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """Return the course's runtime dependencies (no Jupyter front end, no test tools)."""
    with open(pyproject, "rb") as handle:
        project = tomllib.load(handle)["project"]
    return [Requirement(text) for text in project["dependencies"]]


def installed_version(name: str) -> str | None:
    """Return the installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plan(
    requirements: list[Requirement], installed: dict[str, str | None]
) -> tuple[list[str], list[str]]:
    """Split requirements into what to install and what to pin at the installed version.

    Parameters
    ----------
    requirements : list of packaging.requirements.Requirement
        The course's runtime dependencies.
    installed : dict
        Canonical distribution name -> installed version (None when absent), for every
        requirement and every name in :data:`PROTECTED`.

    Returns
    -------
    missing : list of str
        Requirements that are absent or whose installed version is out of range.
    pins : list of str
        ``name==version`` constraints for everything already present that pip must
        leave as it is.
    """
    missing, pins = [], []
    for req in requirements:
        version = installed.get(canonicalize_name(req.name))
        if version is not None and req.specifier.contains(version, prereleases=True):
            pins.append(f"{req.name}=={version}")
        else:
            missing.append(str(req))
    for name in PROTECTED:
        version = installed.get(canonicalize_name(name))
        if version is not None and not any(p.startswith(f"{name}==") for p in pins):
            pins.append(f"{name}=={version}")
    return missing, pins


def main(argv: list[str]) -> int:
    requirements = runtime_requirements()
    names = {canonicalize_name(n) for n in [*(r.name for r in requirements), *PROTECTED]}
    missing, pins = plan(requirements, {n: installed_version(n) for n in names})
    if not missing:
        print(f"Course setup: all {len(requirements)} course packages are already installed.")
    elif "--dry-run" in argv:
        print("Course setup would install:", " ".join(missing))
    else:
        print(f"Course setup: installing {len(missing)} missing package(s): {' '.join(missing)}")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
            constraints.write("\n".join(pins) + "\n")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing,
                               "-c", constraints.name], capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            print("pip could not install the course packages without changing the runtime's "
                  "own ones (listed in the constraints above).", file=sys.stderr)  # fmt: skip
            return 1
    if "--dry-run" not in argv:
        MARKER.write_text("done\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
