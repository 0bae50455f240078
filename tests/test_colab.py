"""The Colab setup cell, simulated: a fake ``google.colab``, a course fetched from a local
bare repository at a tag, and an environment that already has torch and the Jupyter stack."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

from tools import colab_setup
from tools.notebooks import ROOT, setup_source

SITECUSTOMIZE = """\
import sys
import google.colab  # Colab imports it at kernel start; the setup cell looks for it
# Colab has no editable install of the course: drop ours so that `utils` must come
# from the folder the setup cell fetched.
sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")
                 and "editable" not in getattr(f, "__name__", "")]
"""


def test_plan_installs_only_what_is_missing_and_pins_the_rest():
    reqs = [Requirement("torch>=2.3"), Requirement("shap>=0.46"), Requirement("lime>=0.2.0.1"),
            Requirement("numpy>=1.26")]  # fmt: skip
    installed = {"torch": "2.8.0", "shap": "0.44.0", "lime": None, "numpy": "2.0.2",
                 "ipykernel": "6.17.1", "tornado": "6.4.2"}  # fmt: skip
    missing, pins = colab_setup.plan(reqs, installed)
    assert missing == ["shap>=0.46", "lime>=0.2.0.1"]
    assert set(pins) == {"torch==2.8.0", "numpy==2.0.2", "ipykernel==6.17.1", "tornado==6.4.2"}


def test_runtime_requirements_leave_out_the_jupyter_front_end():
    names = {r.name for r in colab_setup.runtime_requirements()}
    assert {"torch", "shap", "captum"} <= names
    assert not names & {"jupyterlab", "ipykernel", "ipywidgets", "notebook"}


def _pip_freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def _run(nb: nbformat.NotebookNode, folder) -> nbformat.NotebookNode:
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})  # fmt: skip
    return client.execute()


@pytest.mark.notebook
def test_colab_setup_cell_fetches_the_ref_once_and_installs_nothing_present(tmp_path, monkeypatch):
    bare = tmp_path / "course.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "tag", "v-test", "HEAD"], check=True)
    tagged = subprocess.run(["git", "-C", str(bare), "rev-parse", "v-test^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)  # `google` stays a namespace package
    (fake / "google" / "colab" / "__init__.py").write_text("")
    (fake / "sitecustomize.py").write_text(SITECUSTOMIZE)
    course = tmp_path / "content" / "xai-course"
    monkeypatch.setenv("PYTHONPATH", str(fake))
    monkeypatch.setenv("XAI_COURSE_DIR", str(course))
    monkeypatch.setenv("XAI_STRICT_CHECKS", "1")

    source = ROOT / "xai-for-1d-data" / "02_transformers_and_self_attention.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[1].source = setup_source(source, url=f"file://{bare}", ref="v-test")
    nb.cells.append(nbformat.v4.new_code_cell("import utils; print('UTILS', utils.__file__)"))
    work = tmp_path / "colab"
    work.mkdir()
    before = _pip_freeze()

    first = _run(nb, work)
    setup_out = "".join(o.get("text", "") for o in first.cells[1].outputs)
    assert "all" in setup_out and "already installed" in setup_out, setup_out
    assert f"UTILS {course}" in first.cells[-1].outputs[0]["text"]
    head = subprocess.run(["git", "-C", str(course), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert head == tagged, "the setup cell must fetch the configured ref, not the moving branch"
    assert (course / ".colab-setup-done").exists()
    assert _pip_freeze() == before, "the setup cell changed installed packages"

    nb2 = nbformat.read(source, as_version=4)  # a second notebook in the same runtime
    nb2.cells[1].source = nb.cells[1].source
    second = _run(nb2, work)
    assert "Course setup" not in "".join(o.get("text", "") for o in second.cells[1].outputs)


@pytest.mark.notebook
def test_colab_setup_cell_fails_with_a_clear_message(tmp_path, monkeypatch):
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text("")
    (fake / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PYTHONPATH", str(fake))
    monkeypatch.setenv("XAI_COURSE_DIR", str(tmp_path / "content" / "xai-course"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        setup_source(url=f"file://{tmp_path}/missing.git", ref="v-none"))]
    with pytest.raises(Exception, match="have the tag or commit v-none"):
        _run(nb, tmp_path)
