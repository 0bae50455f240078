"""Unit tests of device, seeding, checks, data files and dataset loaders."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import utils
from utils import checks, data_files


# --- device -------------------------------------------------------------------------------
def test_device_cpu_forced_and_env(monkeypatch):
    assert utils.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("XAI_DEVICE", "CPU")
    assert utils.get_device() == torch.device("cpu")


def test_device_unknown_name(monkeypatch):
    with pytest.raises(ValueError, match="Unknown device 'tpu'.*expected one of"):
        utils.get_device("tpu")
    monkeypatch.setenv("XAI_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="XAI_DEVICE"):
        utils.get_device()


def test_device_unavailable_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        utils.get_device("cuda")
    assert utils.get_device().type in {"cpu", "mps"}


def test_device_banner_is_one_line(capsys, monkeypatch):
    monkeypatch.delenv("XAI_DEVICE", raising=False)
    utils.get_device(verbose=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Using ")


def test_import_has_no_side_effects():
    import subprocess
    import sys

    code = "import random, numpy as np; import utils; print(random.random(), np.random.rand())"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    assert all(r.returncode == 0 for r in runs)
    assert runs[0].stdout != runs[1].stdout, "importing utils must not seed the RNGs"
    assert runs[0].stderr == ""


def test_import_utils_loads_no_torch():
    """Day-1 notebooks import utils and its tabular helpers without paying for torch."""
    import subprocess
    import sys

    code = (
        "import sys, utils\n"
        "from utils import load_dataset, check_close, exact_shapley_values, lime_weights, claim\n"
        "from utils.plotting import plot_importance\n"
        "assert utils.setup_notebook(seed=0, deep_learning=False) is None\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "utils.MnistCNN\n"
        "assert 'torch' in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_public_names_resolve_and_unknown_names_fail():
    assert sorted(utils.__all__) == sorted(utils._WHERE)
    for name in utils.__all__:
        assert getattr(utils, name) is not None
    assert set(utils.__all__) <= set(dir(utils))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        utils.nope  # noqa: B018


# --- seeding ------------------------------------------------------------------------------
def test_seed_everything_repeats():
    utils.seed_everything(3)
    a = (np.random.rand(), torch.rand(1).item())
    utils.seed_everything(3)
    assert (np.random.rand(), torch.rand(1).item()) == a


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        utils.seed_everything(bad)


def test_setup_notebook_returns_device(capsys):
    assert isinstance(utils.setup_notebook(seed=0, device="cpu"), torch.device)
    assert "Using CPU" in capsys.readouterr().out
    assert utils.setup_notebook(seed=0, deep_learning=False) is None
    assert "no deep-learning framework" in capsys.readouterr().out
    with pytest.raises(TypeError, match="deep_learning"):
        utils.setup_notebook(seed=0, deep_learning="no")
    with pytest.raises(ValueError, match="uses no device"):
        utils.setup_notebook(seed=0, device="cpu", deep_learning=False)


def test_threads_follow_the_slurm_allocation():
    import subprocess
    import sys

    code = "import utils, torch; utils.setup_notebook(0); print(torch.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env | {"SLURM_CPUS_PER_TASK": "1", "XAI_DEVICE": "cpu"})  # fmt: skip
    assert run.stdout.strip().splitlines()[-1] == "1", run.stdout + run.stderr


def test_setup_cell_names_the_kernel_when_the_course_is_missing(tmp_path):
    """A JupyterHub's default kernel gets a message about the course kernel, not a bare error."""
    import subprocess
    import sys

    from tools.notebooks import setup_source

    script = tmp_path / "cell.py"
    script.write_text("import sys\nsys.meta_path = [f for f in sys.meta_path if 'editable' not "
                      "in getattr(f, '__module__', '') + getattr(f, '__name__', '')]\n"
                      + setup_source())  # fmt: skip
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode != 0 and "Change Kernel > 'XAI course'" in run.stderr, run.stderr


# --- checks -------------------------------------------------------------------------------
def test_check_close_right_and_wrong(capsys, monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.check_close([1.0, 2.0], np.array([1.0, 2.0]), name="v")
    assert not utils.check_close([1.0, 2.5], [1.0, 2.0], name="v", hint="look again")
    assert not utils.check_close([1.0], [1.0, 2.0], name="v")
    assert not utils.check_close(None, [1.0], name="v")
    assert not utils.check_close([np.nan], [1.0], name="v")
    out = capsys.readouterr().out
    assert "✅ v: correct." in out and "look again" in out and "shape (2,)" in out
    assert "2.0" not in out.split("look again")[0].split("❌")[1], "must not reveal the answer"


def test_check_close_nan_only_where_the_reference_has_nan(monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.check_close([np.nan, 1.0], [np.nan, 1.0], name="share")
    assert not utils.check_close([0.0, 1.0], [np.nan, 1.0], name="share")
    assert not utils.check_close([np.nan, 1.0], [0.5, 1.0], name="share")
    assert not utils.check_close([np.inf], [1.0], name="share")
    assert utils.check_close([np.inf], [np.inf], name="share")


def test_claim_prints_and_raises_in_strict_mode(capsys, monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.claim("ig-wins", True, "IG beats saliency", "0.2 < 0.4")
    assert not utils.claim("ig-wins", False, "IG beats saliency", "0.5 > 0.4")
    out = capsys.readouterr().out
    assert "✔ claim ig-wins holds: IG beats saliency (0.2 < 0.4)" in out
    assert "does NOT hold" in out and "0.5 > 0.4" in out
    monkeypatch.setenv("XAI_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="claim 'ig-wins' does not hold"):
        utils.claim("ig-wins", False, "IG beats saliency")
    with pytest.raises(ValueError, match="claim key"):
        utils.claim("two words", True, "x")
    with pytest.raises(ValueError, match="statement"):
        utils.claim("k", True, "  ")


def test_check_close_strict_raises(monkeypatch):
    monkeypatch.setenv("XAI_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="check 'v' failed"):
        utils.check_close(1.0, 2.0, name="v")


def test_check_close_accepts_tensors_and_rejects_junk(monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.check_close(torch.tensor([0.5]), [0.5])
    with pytest.raises(TypeError, match="expected numbers"):
        utils.check_close({"a": 1}, [1.0], name="v")
    with pytest.raises(ValueError, match="needs a reference"):
        utils.check_close(1.0, None)


def test_check_choice(capsys, monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.check_choice(" Age ", ["age"], ["age", "sex"])
    assert not utils.check_choice("sex", ["age"], ["age", "sex"])
    assert not utils.check_choice("height", ["age"], ["age", "sex"])
    assert "choose one of" in capsys.readouterr().out
    with pytest.raises(ValueError, match="not among options"):
        utils.check_choice("a", ["c"], ["a", "b"])


def test_check_true(monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    assert utils.check_true(True, "p") and not utils.check_true(False, "p")
    assert checks.STRICT_ENV_VAR == "XAI_STRICT_CHECKS"


# --- data files ---------------------------------------------------------------------------
def test_data_path_verifies(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("x\n1\n")
    digest = data_files.sha256sum(tmp_path / "a.csv")
    (tmp_path / "checksums.sha256").write_text(f"{digest}  a.csv\n{'0' * 64}  gone.csv\n")
    monkeypatch.setenv("XAI_DATA_DIR", str(tmp_path))
    data_files._registry.cache_clear()
    assert utils.data_path("a.csv") == tmp_path / "a.csv"
    with pytest.raises(KeyError, match="not a known data file"):
        utils.data_path("b.csv")
    with pytest.raises(FileNotFoundError, match="gone.csv is missing"):
        utils.data_path("gone.csv")
    (tmp_path / "a.csv").write_text("x\n2\n")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        utils.data_path("a.csv")
    data_files._registry.cache_clear()


def test_crlf_copy_is_named_as_such(tmp_path, monkeypatch):
    """A data file checked out with CRLF line endings gets a message that says so."""
    (tmp_path / "a.csv").write_bytes(b"x\n1\n")
    digest = data_files.sha256sum(tmp_path / "a.csv")
    (tmp_path / "checksums.sha256").write_text(f"{digest}  a.csv\n")
    (tmp_path / "a.csv").write_bytes(b"x\r\n1\r\n")
    monkeypatch.setenv("XAI_DATA_DIR", str(tmp_path))
    data_files._registry.cache_clear()
    with pytest.raises(ValueError, match="line endings were converted to CRLF"):
        utils.data_path("a.csv")
    data_files._registry.cache_clear()


def test_data_files_keep_their_bytes_on_every_platform():
    """.gitattributes turns off end-of-line conversion for every checksummed file."""
    import subprocess

    names = [line.split()[1] for line in (data_files.data_dir() / "checksums.sha256")
             .read_text().splitlines() if line.strip()]  # fmt: skip
    root = data_files.data_dir().parent
    out = subprocess.run(["git", "check-attr", "text", "--", *[f"data/{n}" for n in names]],
                         cwd=root, capture_output=True, text=True)  # fmt: skip
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    assert out.stdout.count(": text: unset") == len(names), out.stdout


def test_missing_checksum_list(tmp_path, monkeypatch):
    monkeypatch.setenv("XAI_DATA_DIR", str(tmp_path))
    data_files._registry.cache_clear()
    with pytest.raises(FileNotFoundError, match="Checksum list"):
        utils.data_path("a.csv")
    data_files._registry.cache_clear()


# --- datasets -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", utils.list_datasets())
def test_every_dataset_loads_offline(name):
    data = utils.load_dataset(name)
    assert len(data.X_train) == len(data.y_train) > 0
    assert len(data.X_test) == len(data.y_test) > 0
    if data.class_names:
        labels = np.concatenate([data.y_train, data.y_test])
        assert set(np.unique(labels)) == set(range(len(data.class_names)))
    assert name in repr(data)


def test_split_is_seeded_and_stratified():
    a, b = utils.load_dataset("adult", seed=1), utils.load_dataset("adult", seed=1)
    assert a.X_train.index.equals(b.X_train.index)
    assert abs(a.y_train.mean() - a.y_test.mean()) < 0.01
    assert not a.X_train.index.equals(utils.load_dataset("adult", seed=2).X_train.index)


def test_tabular_encoding_round_trips():
    data = utils.load_dataset("adult")
    codes = data.X_train["sex"].to_numpy()
    decoded = np.array(data.categories["sex"])[codes]
    raw = data.frame.loc[data.X_train.index, "sex"].to_numpy()
    assert (decoded == raw).all()
    assert all(np.issubdtype(t, np.number) for t in data.X_train.dtypes)
    assert data.sensitive == ["sex", "race"]


def test_image_and_signal_shapes():
    mnist = utils.load_dataset("mnist")
    assert mnist.X_train.shape[1:] == (1, 28, 28) and mnist.X_train.dtype == np.float32
    assert 0.0 <= mnist.X_train.min() and mnist.X_train.max() <= 1.0
    gun = utils.load_dataset("gunpoint")
    assert gun.X_train.shape == (50, 150) and gun.X_test.shape == (150, 150)
    signal, fs = utils.load_mitbih_snippet()
    assert signal.shape == (7500,) and fs == 360.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2])
def test_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        utils.load_dataset("wine", test_size=bad)


def test_unknown_dataset_and_photo():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'.*expected one of"):
        utils.load_dataset("cifar")
    with pytest.raises(ValueError, match="Unknown photo 'dog'"):
        utils.load_photo("dog")


def test_photos_load():
    for name in utils.PHOTOS:
        image = utils.load_photo(name)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


def test_check_choice_with_hidden_keys(monkeypatch):
    monkeypatch.delenv("XAI_STRICT_CHECKS", raising=False)
    key = utils.answer_key("Global")
    assert key == utils.answer_key(" global ") and key.startswith("sha256:")
    assert utils.check_choice("GLOBAL", [key], ["global", "local"])
    assert not utils.check_choice("local", [key], ["global", "local"])
    with pytest.raises(ValueError, match="not among options"):
        utils.check_choice("local", [utils.answer_key("both")], ["global", "local"])


def test_encode_handles_pandas3_string_dtype():
    import pandas as pd

    from utils.datasets import _encode

    frame = pd.DataFrame({"a": pd.array(["y", "x", "y"], dtype="string"), "b": [1, 2, 3]})
    encoded, categories = _encode(frame)
    assert categories == {"a": ["x", "y"]}
    assert encoded["a"].tolist() == [1, 0, 1] and encoded["b"].tolist() == [1, 2, 3]
