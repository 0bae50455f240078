"""Repository hygiene: stripped notebooks, student/solution sync, lint, data, no pickles."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from tools import notebooks
from tools.notebooks import ROOT, all_notebooks, is_student
from utils.data_files import sha256sum

NAME_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


def test_there_are_notebooks():
    assert len(all_notebooks()) >= 3


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: p.name)
def test_notebook_is_stripped_and_well_formed(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert NAME_RE.match(path.name), f"bad notebook name {path.name}"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: run `python tools/notebooks.py sync`"
            )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(
        "[![Open In Colab]"
    )
    assert "# " in nb.cells[0].source and "Time" in nb.cells[0].source, (
        "title cell lacks a time estimate"
    )
    assert nb.cells[1].source == notebooks.setup_source(path), "setup cell is not the generated one"


def test_student_notebooks_are_in_sync():
    stale = notebooks.out_of_sync()
    assert not stale, f"out of sync (run `python tools/notebooks.py sync`): {stale}"


def test_every_exercise_has_a_solution_and_stubs():
    solutions = [p for p in all_notebooks() if p.stem.endswith("_solution")]
    for solution in solutions:
        student = notebooks.student_path(solution)
        assert student.exists() and is_student(student)
        text = student.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert "NotImplementedError" in text, f"{student.name} has no exercise stub"


def test_student_generation_replaces_regions_and_answers(tmp_path):
    source = (
        "x = 1\ndef f(a):\n"
        "    # BEGIN SOLUTION: use the formula\n    return a * 2\n    # END SOLUTION\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# T\n**Time:** 1 min"),
        nbformat.v4.new_code_cell("", metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell(source),
        nbformat.v4.new_markdown_cell("secret model answer", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("print(42)", metadata={"tags": ["solution-only"]}),
    ]
    path = ROOT / "xai-for-tabular-data" / "99_demo_exercises_solution.ipynb"
    student = notebooks.make_student(notebooks.normalise(nb, path), path)
    code = student.cells[2].source
    assert "return a * 2" not in code
    assert "    raise NotImplementedError('use the formula')" in code
    assert code.startswith("x = 1\ndef f(a):")
    assert "secret" not in nbformat.writes(student)
    assert student.cells[3].source == notebooks.ANSWER_STUB
    assert len(student.cells) == 4
    assert "99_demo_exercises.ipynb" in student.cells[0].source


def test_unbalanced_solution_markers_are_rejected():
    with pytest.raises(ValueError, match="without END"):
        notebooks._strip_solutions("# BEGIN SOLUTION\nx = 1", "demo")
    with pytest.raises(ValueError, match="without BEGIN"):
        notebooks._strip_solutions("x = 1\n# END SOLUTION", "demo")


def test_every_task_keeps_a_wrong_answer():
    """Each solution region is followed by at least one WRONG variant (run by the notebook test)."""
    missing, tasks, proven, alternatives = [], 0, 0, 0
    for path in all_notebooks():
        if not path.stem.endswith("_solution"):
            continue
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            regions, wrong, alt = notebooks.count_regions(cell.source, f"{path.name} cell {i}")
            tasks += regions
            proven += wrong
            alternatives += alt
            if wrong < regions:
                missing.append(f"{path.relative_to(ROOT)} cell {i}")
    print(f"{tasks} solution regions, {proven} with a WRONG variant, "
          f"{alternatives} alternative answers")  # fmt: skip
    assert not missing, "solution regions without a '# BEGIN WRONG' variant:\n" + "\n".join(missing)


def test_answer_variants_are_parsed_and_dropped_from_students():
    source = (
        "def f(a):\n    # BEGIN SOLUTION: double it\n    return a * 2\n    # END SOLUTION\n"
        "    # BEGIN WRONG: adds\n    # return a + 2\n    # END WRONG\n"
        "    # BEGIN ALTERNATIVE: shift\n    # return a << 1\n    # END ALTERNATIVE\nf(1)"
    )
    variants = notebooks.variant_sources(source)
    assert [(k, w) for k, w, _ in variants] == [("WRONG", "adds"), ("ALTERNATIVE", "shift")]
    assert variants[0][2] == "def f(a):\n    return a + 2\nf(1)"
    student = notebooks._strip_solutions(source, "demo")
    assert "a + 2" not in student and "<<" not in student and "WRONG" not in student
    assert notebooks.count_regions(source) == (1, 1, 1)
    with pytest.raises(ValueError, match="must follow"):
        notebooks.variant_sources("x = 1\n# BEGIN WRONG: w\n# x = 2\n# END WRONG")
    with pytest.raises(ValueError, match="commented"):
        notebooks.variant_sources(source.replace("    # return a + 2", "    return a + 2"))
    with pytest.raises(ValueError, match="reason"):
        notebooks.variant_sources(source.replace("WRONG: adds", "WRONG"))


def test_setup_cell_is_valid_python_and_keeps_colab_torch():
    source = notebooks.setup_source()
    compile(source, "setup", "exec")
    assert "setup_notebook" in source and notebooks.repository_url() in source
    assert notebooks.course_ref() in source, "Colab must fetch the configured ref, not main"
    assert "pip" not in source, "installing is tools/colab_setup.py's job (it pins Colab's torch)"
    day1 = notebooks.setup_source(ROOT / "xai-for-tabular-data" / "01_x.ipynb")
    assert "deep_learning=False" in day1 and "DEVICE" not in day1


def test_ruff_is_clean():
    # through the running interpreter: works when the environment is not activated
    command = [sys.executable, "-m", "ruff", "check", "utils", "tools", "tests"]
    proc = subprocess.run([*command, *notebooks.DAY_FOLDERS], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_data_checksums_match_and_are_documented():
    listing = (ROOT / "data" / "checksums.sha256").read_text().split("\n")
    readmes = [ROOT / "data" / "README.md", ROOT / "data" / "weights" / "README.md"]
    readme = "".join(p.read_text() for p in readmes if p.exists())
    entries = [line.split() for line in listing if line.strip()]
    assert entries
    for digest, name in entries:
        assert sha256sum(ROOT / "data" / name) == digest, name
        assert digest in readme, f"data/README.md does not list the checksum of {name}"


def test_no_pickles_or_large_files():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    files = tracked.stdout.split() or [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.*")]
    for name in files:
        assert not name.endswith((".pkl", ".pickle", ".joblib", ".pt", ".pth", ".npy", ".npz")), (
            name
        )
        path = ROOT / name
        if path.is_file():
            assert path.stat().st_size < 3_000_000, f"{name} is larger than 3 MB"


def test_dependencies_are_lower_bounds_only():
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    deps = re.findall(r'"([^"]+)"', block)
    assert len(deps) > 10
    for dep in deps:
        assert ">=" in dep and "==" not in dep and "<" not in dep, dep
    requirements = (ROOT / "requirements.txt").read_text()
    assert "==" not in requirements
