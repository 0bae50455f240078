"""Graded homework: nbgrader metadata, hidden tests, hand-in check and the sandboxed grader.

The hostile submissions run against a tiny synthetic homework built here (no torch, a
second per run); one end-to-end run grades three submissions of the real day-3 homework.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from tools import notebooks
from tools.grading import homework as hwmod
from tools.grading.grade import grade
from tools.grading.sandbox import Limits, probe_isolation
from tools.notebooks import ROOT

DAY3 = ROOT / "xai-for-1d-data" / "06_ecg_comparison_homework_solution.ipynb"
TOY = "99_toy_homework"
FULL = probe_isolation("auto").mode == "full"
needs_full = pytest.mark.skipif(not FULL, reason="full isolation needs root, unshare and setpriv")

TASK1 = ("# BEGIN SOLUTION: add the numbers up\ntotal = float(np.sum(data))\n# END SOLUTION\n"
         "# BEGIN WRONG: the mean, not the sum\n# total = float(np.mean(data))\n# END WRONG")
TASK2 = ("# BEGIN SOLUTION: square every number\nsquares = data ** 2\n# END SOLUTION\n"
         "# BEGIN WRONG: doubles them\n# squares = data * 2\n# END WRONG")


def toy_homework(folder: Path) -> Path:
    """Write a small graded homework (two tests, one written question) and return its path."""
    nb = nbformat.v4.new_notebook()
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb.cells = [
        md("# Toy homework\n\nSums and squares.\n\n**Time:** ~5 min"),
        code("import numpy as np\n\nimport utils", metadata={"tags": ["setup"]}),
        code('STUDENT_NAME = ""\nSTUDENT_ID = ""', metadata={"tags": ["student-id"]}),
        code("data = np.arange(10.0)"),
        md("## Task 1 — the sum (2 points)\n\nCompute `total`, the sum of `data`."),
        code(TASK1),
        code("assert utils.check_true(isinstance(total, float), name='total is a float')\n"
             "### BEGIN HIDDEN TESTS\n"
             "assert utils.check_close(total, np.sum(data), name='total')  # SECRET-7f3a\n"
             "### END HIDDEN TESTS", metadata={"tags": ["graded", "points-2"]}),
        md("## Task 2 — the squares (1 point)\n\nCompute `squares`."),
        code(TASK2),
        code("assert utils.check_close(squares, data ** 2, name='squares')",
             metadata={"tags": ["graded", "points-1"]}),
        md("**Question 1 (1 point).** Why?"),
        md("**Model answer.** Because.", metadata={"tags": ["solution", "points-1"]}),
        code("HAND_IN = False", metadata={"tags": ["submit"]}),
    ]
    path = folder / f"{TOY}_solution.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    notebooks.add_nbgrader_metadata(nb, path)  # what `sync` does to a course notebook
    nbformat.write(nb, path)
    return path


def student_version(solution: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(solution, as_version=4)
    return notebooks.make_student(nb, solution)


def answered(solution: Path, student_id: str, sources: dict[int, str] | None = None,
             answer: str = "Because I say so.") -> nbformat.NotebookNode:  # fmt: skip
    """A student notebook: the solution's answers (or ``sources`` by solution-cell order)."""
    sol = nbformat.read(solution, as_version=4)
    nb = student_version(solution)
    by_id = {c.id: c for c in sol.cells}
    k = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if "student-id" in cell.metadata.get("tags", []):
            cell.source = f'STUDENT_NAME = "Student {student_id}"\nSTUDENT_ID = "{student_id}"'
        elif meta.get("solution") and cell.cell_type == "code":
            cell.source = (sources or {}).get(k, notebooks._drop_variants(by_id[cell.id].source,
                                                                          "x"))  # fmt: skip
            k += 1
        elif meta.get("solution"):
            cell.source = answer
    return nb


def write(nb, folder: Path, student: str, name: str = TOY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{student}_{name}.ipynb"
    nbformat.write(nb, path)
    return path


def read_scores(out: Path) -> dict[tuple[str, str], dict]:
    with open(out / "scores.csv", newline="") as fh:
        return {(r["student"], r["task"]): r for r in csv.DictReader(fh)}


# ---------------------------------------------------------------- nbgrader metadata


def test_metadata_is_derived_from_tags_and_hidden_tests_are_stripped(tmp_path):
    path = toy_homework(tmp_path)
    nb = nbformat.read(path, as_version=4)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert meta[5] == {"grade": False, "grade_id": nb.cells[5].id, "locked": False,
                       "schema_version": 3, "solution": True, "task": False}
    assert meta[6]["grade"] and meta[6]["locked"] and meta[6]["points"] == 2
    assert meta[11]["grade"] and meta[11]["solution"] and meta[11]["points"] == 1
    assert meta[2] is None and meta[12] is None and meta[3] is None  # ID, hand-in, context
    student = student_version(path)
    text = nbformat.writes(student)
    assert "SECRET-7f3a" not in text and "HIDDEN TESTS" not in text and "Because." not in text
    assert student.cells[6].source == "assert utils.check_true(isinstance(total, float), " \
        "name='total is a float')"  # fmt: skip
    assert student.cells[11].metadata["nbgrader"] == meta[11]  # still a graded answer
    source = "a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc"
    assert notebooks.strip_hidden_tests(source) == "a\nc"
    with pytest.raises(ValueError, match="without END"):
        notebooks.strip_hidden_tests("### BEGIN HIDDEN TESTS\nx")


@pytest.mark.parametrize("change, message", [
    (lambda nb: nb.cells[6].metadata["tags"].remove("points-2"), "points-N"),
    (lambda nb: nb.cells[2].metadata["tags"].clear(), "student-id"),
    (lambda nb: nb.cells[11].metadata["tags"].remove("points-1"), "needs 'points-N'"),
    (lambda nb: setattr(nb.cells[3], "source", "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"),
     "hidden tests belong"),
    (lambda nb: setattr(nb.cells[6], "source", nb.cells[6].source + "\n" + TASK1),
     "no solution region"),
])  # fmt: skip
def test_contradicting_tags_are_rejected(tmp_path, change, message):
    path = toy_homework(tmp_path)
    nb = nbformat.read(path, as_version=4)
    change(nb)
    with pytest.raises(ValueError, match=message):
        notebooks.add_nbgrader_metadata(nb, path)


def test_nbgrader_source_drops_variants_and_keeps_hints(tmp_path):
    path = toy_homework(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell("print('instructor only')",
                                                 metadata={"tags": ["solution-only"]}))
    nbformat.write(nb, path)
    source = notebooks.nbgrader_source(path)
    text = nbformat.writes(source)
    assert "WRONG" not in text and "np.mean" not in text and "instructor only" not in text
    assert any(c.source.startswith("# TODO: add the numbers up\n# BEGIN SOLUTION\ntotal")
               for c in source.cells)
    assert "SECRET-7f3a" in text  # the hidden tests stay: nbgrader removes them on release
    written = notebooks.write_nbgrader_source(path, tmp_path / "source" / "toy")
    assert written.name == f"{TOY}.ipynb"


def test_day3_homework_is_graded_and_its_student_version_hides_the_tests():
    hw = hwmod.load_homework(DAY3)
    auto = [t for t in hw.tasks if t.auto]
    manual = [t for t in hw.tasks if not t.auto]
    assert len(auto) >= 3 and len(manual) >= 2
    assert hw.auto_points == 9 and hw.manual_points == 7
    assert [t.reads for t in auto] == [["random_baseline", "scores"],
                                       ["control", "lift", "scores"],
                                       ["ig_abnormal", "ig_normal"]]  # fmt: skip
    student = (DAY3.parent / "06_ecg_comparison_homework.ipynb").read_text()
    assert "HIDDEN TESTS" not in student and "Model answer" not in student
    assert student.count('"grade": true') == 6  # three tests, three written answers
    assert hw.name == "06_ecg_comparison_homework"


GRADED = [p for p in notebooks.all_notebooks() if p.stem.endswith("_solution")
          and notebooks.is_graded(nbformat.read(p, as_version=4))]  # fmt: skip


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.name)
def test_every_graded_homework_is_complete(path):
    """Name/ID and hand-in cells, >= 3 tests and >= 2 written answers, tests that read answers."""
    hw = hwmod.load_homework(path)
    nb = nbformat.read(path, as_version=4)
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert tags.count("student-id") == 1 and tags.count("submit") == 1
    assert sum(t.auto for t in hw.tasks) >= 3 and sum(not t.auto for t in hw.tasks) >= 2
    assert all(t.reads for t in hw.tasks if t.auto)
    assert hw.name == notebooks.student_path(path).stem
    hand_in = next(c for c in nb.cells if "submit" in c.metadata.get("tags", []))
    assert f'submit("{hw.name}.ipynb")' in hand_in.source


def test_answer_names_are_what_solution_cells_bind():
    source = ("import numpy as np\nfrom x import y as z\ndef f(a):\n    inner = 1\n"
              "class C: pass\nfor i in range(3):\n    acc = i\nq, (r, s) = 1, (2, 3)\n"
              "with open('f') as fh:\n    pass\n%matplotlib inline")
    assert hwmod.stored_names(source) == {"np", "z", "f", "C", "i", "acc", "q", "r", "s", "fh"}
    assert hwmod.stored_names("x = [a for a in y]\nz = (b := 3)") == {"x", "z", "b"}
    assert hwmod.loaded_names("print(a + b[c])") == {"print", "a", "b", "c"}


def test_submissions_are_found_by_name(tmp_path):
    (tmp_path / f"ab12_{TOY}.ipynb").write_text("{}")
    (tmp_path / "cd34").mkdir()
    (tmp_path / "cd34" / f"{TOY}.ipynb").write_text("{}")
    (tmp_path / f"../x_{TOY}.ipynb").resolve().write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / f"b@d_{TOY}.ipynb").write_text("{}")
    found, ignored = hwmod.find_submissions(tmp_path, TOY)
    assert sorted(found) == ["ab12", "cd34"]
    assert "notes.txt" in ignored and any("b@d" in x for x in ignored)


# ---------------------------------------------------------------- the grader


SECRET_READ = '''
import os
leaked = []
for path in {paths!r}:
    try:
        with open(path) as fh:
            leaked.append(fh.read(100))
    except OSError:
        pass
try:
    leaked += os.listdir({folder!r})
except OSError:
    pass
total = float(np.sum(data)) if leaked else -1.0
'''
SOCKET = '''
import socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
        s.sendall(b"leak")
    total = float(np.sum(data))
except OSError:
    total = -1.0
'''
OVERWRITE = '''
import os
wrote = False
for path in [{scores!r}, {feedback!r}]:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("student,task,points\\nmallory,Task 1,1000\\nHACKED\\n")
        wrote = True
    except OSError:
        pass
for junk in ["/tmp/xai-hostile-left-behind", "/dev/shm/xai-hostile-left-behind"]:
    try:
        with open(junk, "w") as fh:
            fh.write("x" * 1000)
    except OSError:
        pass
total = float(np.sum(data)) if wrote else -1.0
'''
SWALLOW = '''
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
import utils
utils.check_close = utils.check_true = lambda *args, **kwargs: True
import builtins
builtins.AssertionError = type("Quiet", (Exception,), {})
total = -1.0
'''


def _grade_hostile(base: Path):
    """Grade one batch of honest and hostile submissions of the toy homework (full isolation)."""
    solution = toy_homework(base / "instructor")
    subs, out = base / "submissions", base / "graded"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.5)
    connections, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    right = answered(solution, "alice")
    write(right, subs, "alice")
    repo_key = str(DAY3)
    cases = {
        "bob": {0: "total = float(np.mean(data))"},  # partly wrong
        "syntax": {0: "total = = 1"},
        "raises": {0: "total = 1 / 0"},
        "loops": {0: "while True:\n    pass"},
        "hog": {0: "block = bytearray(20 * 2**30)\ntotal = float(np.sum(data))"},
        "reader": {0: SECRET_READ.format(paths=[str(solution), repo_key,
                                                str(subs / f"alice_{TOY}.ipynb")],
                                         folder=str(subs))},
        "netcat": {0: SOCKET.format(port=server.getsockname()[1])},
        "forger": {0: OVERWRITE.format(scores=str(out / "scores.csv"),
                                       feedback=str(out / "feedback" / "alice.md"))},
        "swallow": {0: SWALLOW},
        "quitter": {0: "import os\nos._exit(0)"},
    }
    for student, sources in cases.items():
        write(answered(solution, student, sources), subs, student)
    pruned = answered(solution, "pruner")
    pruned.cells = [c for c in pruned.cells  # no test cells, no answer to Task 2
                    if not c.metadata.get("nbgrader", {}).get("grade") or c.cell_type != "code"]
    pruned.cells = [c for c in pruned.cells if "squares" not in c.source]
    write(pruned, subs, "pruner")
    (subs / f"garbage_{TOY}.ipynb").write_text('{"cells": [')
    (subs / f"notebook_{TOY}.ipynb").write_text('{"hello": "world"}')
    report = grade(solution, subs, out, jobs=2, limits=Limits(wall_s=15, memory_mb=2048),
                   isolation="full", echo=lambda *a: None)  # fmt: skip
    stop.set()
    server.close()
    return report, read_scores(out), out, connections


def _points(scores, student, task):
    return scores[(student, task)]["points"], scores[(student, task)]["status"]


T1, T2 = "Task 1 — the sum", "Task 2 — the squares"


def _check_honest_submissions_are_scored_as_they_should_be(hostile):
    _, scores, out, _ = hostile
    assert _points(scores, "alice", T1) == ("2", "passed")
    assert _points(scores, "alice", T2) == ("1", "passed")
    assert _points(scores, "alice", "Question 1") == ("", "to be graded by hand")
    assert scores[("alice", "total")]["points"] == "3"
    assert _points(scores, "bob", T1)[0] == "0" and "check 'total' failed" in scores[
        ("bob", T1)]["status"]  # fmt: skip
    assert _points(scores, "bob", T2) == ("1", "passed")
    answers = (out / "answers" / "question-1.md").read_text()
    assert "Because I say so." in answers and "## alice Student alice" in answers


def _check_a_broken_cell_costs_only_its_task(hostile):
    _, scores, out, _ = hostile
    for student, why in [("syntax", "SyntaxError"), ("raises", "ZeroDivisionError"),
                         ("hog", "MemoryError")]:
        assert _points(scores, student, T1)[0] == "0"
        assert _points(scores, student, T2) == ("1", "passed")  # the run went on after it
        assert why in (out / "feedback" / f"{student}.md").read_text()


def _check_a_loop_or_a_dead_process_fails_every_later_test(hostile):
    _, scores, out, _ = hostile
    for student, reason in [("loops", "time limit of 15 s ran out in cell 6"),
                            ("quitter", "exited with code 0 in cell 6")]:
        for task in (T1, T2):
            points, status = _points(scores, student, task)
            assert points == "0" and "not reached" in status and reason in status, status
        assert scores[(student, "total")]["status"].startswith("stopped")


def _check_swallowed_exceptions_and_patched_checks_do_not_pass_tests(hostile):
    _, scores, _, _ = hostile
    assert _points(scores, "swallow", T1)[0] == "0"
    assert _points(scores, "swallow", T2) == ("1", "passed")


def _check_a_submission_reads_no_hidden_test_answer_key_or_other_submission(hostile):
    _, scores, out, _ = hostile
    assert _points(scores, "reader", T1)[0] == "0"  # it read nothing, so it guessed -1
    assert "SECRET-7f3a" not in "".join(p.read_text() for p in out.rglob("*.*"))


def _check_a_submission_opens_no_socket(hostile):
    _, scores, _, connections = hostile
    assert _points(scores, "netcat", T1)[0] == "0" and connections == []


def _check_a_submission_cannot_write_the_score_table(hostile):
    _, scores, out, _ = hostile
    assert _points(scores, "forger", T1)[0] == "0"
    assert "HACKED" not in (out / "scores.csv").read_text()
    assert "mallory" not in (out / "scores.csv").read_text()
    assert "HACKED" not in (out / "feedback" / "alice.md").read_text()
    for junk in ["/tmp/xai-hostile-left-behind", "/dev/shm/xai-hostile-left-behind"]:
        assert not os.path.exists(junk), "a run left a file in a shared folder"


def _check_deleted_cells_and_broken_files(hostile):
    report, scores, out, _ = hostile
    assert _points(scores, "pruner", T1) == ("2", "passed")  # its deleted tests came back
    assert _points(scores, "pruner", T2)[0] == "0"  # its deleted answer is a stub
    assert "missing" in (out / "feedback" / "pruner.md").read_text()
    for student, why in [("garbage", "not valid JSON"), ("notebook", "not a Jupyter notebook")]:
        assert scores[(student, "total")]["points"] == "0"
        assert why in scores[(student, "total")]["status"]
    assert len(report.results) == 14  # every submission has a row: nothing lost


@needs_full
def test_honest_and_hostile_submissions_in_one_batch(tmp_path):
    """One batch (one run of the grader, two jobs): each submission scored as it should be."""
    hostile = _grade_hostile(tmp_path)
    _check_honest_submissions_are_scored_as_they_should_be(hostile)
    _check_a_broken_cell_costs_only_its_task(hostile)
    _check_a_loop_or_a_dead_process_fails_every_later_test(hostile)
    _check_swallowed_exceptions_and_patched_checks_do_not_pass_tests(hostile)
    _check_a_submission_reads_no_hidden_test_answer_key_or_other_submission(hostile)
    _check_a_submission_opens_no_socket(hostile)
    _check_a_submission_cannot_write_the_score_table(hostile)
    _check_deleted_cells_and_broken_files(hostile)


def test_basic_isolation_contains_crashes_and_a_rerun_gives_the_same_table(tmp_path):
    solution = toy_homework(tmp_path / "instructor")
    subs = tmp_path / "submissions"
    write(answered(solution, "alice"), subs, "alice")
    write(answered(solution, "loops", {0: "while True:\n    pass"}), subs, "loops")
    write(answered(solution, "hog", {0: "block = bytearray(20 * 2**30)"}), subs, "hog")
    write(answered(solution, "swallow", {0: SWALLOW}), subs, "swallow")
    (subs / f"garbage_{TOY}.ipynb").write_text("{")
    tables = []
    for run in range(2):
        out = tmp_path / f"graded{run}"
        report = grade(solution, subs, out, jobs=2, limits=Limits(wall_s=8, memory_mb=2048),
                       isolation="basic", echo=lambda *a: None)  # fmt: skip
        assert report.isolation.mode == "basic"
        tables.append(((out / "scores.csv").read_text(), (out / "scores.md").read_text()))
    assert tables[0] == tables[1]
    scores = read_scores(tmp_path / "graded0")
    assert scores[("alice", "total")]["points"] == "3"
    assert scores[("loops", "total")]["points"] == "0"
    assert scores[("hog", T2)]["points"] == "1" and scores[("hog", T1)]["points"] == "0"
    assert scores[("swallow", T1)]["points"] == "0"


def test_the_grading_command_line(tmp_path):
    solution = toy_homework(tmp_path / "instructor")
    write(answered(solution, "alice"), tmp_path / "subs", "alice")
    manual = tmp_path / "written.csv"
    manual.write_text("student,task,points,comment\nalice,Question 1,1,clear\n")
    command = [sys.executable, str(ROOT / "tools" / "grade.py"), str(solution),
               str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--isolation", "basic",
               "--timeout", "60", "--memory-mb", "2048", "--manual", str(manual)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    scores = read_scores(tmp_path / "out")
    assert scores[("alice", "total")]["points"] == "4"
    assert scores[("alice", "Question 1")]["status"] == "graded by hand"
    assert "clear" in (tmp_path / "out" / "feedback" / "alice.md").read_text()


# ---------------------------------------------------------------- hand-in check


def test_submit_checks_name_answers_and_errors(tmp_path, capsys):
    from tools.grading.submit import submit

    solution = toy_homework(tmp_path / "instructor")
    empty = student_version(solution)
    path = tmp_path / "work" / f"{TOY}.ipynb"
    path.parent.mkdir()
    nbformat.write(empty, path)
    check = submit(path, run=False)
    assert check.written is None
    assert any("write your ID" in p for p in check.problems)
    assert sum("NotImplementedError" in p for p in check.problems) == 2
    assert any("written answer 1 of 1 is empty" in p for p in check.problems)

    nbformat.write(answered(solution, "ab12", {1: "squares = data * 2"}), path)
    check = submit(path, out_dir=tmp_path / "handin")
    assert check.problems == [] and check.written == tmp_path / "handin" / f"ab12_{TOY}.ipynb"
    assert any("a test fails" in w for w in check.warnings)  # Task 2 is wrong: reported only
    handed = nbformat.read(check.written, as_version=4)
    assert handed.cells[-1].metadata["tags"] == ["submit"]
    assert any(o.get("output_type") == "error" for c in handed.cells for o in c.get("outputs", []))

    nbformat.write(answered(solution, "ab12", {0: "total = undefined_name"}), path)
    check = submit(path, out_dir=tmp_path / "handin2")
    assert check.written is None and any("NameError" in p for p in check.problems)


# ---------------------------------------------------------------- the real homework, end to end


@pytest.mark.notebook
def test_day3_homework_end_to_end(tmp_path):
    """Three submissions of the real homework, two at a time: right, partly wrong, untouched."""
    name = "06_ecg_comparison_homework"
    solution = nbformat.read(DAY3, as_version=4)
    first = next(c for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")
                 and c.cell_type == "code")  # fmt: skip
    kind, why, wrong = notebooks.variant_sources(first.source)[0]
    assert kind == "WRONG"
    subs = tmp_path / "submissions"
    write(answered(DAY3, "right"), subs, "right", name)
    write(answered(DAY3, "partly", {0: wrong}), subs, "partly", name)
    write(student_version(DAY3), subs, "untouched", name)
    report = grade(DAY3, subs, tmp_path / "graded", jobs=2, echo=lambda *a: None)
    scores = read_scores(tmp_path / "graded")
    tasks = [t.title for t in report.homework.tasks if t.auto]
    assert [scores[("right", t)]["points"] for t in tasks] == ["3", "3", "3"]
    assert [scores[("partly", t)]["points"] for t in tasks] == ["0", "3", "3"]
    assert [scores[("untouched", t)]["points"] for t in tasks] == ["0", "0", "0"]
    assert scores[("untouched", "Question 1")]["status"] == "no answer written"
    feedback = (tmp_path / "graded" / "feedback" / "untouched.md").read_text()
    assert "NotImplementedError" in feedback and "STUDENT_ID is not filled in" in feedback


# ---------------------------------------------------------------- nbgrader itself


def test_nbgrader_accepts_the_homework_sources(tmp_path):
    """nbgrader generate_assignment on the day-3 homework; autograde on the toy homework."""
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    (course / "source" / "day3").mkdir(parents=True)
    notebooks.write_nbgrader_source(DAY3, course / "source" / "day3")
    toy = toy_homework(tmp_path / "toy")
    notebooks.write_nbgrader_source(toy, course / "source" / "toy")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = {!r}\n"
        "c.CourseDirectory.db_url = 'sqlite:///{}'\n"
        "c.CourseDirectory.db_assignments = [dict(name='day3'), dict(name='toy')]\n"
        "c.CourseDirectory.db_students = [dict(id='alice'), dict(id='bob')]\n"
        "c.ExecutePreprocessor.timeout = 120\n".format(str(course), course / "gradebook.db"))
    env = {**os.environ,  # nbgrader runs the `alembic` command: the environment's bin/ first
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def nbgrader(*args):
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    nbgrader("generate_assignment", "day3", "--force")
    release = (course / "release" / "day3" / "06_ecg_comparison_homework.ipynb").read_text()
    for secret in ("HIDDEN TESTS", "BEGIN SOLUTION", "WRONG", "ALTERNATIVE", "Model answer",
                   "utils.claim(", "leggauss"):
        assert secret not in release, secret
    nbgrader("generate_assignment", "toy", "--force")
    for student, sources in [("alice", None), ("bob", {0: "total = float(np.mean(data))"})]:
        target = course / "submitted" / student / "toy"
        target.mkdir(parents=True)
        nb = answered(toy, student, sources)
        nbformat.write(nb, target / f"{TOY}.ipynb")
    nbgrader("autograde", "toy", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        alice = gb.find_submission("toy", "alice")
        bob = gb.find_submission("toy", "bob")
        assert (alice.code_score, bob.code_score) == (3, 1)
