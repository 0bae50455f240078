"""Check a homework notebook before it is handed in, and name the file to hand in.

From the homework's last cell (``submit("06_ecg_comparison_homework.ipynb")``) or from a
shell (``python tools/submit.py NOTEBOOK``). The check

1. reads the saved notebook (valid JSON and a Jupyter notebook);
2. finds the name/ID cell and requires a name and an ID (letters, digits, ``.``, ``_``,
   ``-``);
3. requires every answer cell to be filled in: no code stub left
   (``raise NotImplementedError``), no empty written answer;
4. runs a copy from top to bottom in a fresh kernel (the hand-in cell skipped) and
   requires that no cell other than a test cell raises; a failing visible test is
   reported but does not block (a task can be left unsolved);
5. writes the executed copy as ``<ID>_<homework>.ipynb`` next to the notebook (or into
   ``out_dir``): the file to hand in.

It changes nothing in the notebook itself.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools.grading.homework import STUDENT_ID_RE, id_cell_values
from tools.notebooks import ANSWER_STUB, STUDENT_ID_TAG, SUBMIT_TAG, _tags


@dataclass
class Check:
    """The outcome of a hand-in check."""

    problems: list[str] = field(default_factory=list)  # block the hand-in
    warnings: list[str] = field(default_factory=list)  # reported only
    student_id: str = ""
    written: Path | None = None


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def static_problems(nb: nbformat.NotebookNode, check: Check) -> None:
    """Name, ID and answer cells, without running anything."""
    id_cells = [c for c in nb.cells if STUDENT_ID_TAG in _tags(c)]
    if not id_cells:
        check.problems.append("the name/ID cell is missing (a code cell with STUDENT_NAME and "
                              "STUDENT_ID): restore it from a fresh copy of the homework")
    else:
        values = id_cell_values(id_cells[0].source)
        check.student_id = values.get("STUDENT_ID", "")
        if not values.get("STUDENT_NAME"):
            check.problems.append('write your name in the name/ID cell: STUDENT_NAME = "..."')
        if not check.student_id:
            check.problems.append('write your ID in the name/ID cell: STUDENT_ID = "..."')
        elif not STUDENT_ID_RE.match(check.student_id):
            check.problems.append(f"STUDENT_ID {check.student_id!r} may contain only letters, "
                                  "digits, '.', '_' and '-' (it names the file)")  # fmt: skip
    answers = [c for c in nb.cells if _grading(c).get("solution")]
    if not answers:
        check.problems.append("no answer cells found: is this the homework notebook?")
    code = [c for c in answers if c.cell_type == "code"]
    for number, cell in enumerate(code, 1):
        if any(x.strip().startswith("raise NotImplementedError") for x in cell.source.split("\n")):
            check.problems.append(f"answer cell {number} of {len(code)} still raises "
                                  "NotImplementedError: replace the stub with your code")
    written = [c for c in answers if c.cell_type == "markdown"]
    for number, cell in enumerate(written, 1):
        if cell.source.strip() in ("", ANSWER_STUB):
            check.problems.append(f"written answer {number} of {len(written)} is empty")


def run_problems(nb: nbformat.NotebookNode, folder: Path, check: Check,
                 timeout: int = 900) -> nbformat.NotebookNode:  # fmt: skip
    """Run a copy from top to bottom; errors in test cells are warnings, others problems."""
    from nbclient import NotebookClient

    executed = copy.deepcopy(nb)
    keep = [c for c in executed.cells if SUBMIT_TAG not in _tags(c)]
    skipped = [c for c in executed.cells if SUBMIT_TAG in _tags(c)]
    executed.cells = keep
    client = NotebookClient(executed, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})  # fmt: skip
    client.execute()
    for number, cell in enumerate(executed.cells, 1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        what = f"cell {number}: {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:200]}"
        if _grading(cell).get("grade") and cell.cell_type == "code":
            check.warnings.append(f"a test fails ({what}): you lose its points")
        else:
            check.problems.append(f"{what} (the notebook must run from top to bottom)")
    executed.cells += [c for c in skipped]  # the hand-in cell, not run, at the end
    return executed


def submit(notebook: str | Path, out_dir: str | Path | None = None, force: bool = False,
           run: bool = True) -> Check:  # fmt: skip
    """Check a saved homework notebook and write ``<ID>_<homework>.ipynb`` to hand in.

    Parameters
    ----------
    notebook : str or Path
        The saved notebook (in Jupyter: save it first).
    out_dir : str or Path, optional
        Where to write the file to hand in; by default next to the notebook.
    force : bool, default False
        Write the file even if the check found problems (they are still listed).
    run : bool, default True
        Run the notebook (turn off only to test the static checks).
    """
    check = Check()
    path = Path(notebook)
    if "google.colab" in sys.modules and not path.exists():
        print("In Colab the notebook is not a file the kernel can read: download it "
              "(File > Download > .ipynb), rename it <your ID>_<homework>.ipynb and hand it in.")
        check.problems.append("notebook not found (Colab)")
        return check
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        check.problems.append(f"{path} is not a readable Jupyter notebook: {err}")
        _print(check)
        return check
    age = time.time() - path.stat().st_mtime
    print(f"checking {path.name} (saved {age / 60:.0f} min ago: save first if you changed "
          "something since)")  # fmt: skip
    static_problems(nb, check)
    homework = nb.metadata.get("homework") or path.stem
    if check.student_id and homework.startswith(f"{check.student_id}_"):
        homework = homework[len(check.student_id) + 1 :]
    executed = nb
    if run:
        print("running a copy from top to bottom in a fresh kernel ...")
        executed = run_problems(nb, path.resolve().parent, check)
    if check.problems and not force:
        _print(check)
        print("Nothing was written: fix these and run the check again "
              "(or use force=True to hand in as it is).")  # fmt: skip
        return check
    name = check.student_id if STUDENT_ID_RE.match(check.student_id or "") else "unknown"
    target = Path(out_dir or path.resolve().parent) / f"{name}_{homework}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, target)
    check.written = target
    _print(check)
    print(f"Hand in this file: {target}")
    return check


def _print(check: Check) -> None:
    for problem in check.problems:
        print(f"  ✘ {problem}")
    for warning in check.warnings:
        print(f"  ! {warning}")
    if not check.problems and not check.warnings:
        print("  ✔ name, ID and every answer filled in; the notebook runs without errors")


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Check a homework notebook and write the file "
                                                 "to hand in (<ID>_<homework>.ipynb).")
    parser.add_argument("notebook")
    parser.add_argument("--out", help="folder for the file to hand in (default: next to it)")
    parser.add_argument("--force", action="store_true", help="write it despite problems")
    args = parser.parse_args(argv)
    os.environ.pop("XAI_STRICT_CHECKS", None)  # a student's run: checks report, tests assert
    check = submit(args.notebook, args.out, force=args.force)
    return 0 if check.written and not check.problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
