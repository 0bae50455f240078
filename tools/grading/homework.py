"""A graded homework and its submissions: tasks, answer cells, what each test reads.

The instructor's notebook (the ``*_homework_solution.ipynb``) is the single source: its
cell tags give the nbgrader metadata (``tools/notebooks.py``), and from it the grader
builds, for every submission, the program that runs in the sandbox:

* the instructor's cells, in order, except the tests, the model answers, the
  ``solution-only`` cells and the hand-in cell;
* where the instructor has a solution cell (or the name/ID cell), the student's cell with
  the same ``grade_id`` (or cell id) instead; a student cell that is missing becomes the
  stub of the student version, so the task's test fails;
* where the instructor has a test cell, an *export*: the current values of the names the
  test reads from the student's answers.

Cells a student added or edited outside their answer cells are ignored, as nbgrader's
autograde does with test cells. The tests themselves run in a separate trusted process
(``checker.py``).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools.notebooks import (
    ANSWER_STUB,
    GRADED_TAG,
    STUDENT_ID_TAG,
    SUBMIT_TAG,
    _strip_solutions,
    _tags,
    _without_variant_blocks,
    add_nbgrader_metadata,
    student_path,
)

#: A student ID as it appears in file names: letters, digits, ".", "_" and "-".
STUDENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The largest notebook file the grader reads.
MAX_NOTEBOOK_BYTES = 50_000_000
ID_EXPORT = "__student_id__"


@dataclass
class Task:
    """One graded item: an autograded test cell or a manually graded answer."""

    grade_id: str
    title: str
    points: float
    auto: bool
    index: int  # position of the cell in the instructor's notebook
    reads: list[str] = field(default_factory=list)  # answer names the test reads


@dataclass
class Homework:
    """The instructor's notebook of a graded homework, parsed for grading."""

    path: Path
    nb: nbformat.NotebookNode
    name: str  # the student notebook's stem, e.g. "06_ecg_comparison_homework"
    tasks: list[Task]

    @property
    def auto_points(self) -> float:
        return sum(t.points for t in self.tasks if t.auto)

    @property
    def manual_points(self) -> float:
        return sum(t.points for t in self.tasks if not t.auto)


def _python(source: str) -> str:
    """IPython cell source as plain Python (magics and shell escapes become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class _Stores(ast.NodeVisitor):
    """Names a cell binds at module level (not inside functions, classes or lambdas)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def _define(self, node) -> None:
        self.names.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _define

    def _scope(self, node) -> None:  # lambdas and comprehensions bind their own names
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.names.add(sub.target.id)  # except the walrus, which leaks out

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _scope

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.names.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        self.names.update(node.names)


def stored_names(source: str) -> set[str]:
    """Return the names a cell assigns at module level."""
    visitor = _Stores()
    visitor.visit(ast.parse(_python(source)))
    return visitor.names


def loaded_names(source: str) -> set[str]:
    """Return the names a cell reads before (in the text) it binds them itself.

    A test's own loop variables (``for name, m in maps.items()``) are not answers.
    """
    tree = ast.parse(_python(source))
    names = sorted((n.lineno, n.col_offset, n.id, isinstance(n.ctx, ast.Load))
                   for n in ast.walk(tree) if isinstance(n, ast.Name))  # fmt: skip
    bound: set[str] = set()
    read: set[str] = set()
    for _, _, name, load in names:
        if load and name not in bound:
            read.add(name)
        elif not load:
            bound.add(name)
    return read


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_solution_cell(cell) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def is_test_cell(cell) -> bool:
    return cell.cell_type == "code" and bool(_nbgrader(cell).get("grade")) and not \
        _nbgrader(cell).get("solution")  # fmt: skip


def _titles(nb) -> list[str]:
    """For every cell, the title of the task or question it belongs to.

    A code cell belongs to the last heading ``Task ...`` or ``Exercise ...``; a written
    answer to the ``**Question N**`` (or else the heading) of the markdown cell before it.
    """
    titles, current, previous = [], "", ""
    heading_re = re.compile(r"^#+\s*((?:Task|Exercise)[^\n]*?)\s*(?:\(\s*\d[^)]*\))?"
                            r"\s*(?:<!--.*?-->)?\s*$", re.M)  # fmt: skip
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            titles.append(current)
            continue
        asked = re.search(r"\*\*(Question\s*\d+[a-z]?)", previous)
        section = re.search(r"^#+\s*(?:\d+\.\s*)?([^\n<]+)", previous, re.M)
        titles.append(asked.group(1).strip() if asked else
                      section.group(1).strip() if section else "")  # fmt: skip
        heading = heading_re.search(cell.source)
        if heading:
            current = heading.group(1).strip()
        previous = cell.source
    return titles


def load_homework(path: Path | str) -> Homework:
    """Parse the instructor's notebook of a graded homework (raises ``ValueError`` if it is not)."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    add_nbgrader_metadata(nb, path)  # validates the tags; a no-op for a synced notebook
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source = _without_variant_blocks(cell.source)
            try:
                ast.parse(_python(cell.source))
            except SyntaxError as err:
                raise ValueError(f"{path.name} cell {i} is not valid Python: {err}") from err
    titles = _titles(nb)
    tasks, answers = [], set()
    auto_count = manual_count = 0
    for i, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if is_solution_cell(cell) and cell.cell_type == "code":
            answers |= stored_names(cell.source)
        if not meta.get("grade"):
            continue
        if cell.cell_type == "code":
            auto_count += 1
            reads = sorted(loaded_names(cell.source) & answers)
            if not reads:
                raise ValueError(f"{path.name} cell {i}: the test reads no name that a solution "
                                 "cell before it assigns, so it would grade nothing")
            title = titles[i] or f"Test {auto_count}"
            tasks.append(Task(meta["grade_id"], title, meta["points"], True, i, reads))
        else:
            manual_count += 1
            title = titles[i] or f"Question {manual_count}"
            tasks.append(Task(meta["grade_id"], title, meta["points"], False, i))
    names = [t.title for t in tasks]
    for t in tasks:  # two test cells under one heading: number them
        if names.count(t.title) > 1:
            t.title = f"{t.title} ({t.grade_id})"
    stem = student_path(path).stem if path.stem.endswith("_solution") else path.stem
    return Homework(path, nb, nb.metadata.get("homework", stem), tasks)


@dataclass
class Submission:
    """A student's notebook, read as data (nothing of it is executed here)."""

    student: str
    path: Path
    nb: nbformat.NotebookNode | None = None
    error: str = ""  # why the file is not a usable notebook
    notes: list[str] = field(default_factory=list)


def read_submission(student: str, path: Path) -> Submission:
    """Read a submitted notebook; an unreadable file gives a Submission with ``error`` set."""
    sub = Submission(student, path)
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            sub.error = f"the file is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB"
            return sub
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise ValueError("no list of cells")
        sub.nb = nbformat.reads(text, as_version=4)
    except (OSError, UnicodeDecodeError) as err:
        sub.error = f"the file cannot be read ({type(err).__name__})"
    except json.JSONDecodeError as err:
        sub.error = f"the file is not valid JSON (line {err.lineno}, column {err.colno})"
    except Exception as err:  # noqa: BLE001 - nbformat raises many kinds of errors
        sub.error = f"the file is not a Jupyter notebook ({type(err).__name__}: {str(err)[:200]})"
    return sub


def _student_cells(nb) -> tuple[dict[str, object], dict[str, object], object | None]:
    """The student's cells by nbgrader grade_id and by cell id, and their name/ID cell."""
    by_grade, by_id, id_cell = {}, {}, None
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if isinstance(gid, str) and gid not in by_grade:
            by_grade[gid] = cell
        cid = cell.get("id")
        if isinstance(cid, str) and cid not in by_id:
            by_id[cid] = cell
        if id_cell is None and STUDENT_ID_TAG in _tags(cell):
            id_cell = cell
    return by_grade, by_id, id_cell


def _match(cell, by_grade: dict, by_id: dict, kind: str):
    found = by_grade.get(_nbgrader(cell).get("grade_id")) or by_id.get(cell.get("id"))
    if found is not None and found.cell_type == kind and isinstance(found.get("source"), str):
        return found
    return None


def build_program(hw: Homework, sub: Submission) -> tuple[dict, dict[str, str]]:
    """Return the sandbox program of a submission and the student's written answers.

    The program is ``{"steps": [...]}`` for ``runner.py``; the answers map the grade_id
    of each manually graded task to the student's markdown ("" if missing).
    """
    by_grade, by_id, id_cell = _student_cells(sub.nb)
    steps, answers = [], {}
    tasks = {t.grade_id: t for t in hw.tasks}
    for i, cell in enumerate(hw.nb.cells):
        tags, gid = _tags(cell), _nbgrader(cell).get("grade_id")
        if gid in tasks and not tasks[gid].auto:
            mine = _match(cell, by_grade, by_id, "markdown")
            text = mine.source if mine is not None else ""
            answers[gid] = "" if text.strip() == ANSWER_STUB else text
            continue
        if cell.cell_type != "code" or "solution-only" in tags or SUBMIT_TAG in tags:
            continue
        if gid in tasks:
            steps.append({"kind": "export", "index": i, "grade_id": gid,
                          "names": tasks[gid].reads})  # fmt: skip
        elif is_solution_cell(cell):
            mine = _match(cell, by_grade, by_id, "code")
            if mine is None:
                sub.notes.append(f"the answer cell of {_title_of(hw, i)} is missing: it was "
                                 "graded as not done")  # fmt: skip
                source = _strip_solutions(cell.source, f"cell {i}")
            else:
                source = mine.source
            steps.append({"kind": "cell", "index": i, "source": source})
        elif STUDENT_ID_TAG in tags:
            mine = id_cell if id_cell is not None else _match(cell, by_grade, by_id, "code")
            if mine is None:
                sub.notes.append("the name/ID cell is missing")
            steps.append({"kind": "cell", "index": i,
                          "source": mine.source if mine is not None else cell.source})
            steps.append({"kind": "export", "index": i, "grade_id": ID_EXPORT,
                          "names": ["STUDENT_ID", "STUDENT_NAME"]})  # fmt: skip
        else:
            steps.append({"kind": "cell", "index": i, "source": cell.source})
    ids = set(by_id)
    added = [c for c in sub.nb.cells if c.get("id") not in {x.get("id") for x in hw.nb.cells}]
    if added and ids:
        sub.notes.append(f"{len(added)} cell(s) added to the notebook were not run: when a "
                         "homework is graded only the answer cells are taken from it")  # fmt: skip
    return {"steps": steps}, answers


def _title_of(hw: Homework, index: int) -> str:
    later = [t for t in hw.tasks if t.index > index and t.auto]
    return later[0].title if later else f"cell {index}"


def find_submissions(folder: Path, homework_name: str) -> tuple[dict[str, Path], list[str]]:
    """Return ``{student: path}`` and the names of files that were ignored.

    Accepted layouts: ``<student>_<homework>.ipynb`` in ``folder`` (what ``submit`` writes)
    and nbgrader's ``<student>/<homework>.ipynb``.
    """
    found: dict[str, Path] = {}
    ignored: list[str] = []
    suffix = f"_{homework_name}.ipynb"
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name.endswith(suffix):
            student = path.name[: -len(suffix)]
        elif path.is_dir() and (path / f"{homework_name}.ipynb").is_file():
            student, path = path.name, path / f"{homework_name}.ipynb"
        else:
            if not path.name.startswith("."):
                ignored.append(path.name)
            continue
        if not STUDENT_ID_RE.match(student):
            ignored.append(f"{path.name} (not a valid student ID: {student!r})")
        elif student in found:
            ignored.append(f"{path.name} (a second submission of {student})")
        else:
            found[student] = path
    return found, ignored


def id_cell_values(source: str) -> dict[str, str]:
    """Read ``STUDENT_ID`` and ``STUDENT_NAME`` from a name/ID cell without running it."""
    values = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return values
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):  # fmt: skip
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("STUDENT_ID", "STUDENT_NAME"):
                    values[target.id] = node.value.value.strip()
    return values


__all__ = ["GRADED_TAG", "Homework", "Submission", "Task", "build_program", "find_submissions",
           "id_cell_values", "load_homework", "read_submission"]  # fmt: skip
