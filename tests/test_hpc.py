"""HPC batch runs: the SLURM job script run locally (same entry point), and submit.sh's
sbatch command built from the site config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import ROOT


def _site(tmp_path, **values) -> str:
    config = {"ACCOUNT": "", "PARTITION": "", "RESERVATION": "", "GPUS": "0",
              "CPUS_PER_TASK": "1", "TIME": "00:10:00", "MODULES": "", "VENV": "",
              "OUTPUT_DIR": str(tmp_path / "runs")} | values  # fmt: skip
    path = tmp_path / "site.env"
    path.write_text("".join(f'{k}="{v}"\n' for k, v in config.items()))
    return str(path)


@pytest.mark.notebook
def test_batch_job_keeps_outputs_and_survives_a_failing_notebook(tmp_path):
    broken = tmp_path / "99_broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('before the error')"),
                nbformat.v4.new_code_cell("1 / 0"), nbformat.v4.new_code_cell("print('never')")]
    nbformat.write(nb, broken)
    good = "xai-for-1d-data/02_transformers_and_self_attention.ipynb"
    # the job's `python` is this interpreter's, even when the environment is not activated
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = os.environ | {"XAI_SITE_ENV": _site(tmp_path), "PATH": path}
    env.pop("SLURM_SUBMIT_DIR", None)
    proc = subprocess.run(["bash", "hpc/run_notebooks.sbatch", str(broken), good], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one notebook failed
    assert "threads: 1" in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    timings = (run / "timings.md").read_text()
    assert "`99_broken.ipynb` | failed: " in timings and "ZeroDivisionError" in timings
    assert f"`{good}` | " in timings and "Total: 1 notebooks" in timings
    executed = nbformat.read(run / good, as_version=4)
    assert all(c.outputs for c in executed.cells[1:] if c.cell_type == "code" and c.source)
    partial = nbformat.read(run / "99_broken.ipynb", as_version=4)
    assert partial.cells[0].outputs[0]["text"] == "before the error\n"
    assert partial.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert partial.cells[2].outputs == []


def test_submit_builds_sbatch_from_the_site_config(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "sbatch").chmod(0o755)
    site = _site(tmp_path, ACCOUNT="training2601", PARTITION="booster", RESERVATION="xai",
                 GPUS="4", CPUS_PER_TASK="32")  # fmt: skip
    env = os.environ | {"XAI_SITE_ENV": site, "PATH": f"{fake}:{os.environ['PATH']}"}
    command = ["bash", "hpc/submit.sh", "--mail-type=END", "xai-for-image-data"]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    args = proc.stdout.split("\n")
    for expected in ("--account=training2601", "--partition=booster", "--reservation=xai",
                     "--gpus=4", "--cpus-per-task=32", "--mail-type=END"):  # fmt: skip
        assert expected in args
    assert args[-3:-1] == ["hpc/run_notebooks.sbatch", "xai-for-image-data"]
    empty = subprocess.run(["bash", "hpc/submit.sh"], cwd=ROOT, env=env, capture_output=True,
                           text=True)  # fmt: skip
    assert empty.returncode == 2 and "usage" in empty.stderr
