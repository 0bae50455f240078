"""The participants' setup check: it passes here, and each kind of failure gets its fix."""

from __future__ import annotations

import shutil

import pytest

from tools.execute import execute_notebook
from tools.notebooks import ROOT
from utils import setup_check


def _failed(outcomes):
    return [o for o in outcomes if not o.ok]


def test_this_machine_passes_every_check_and_smoke_test():
    outcomes = setup_check.check_setup(verbose=False)
    assert _failed(outcomes) == []
    names = {o.name for o in outcomes}
    assert set(setup_check.SMOKE_TESTS) <= names and "device" in names and "python" in names
    assert sum(o.name.startswith("data/") for o in outcomes) >= 8


def test_a_corrupted_data_file_is_named_with_its_fix(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    shutil.copytree(ROOT / "data", copy)
    (copy / "gunpoint.csv").write_bytes((copy / "gunpoint.csv").read_bytes()[:-10])
    monkeypatch.setenv("XAI_DATA_DIR", str(copy))
    failed = _failed(setup_check.check_data())
    assert [o.name for o in failed] == ["data/gunpoint.csv"]
    assert "checksum" in failed[0].detail.lower() and "git checkout" in failed[0].fix


def test_missing_and_too_old_packages_are_reported(monkeypatch):
    monkeypatch.setattr(setup_check, "_requirements",
                        lambda: ["numpy>=1.0", "numpy>=999", "no-such-package-xai>=1"])
    ok, old, missing = setup_check.check_packages()
    assert ok.ok and not old.ok and not missing.ok
    assert "need numpy>=999" in old.detail and "pip install -U" in old.fix
    assert missing.detail == "missing" and "pip install" in missing.fix


def test_a_gpu_that_torch_cannot_use_is_flagged(monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    monkeypatch.setattr(setup_check.shutil, "which", lambda name: "/usr/bin/" + name)
    outcome = setup_check.check_device()
    assert not outcome.ok and "Which PyTorch" in outcome.fix


def test_a_failing_smoke_test_is_reported_not_raised(monkeypatch, capsys):
    def broken():
        raise ImportError("libcudnn.so.9: cannot open shared object file")

    monkeypatch.setattr(setup_check, "SMOKE_TESTS", {"torch (day 2, 3)": broken})
    outcomes = setup_check.check_setup(verbose=True)
    (failed,) = _failed(outcomes)
    assert failed.name == "torch (day 2, 3)" and "libcudnn" in failed.detail and failed.fix
    printed = capsys.readouterr().out
    assert "✘ torch (day 2, 3)" in printed and "fix:" in printed and "fix the 1 marked" in printed
    assert setup_check.main([]) == 1


def test_the_command_exits_zero_when_ready(capsys):
    assert setup_check.main(["--quick"]) == 0
    assert "ready for the course" in capsys.readouterr().out


def test_bad_arguments_get_a_clear_error():
    with pytest.raises(TypeError, match="smoke"):
        setup_check.check_setup(smoke="yes")


@pytest.mark.notebook
def test_the_setup_check_notebook_runs_and_reports_ready():
    nb, _ = execute_notebook(ROOT / "setup_check.ipynb")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "checks passed: ready for the course." in text and "nothing failed" in text
