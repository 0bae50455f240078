"""Keep the course notebooks consistent: badge, setup cell, student versions.

Usage (from the repository root)::

    python tools/notebooks.py sync    # rewrite badges + setup cells, regenerate students
    python tools/notebooks.py sync xai-for-image-data/02_grad_cam.ipynb   # only these
    python tools/notebooks.py check   # exit 1 if anything is out of sync (used by the tests)
    python tools/notebooks.py nbgrader HOMEWORK_solution.ipynb --out source/hw1  # nbgrader

Conventions
-----------
* Cell 1 is markdown and starts with the title; its Colab badge line is generated.
* Cell 2 is the setup cell (cell tag ``setup``); its source is generated.
* ``*_solution.ipynb`` is the single source of an exercise notebook. Its student
  version (same name without ``_solution``) is generated:
  - in code cells, the lines from ``# BEGIN SOLUTION: <hint>`` to ``# END SOLUTION``
    become ``raise NotImplementedError("<hint>")`` at the marker's indentation;
  - markdown cells tagged ``solution`` (model answers) become an empty
    "Your answer" cell;
  - cells tagged ``solution-only`` are dropped;
  - the commented variants that follow a solution region (see below) are dropped.

Variants of an answer (proof that a check can fail)
---------------------------------------------------
Right after ``# END SOLUTION`` a solution notebook keeps, commented out, at least one
plausible wrong answer and, where a task admits several, an alternative correct one::

    # BEGIN SOLUTION: hint
    share = pos[mask].sum() / pos.sum()
    # END SOLUTION
    # BEGIN WRONG: divides by the whole map, not its positive part
    # share = pos[mask].sum() / np.abs(attr).sum()
    # END WRONG
    # BEGIN ALTERNATIVE: a loop instead of a mask
    # share = sum(...) / pos.sum()
    # END ALTERNATIVE

``tests/test_notebooks.py`` executes every solution notebook with each variant put in
place of its region (:func:`variant_sources`): a WRONG variant must make an exercise
check fail before the next task's cell, an ALTERNATIVE must pass every check.

Graded homework (nbgrader's format)
-----------------------------------
A solution notebook with at least one cell tagged ``graded`` is a graded homework
(see GRADING.md). ``sync`` derives nbgrader's cell metadata (``metadata.nbgrader``,
schema 3) from the cell tags, so that the solution notebook is an nbgrader source:

* a code cell with a ``# BEGIN SOLUTION`` region: a solution cell;
* a code cell tagged ``graded`` and ``points-N``: an autograded test cell worth N points;
  lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are hidden tests;
* a markdown cell tagged ``solution`` and ``points-N``: a manually graded answer;
* the code cell tagged ``student-id`` (name and ID) and the cell tagged ``submit``
  (the hand-in check) stay without nbgrader metadata: nbgrader keeps what the student
  wrote there.

The ``grade_id`` is the cell id. The student version drops the hidden tests exactly as
nbgrader's ``ClearHiddenTests`` does (the delimiter lines and everything between them).
``python tools/notebooks.py nbgrader SOLUTION --out DIR`` writes the nbgrader source of
a homework: the solution notebook without answer variants and ``solution-only`` cells,
named like the student version.

Slides (reveal.js, built by ``tools/site.py``)
-----------------------------------------------
``sync`` sets every tutorial cell's ``metadata.slideshow.slide_type`` (what nbconvert's
slides exporter reads) from the notebook's structure, so nobody edits slide JSON by hand:
the title cell and every ``#``/``##`` heading cell start a slide, a ``###`` heading cell a
sub-slide (down arrow), the setup cell is skipped, other cells continue the current slide.
A cell tag ``slide``, ``subslide``, ``fragment``, ``skip`` or ``notes`` (speaker notes)
overrides the rule for that cell.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DAY_FOLDERS = ("xai-for-tabular-data", "xai-for-image-data", "xai-for-1d-data")
BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\(.*$", re.MULTILINE)
BEGIN_RE = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<hint>.*))?$")
END_RE = re.compile(r"^\s*# END SOLUTION\s*$")
VARIANT_BEGIN_RE = re.compile(
    r"^(?P<indent>\s*)# BEGIN (?P<kind>WRONG|ALTERNATIVE)(?::\s*(?P<why>.*))?$"
)
VARIANT_END_RE = re.compile(r"^\s*# END (?P<kind>WRONG|ALTERNATIVE)\s*$")
#: Day folders whose notebooks use no neural network: their setup cell does not load torch.
TABULAR_FOLDERS = ("xai-for-tabular-data",)
ANSWER_STUB = "**Your answer:** *(write your answer here)*"
#: Graded homework: cell tags and nbgrader's delimiters (matched as substrings, as nbgrader does).
GRADED_TAG, STUDENT_ID_TAG, SUBMIT_TAG = "graded", "student-id", "submit"
POINTS_RE = re.compile(r"^points-(?P<points>\d+(?:\.\d+)?)$")
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
NBGRADER_SCHEMA = 3
#: Cell tags that choose a cell's slide type (tutorials; see "Slides" above).
SLIDE_TAGS = ("slide", "subslide", "fragment", "skip", "notes")


def _course_config() -> tuple[str, str]:
    """Return the repository URL and the course ref (tag or commit) from ``pyproject.toml``."""
    text = (ROOT / "pyproject.toml").read_text()
    url = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.MULTILINE)
    ref = re.search(r'^\[tool\.xai-course\][^\[]*?^ref\s*=\s*"([^"]+)"', text, re.M | re.S)
    if not url:
        raise ValueError("pyproject.toml: [project.urls] Repository is not set")
    if not ref:
        raise ValueError("pyproject.toml: [tool.xai-course] ref (a tag or commit) is not set")
    return url.group(1).rstrip("/"), ref.group(1)


def repository_url() -> str:
    """Return the course repository URL configured in ``pyproject.toml``."""
    return _course_config()[0]


def course_ref() -> str:
    """Return the tag or commit that badges open and the Colab setup cell fetches."""
    return _course_config()[1]


def setup_source(path: Path | None = None, url: str | None = None, ref: str | None = None) -> str:
    """Return the source of the setup cell of the notebook at ``path``.

    The cell is the same in every notebook of a day; tabular notebooks (day 1) call
    ``setup_notebook(..., deep_learning=False)`` so that they never load torch. In
    Colab it fetches the configured ``ref`` of the repository once per runtime and runs
    ``tools/colab_setup.py``, which installs only the packages the runtime lacks.
    ``url`` and ``ref`` override the configuration (the Colab simulation test uses them).
    """
    url = url or repository_url()
    ref = ref or course_ref()
    tabular = path is not None and Path(path).resolve().parent.name in TABULAR_FOLDERS
    call = "setup_notebook(seed=0, deep_learning=False)" if tabular else (
        "DEVICE = setup_notebook(seed=0)")
    return f'''\
# Setup - generated by tools/notebooks.py, the same in every notebook of the day.
# Local checkout or HPC node: install the course first (see README). In Colab this cell
# fetches the course version of this notebook ({ref}) once per runtime and installs only
# what Colab lacks: Colab's own torch and Jupyter packages are never replaced.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    COURSE_URL, COURSE_REF = "{url}", "{ref}"
    COURSE_DIR = os.environ.get("XAI_COURSE_DIR", "/content/xai-course")
    if not os.path.exists(os.path.join(COURSE_DIR, ".colab-setup-done")):
        for step in (["git", "init", "-q", COURSE_DIR],
                     ["git", "-C", COURSE_DIR, "fetch", "-q", "--depth=1", COURSE_URL, COURSE_REF],
                     ["git", "-C", COURSE_DIR, "checkout", "-q", "FETCH_HEAD"],
                     [sys.executable, os.path.join(COURSE_DIR, "tools", "colab_setup.py")]):
            done = subprocess.run(step, capture_output=True, text=True)
            print(done.stdout, end="")
            if done.returncode != 0:
                raise RuntimeError(f"Course setup failed at: {{' '.join(step)}}\\n"
                                   f"{{done.stderr[-1500:]}}\\nIs the network on, and does "
                                   f"{{COURSE_URL}} have the tag or commit {{COURSE_REF}}?")
    if COURSE_DIR not in sys.path:
        sys.path.insert(0, COURSE_DIR)
        os.environ["PYTHONPATH"] = os.pathsep.join([COURSE_DIR, os.environ.get("PYTHONPATH", "")])

try:
    from utils import setup_notebook
except ModuleNotFoundError as err:  # e.g. a JupyterHub's default kernel
    if err.name != "utils":
        raise
    raise ModuleNotFoundError("This kernel does not have the course installed: choose the "
                              "course's kernel (Kernel > Change Kernel > 'XAI course'); see "
                              "the README, section 'HPC', to register it once.") from None

{call}'''


def badge_line(path: Path) -> str:
    """Return the Markdown Colab badge for a notebook at ``path`` (at the configured ref)."""
    rel = path.resolve().relative_to(ROOT).as_posix()
    github = repository_url().removeprefix("https://github.com/")
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{github}/blob/{course_ref()}/{rel})"
    )


#: Notebooks outside the day folders that ``sync`` keeps too (badge, setup cell, no outputs).
EXTRA_NOTEBOOKS = ("setup_check.ipynb",)


def all_notebooks() -> list[Path]:
    """Return every committed course notebook of the day folders, in teaching order."""
    found = []
    for folder in DAY_FOLDERS:
        found += sorted((ROOT / folder).glob("*.ipynb"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def is_student(path: Path) -> bool:
    """True for a generated student notebook (it has a ``_solution`` sibling)."""
    return path.with_name(path.stem + "_solution.ipynb").exists()


def student_path(solution: Path) -> Path:
    """Return the path of the student version of a solution notebook."""
    return solution.with_name(solution.stem.removesuffix("_solution") + ".ipynb")


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def normalise(nb: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """Return ``nb`` with a generated badge and setup cell and no outputs."""
    nb = copy.deepcopy(nb)
    if len(nb.cells) < 2 or nb.cells[0].cell_type != "markdown":
        raise ValueError(f"{path}: the first cell must be markdown (title and badge)")
    title = nb.cells[0]
    badge = badge_line(path)
    if BADGE_RE.search(title.source):
        title.source = BADGE_RE.sub(lambda _: badge, title.source)
    else:
        title.source = f"{badge}\n\n{title.source}"
    setup = nb.cells[1]
    if setup.cell_type != "code" or "setup" not in _tags(setup):
        raise ValueError(f"{path}: the second cell must be the code cell tagged 'setup'")
    setup.source = setup_source(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}  # fmt: skip
    if is_graded(nb):
        add_nbgrader_metadata(nb, path)
    if is_tutorial(path):
        add_slide_metadata(nb, path)
    else:
        for cell in nb.cells:
            cell.metadata.pop("slideshow", None)
    return nb


def is_tutorial(path: Path) -> bool:
    """True for a tutorial notebook (``NN_topic.ipynb``: no exercise or homework suffix)."""
    stem = path.stem
    return not (stem.endswith(("_solution", "_exercises", "_homework")) or is_student(path))


def slide_type(cell: nbformat.NotebookNode, index: int) -> str:
    """Return the reveal.js slide type of a tutorial cell (see "Slides" in the module doc)."""
    chosen = [t for t in _tags(cell) if t in SLIDE_TAGS]
    if len(chosen) > 1:
        raise ValueError(f"cell {index}: at most one slide tag, got {chosen}")
    if chosen:
        return chosen[0]
    if index == 0:
        return "slide"
    if "setup" in _tags(cell):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if re.match(r"#{1,2} ", first):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def add_slide_metadata(nb: nbformat.NotebookNode, path: Path | str = "notebook") -> None:
    """Set ``metadata.slideshow.slide_type`` of every cell of a tutorial ``nb`` in place."""
    for index, cell in enumerate(nb.cells):
        try:
            cell.metadata["slideshow"] = {"slide_type": slide_type(cell, index)}
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def is_graded(nb: nbformat.NotebookNode) -> bool:
    """True for a graded homework: a notebook with a cell tagged ``graded``."""
    return any(GRADED_TAG in _tags(cell) for cell in nb.cells)


def cell_points(cell: nbformat.NotebookNode) -> float | None:
    """Return the points of a cell's ``points-N`` tag, or None without one."""
    found = [m.group("points") for m in map(POINTS_RE.match, _tags(cell)) if m]
    if len(found) > 1:
        raise ValueError(f"cell {cell.get('id')}: more than one points-N tag")
    if not found:
        return None
    value = float(found[0])
    return int(value) if value.is_integer() else value


def _has_solution_region(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and any(BEGIN_RE.match(x) for x in cell.source.splitlines())


def nbgrader_cell_metadata(cell: nbformat.NotebookNode, where: str) -> dict | None:
    """Return the nbgrader metadata (schema 3) of a cell of a graded homework.

    None for a cell that nbgrader does not treat specially (instructions, context code,
    the name/ID cell, the hand-in cell). Raises ``ValueError`` for tags that contradict
    each other (e.g. a graded cell without points, a solution region in a test cell).
    """
    tags, points = _tags(cell), cell_points(cell)
    base = {"grade_id": cell.get("id") or "", "locked": False, "schema_version": NBGRADER_SCHEMA,
            "task": False}  # fmt: skip
    if not base["grade_id"]:
        raise ValueError(f"{where}: a graded homework needs cell ids (nbformat >= 4.5)")
    hidden = HIDDEN_BEGIN in cell.source or HIDDEN_END in cell.source
    if GRADED_TAG in tags:
        if cell.cell_type != "code" or points is None or _has_solution_region(cell):
            raise ValueError(f"{where}: a 'graded' cell is a code cell with a 'points-N' tag "
                             "and no solution region (put the answer in the cell before it)")
        return {**base, "grade": True, "solution": False, "locked": True, "points": points}
    if hidden:
        raise ValueError(f"{where}: hidden tests belong in a cell tagged 'graded'")
    if _has_solution_region(cell):
        if points is not None or {STUDENT_ID_TAG, SUBMIT_TAG} & set(tags):
            raise ValueError(f"{where}: a solution cell carries no points (its test cell does) "
                             "and is neither the name/ID nor the hand-in cell")
        return {**base, "grade": False, "solution": True}
    if cell.cell_type == "markdown" and "solution" in tags:
        if points is None:
            raise ValueError(f"{where}: a model answer of a graded homework needs 'points-N'")
        return {**base, "grade": True, "solution": True, "points": points}
    if points is not None:
        raise ValueError(f"{where}: 'points-N' only on a 'graded' test cell or a model answer")
    return None


def add_nbgrader_metadata(nb: nbformat.NotebookNode, path: Path | str = "notebook") -> None:
    """Set ``metadata.nbgrader`` of every cell of a graded homework from its tags (in place).

    Also checks the homework: exactly one name/ID cell, at most one hand-in cell, at least
    one graded test cell, balanced hidden-test delimiters.
    """
    name = Path(path).name
    stem = Path(path).stem
    nb.metadata["homework"] = stem.removesuffix("_solution")  # the name submissions carry
    ids = [c for c in nb.cells if STUDENT_ID_TAG in _tags(c)]
    if len(ids) != 1 or ids[0].cell_type != "code":
        raise ValueError(f"{name}: a graded homework needs exactly one code cell tagged "
                         f"'{STUDENT_ID_TAG}' (the student's name and ID), found {len(ids)}")
    if sum(SUBMIT_TAG in _tags(c) for c in nb.cells) > 1:
        raise ValueError(f"{name}: more than one cell tagged '{SUBMIT_TAG}'")
    for i, cell in enumerate(nb.cells):
        meta = nbgrader_cell_metadata(cell, f"{name} cell {i}")
        if meta is None:
            cell.metadata.pop("nbgrader", None)
        else:
            cell.metadata["nbgrader"] = meta
        if cell.cell_type == "code":
            strip_hidden_tests(cell.source, f"{name} cell {i}")  # validates the delimiters


def strip_hidden_tests(source: str, where: str = "cell") -> str:
    """Remove hidden tests as nbgrader's ``ClearHiddenTests`` does.

    Every line that contains ``BEGIN HIDDEN TESTS``, every line up to the next one that
    contains ``END HIDDEN TESTS`` and that line are dropped.
    """
    return _drop_blocks(source, lambda line: HIDDEN_BEGIN in line,
                        lambda line: HIDDEN_END in line, where, "HIDDEN TESTS")


def _drop_blocks(source: str, is_begin, is_end, where: str, label: str) -> str:
    """Drop every block of lines from an ``is_begin`` line to the next ``is_end`` line.

    ``label`` names the block in errors: ``BEGIN <label>`` / ``END <label>``.
    """
    out, inside = [], False
    for line in source.split("\n"):
        if is_begin(line):
            if inside:
                raise ValueError(f"{where}: nested 'BEGIN {label}'")
            inside = True
        elif is_end(line):
            if not inside:
                raise ValueError(f"{where}: 'END {label}' without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: 'BEGIN {label}' without END")
    return "\n".join(out)


def _strip_solutions(source: str, where: str) -> str:
    out, inside = [], False
    for line in _drop_variants(source, where).splitlines():
        begin = BEGIN_RE.match(line)
        if begin:
            if inside:
                raise ValueError(f"{where}: nested '# BEGIN SOLUTION'")
            inside = True
            hint = (begin.group("hint") or "complete this part.").strip()
            out.append(f"{begin.group('indent')}# TODO: {hint}")
            out.append(f"{begin.group('indent')}raise NotImplementedError({hint!r})")
        elif END_RE.match(line):
            if not inside:
                raise ValueError(f"{where}: '# END SOLUTION' without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '# BEGIN SOLUTION' without END")
    return "\n".join(out)


def _parse_regions(source: str, where: str) -> list[dict]:
    """Return the solution regions of a cell with the variants that follow each.

    Each region is a dict with ``start``/``stop`` (line indices of its BEGIN and END
    markers), ``indent`` and ``variants``: a list of ``(kind, why, code)``, where
    ``code`` is the uncommented variant at the region's indentation.
    """
    lines = source.splitlines()
    regions: list[dict] = []
    i = 0
    while i < len(lines):
        begin = BEGIN_RE.match(lines[i])
        vbegin = VARIANT_BEGIN_RE.match(lines[i])
        if begin:
            stop = next((j for j in range(i + 1, len(lines)) if END_RE.match(lines[j])), None)
            if stop is None:
                raise ValueError(f"{where}: '# BEGIN SOLUTION' without END")
            regions.append({"start": i, "stop": stop, "indent": begin.group("indent"),
                            "variants": []})  # fmt: skip
            i = stop + 1
        elif vbegin:
            kind, indent = vbegin.group("kind"), vbegin.group("indent")
            if not regions or not all(
                VARIANT_BEGIN_RE.match(x) or VARIANT_END_RE.match(x) or x.startswith(f"{indent}#")
                for x in lines[regions[-1]["stop"] + 1 : i]
            ):
                raise ValueError(f"{where}: '# BEGIN {kind}' must follow '# END SOLUTION'")
            stop = next((j for j in range(i + 1, len(lines)) if VARIANT_END_RE.match(lines[j])),
                        None)  # fmt: skip
            if stop is None or VARIANT_END_RE.match(lines[stop]).group("kind") != kind:
                raise ValueError(f"{where}: '# BEGIN {kind}' without '# END {kind}'")
            code = []
            for raw in lines[i + 1 : stop]:
                if raw.strip() == "#":
                    code.append("")
                elif raw.startswith(f"{indent}# "):
                    code.append(indent + raw[len(indent) + 2 :])
                else:
                    raise ValueError(f"{where}: every line of a {kind} variant must be "
                                     f"commented as '{indent}# ...', got {raw!r}")  # fmt: skip
            why = (vbegin.group("why") or "").strip()
            if not why:
                raise ValueError(f"{where}: '# BEGIN {kind}' needs a reason after a colon")
            regions[-1]["variants"].append((kind, why, "\n".join(code)))
            i = stop + 1
        elif VARIANT_END_RE.match(lines[i]) or END_RE.match(lines[i]):
            raise ValueError(f"{where}: {lines[i].strip()!r} without BEGIN")
        else:
            i += 1
    return regions


def _drop_variants(source: str, where: str) -> str:
    """Return ``source`` without the commented WRONG/ALTERNATIVE blocks."""
    _parse_regions(source, where)  # validates the markers
    return _without_variant_blocks(source)


def _without_variant_blocks(source: str, where: str = "cell") -> str:
    return _drop_blocks(source, VARIANT_BEGIN_RE.match, VARIANT_END_RE.match, where,
                        "WRONG/ALTERNATIVE")


def variant_sources(source: str, where: str = "cell") -> list[tuple[str, str, str]]:
    """Return ``(kind, why, cell source)`` for every answer variant in a solution cell.

    The cell source is the original with the variant's region replaced by the
    variant's code (the other regions keep their solutions).
    """
    lines = source.splitlines()
    found = []
    for region in _parse_regions(source, where):
        for kind, why, code in region["variants"]:
            new = [*lines[: region["start"]], *code.splitlines(), *lines[region["stop"] + 1 :]]
            found.append((kind, why, _without_variant_blocks("\n".join(new))))
    return found


def count_regions(source: str, where: str = "cell") -> tuple[int, int, int]:
    """Return (solution regions, regions with a WRONG variant, ALTERNATIVE variants)."""
    regions = _parse_regions(source, where)
    wrong = sum(any(k == "WRONG" for k, _, _ in r["variants"]) for r in regions)
    alternatives = sum(k == "ALTERNATIVE" for r in regions for k, _, _ in r["variants"])
    return len(regions), wrong, alternatives


def make_student(solution: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """Generate the student notebook from a (normalised) solution notebook."""
    student = copy.deepcopy(solution)
    cells = []
    for i, cell in enumerate(student.cells):
        tags = _tags(cell)
        if "solution-only" in tags:
            continue
        if cell.cell_type == "markdown" and "solution" in tags:
            answer = nbformat.v4.new_markdown_cell(ANSWER_STUB, metadata={"tags": ["answer"]})
            answer.id = cell.id  # deterministic output: keep the solution cell's id
            if "nbgrader" in cell.metadata:  # a graded answer stays one for nbgrader
                answer.metadata["nbgrader"] = cell.metadata["nbgrader"]
            cell = answer
        elif cell.cell_type == "code":
            cell.source = _strip_solutions(cell.source, f"{path.name} cell {i}")
            if GRADED_TAG in tags:
                cell.source = strip_hidden_tests(cell.source, f"{path.name} cell {i}")
        cells.append(cell)
    student.cells = cells
    if path.resolve().is_relative_to(ROOT):  # a course notebook (not a test's synthetic one)
        title = student.cells[0]
        title.source = title.source.replace(badge_line(path), badge_line(student_path(path)))
    return student


def nbgrader_source(solution: Path | str) -> nbformat.NotebookNode:
    """Return the nbgrader source of a graded homework (see the module docstring).

    The solution notebook with its nbgrader metadata, without the commented answer
    variants (an ALTERNATIVE is a correct answer: nbgrader would hand it out) and without
    ``solution-only`` cells (nbgrader has no such cells); outputs stripped.
    """
    path = Path(solution).resolve()
    nb = nbformat.read(path, as_version=4)
    nb = normalise(nb, path) if path.is_relative_to(ROOT) else nb
    if not is_graded(nb):
        raise ValueError(f"{path.name} is not a graded homework (no cell tagged 'graded')")
    nb.cells = [c for c in nb.cells if "solution-only" not in _tags(c)]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            lines = []
            for line in _drop_variants(cell.source, f"{path.name} cell {i}").splitlines():
                begin = BEGIN_RE.match(line)
                if begin and begin.group("hint"):  # nbgrader drops the marker line: keep the hint
                    lines += [f"{begin.group('indent')}# TODO: {begin.group('hint').strip()}",
                              f"{begin.group('indent')}# BEGIN SOLUTION"]  # fmt: skip
                else:
                    lines.append(line)
            cell.source = "\n".join(lines)
    if path.is_relative_to(ROOT):
        title = nb.cells[0]
        title.source = title.source.replace(badge_line(path), badge_line(student_path(path)))
    return nb


def write_nbgrader_source(solution: Path | str, out_dir: Path | str) -> Path:
    """Write :func:`nbgrader_source` to ``out_dir`` under the student notebook's name."""
    target = Path(out_dir) / student_path(Path(solution)).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_dump(nbgrader_source(solution)))
    return target


def _dump(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def expected_files(only: list[Path] | None = None) -> dict[Path, str]:
    """Return notebook paths (all, or ``only``) with the text they should have after ``sync``."""
    expected = {}
    chosen = [p.resolve() for p in only] if only else [
        *all_notebooks(), *(ROOT / name for name in EXTRA_NOTEBOOKS)]
    for path in chosen:
        if is_student(path):
            continue
        nb = normalise(nbformat.read(path, as_version=4), path)
        expected[path] = _dump(nb)
        if path.stem.endswith("_solution"):
            expected[student_path(path)] = _dump(make_student(nb, path))
    return expected


def out_of_sync() -> list[Path]:
    """Return the notebooks whose text differs from what ``sync`` would write."""
    stale = [p for p, text in expected_files().items() if not p.exists() or p.read_text() != text]
    # a student notebook whose solution was removed or renamed
    orphans = [p for p in all_notebooks() if p.stem.endswith("_exercises") and not is_student(p)]
    return stale + orphans


def main(argv: list[str]) -> int:
    if argv[1:2] == ["sync"]:
        only = [Path(p) for p in argv[2:]]
        missing = [p for p in only if not p.is_file()]
        if missing:
            print(f"no such notebook: {missing}")
            return 2
        for path, text in expected_files(only or None).items():
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv[1:2] == ["nbgrader"]:
        args = argv[2:]
        if "--out" not in args or args.index("--out") + 1 >= len(args):
            print("usage: python tools/notebooks.py nbgrader SOLUTION... --out DIR")
            return 2
        at = args.index("--out")
        out, paths = Path(args[at + 1]), [Path(p) for p in args[:at] + args[at + 2 :]]
        for path in paths:
            written = write_nbgrader_source(path, out)
            print(f"wrote {written}")
        return 0
    if argv[1:] == ["check"]:
        stale = out_of_sync()
        for path in stale:
            print(f"out of sync: {path.relative_to(ROOT)}")
        if stale:
            print("run: python tools/notebooks.py sync")
        return 1 if stale else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
