"""The course schedule (docs/schedule.md) and the notebooks' ``**Time:**`` lines agree.

Every tutorial, exercise-solution and homework-solution notebook carries one line in its first
markdown cell::

    **Time:** live 25 min (§1–4) · self-study 15 min (§5 MDI) · **Prerequisites:** ...

Parts are separated by `` · ``; each is ``<kind> <N> min`` with an optional parenthesis, kind one
of ``live``, ``in class``, ``homework``, ``self-study``; a part that does not start with a kind
(prerequisites, a remark) is ignored. The schedule has one section per day (``## Day N``) with its
slot (``**Slot:** 240 min``), a timetable (``| start | min | kind | notebook | ...``) whose minutes
add up to the slot, and an after-class table (``| kind | min | notebook | ...``). The tests check
that the minutes of each notebook in the schedule are the minutes of its Time line, and that every
notebook of a day folder is scheduled.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from tools.notebooks import ROOT, all_notebooks, is_student

KINDS = ("live", "in class", "homework", "self-study")
TIMETABLE_KINDS = ("intro", "live", "in class", "break", "wrap-up")
AFTER_CLASS_KINDS = ("homework", "self-study")
DAYS = {1: "xai-for-tabular-data", 2: "xai-for-image-data", 3: "xai-for-1d-data"}
SCHEDULE = ROOT / "docs" / "schedule.md"

PART_RE = re.compile(
    r"^(?P<kind>live|in class|homework|self-study) (?P<min>\d+) min(?: \((?P<what>[^()]+)\))?$"
)
LINK_RE = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+\.ipynb)(?:#[^)]*)?\)")


def parse_time_line(text: str) -> list[tuple[str, int, str]]:
    """Return the ``(kind, minutes, what)`` parts of the one ``**Time:**`` line in ``text``.

    Raises ``ValueError`` when there is no such line, more than one, no part with a kind, or a part
    that starts with a kind but is not ``<kind> <N> min`` with an optional parenthesis.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("**Time:**")]
    if len(lines) != 1:
        raise ValueError(f"expected one line starting with '**Time:**', found {len(lines)}")
    parts = []
    for raw in lines[0].removeprefix("**Time:**").split(" · "):
        part = raw.strip()
        if not part.startswith(KINDS):
            continue  # prerequisites, a remark: ignored
        match = PART_RE.match(part)
        if match is None:
            raise ValueError(f"bad Time part {part!r}: expected '<kind> <N> min (what)'")
        parts.append((match["kind"], int(match["min"]), match["what"] or ""))
    if not parts:
        raise ValueError(f"the Time line {lines[0]!r} has no part '<kind> <N> min'")
    return parts


def source_notebooks(root: Path = ROOT) -> list[Path]:
    """Tutorials, exercise solutions and homework solutions: every notebook except the generated."""
    found = []
    for folder in DAYS.values():
        found += sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if not is_student(p)]


def _source_of(path: Path) -> Path:
    """The notebook that owns the Time line of ``path`` (a student version -> its solution)."""
    solution = path.with_name(path.stem + "_solution.ipynb")
    return solution if solution.exists() else path


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _minutes(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_schedule(path: Path) -> dict[int, dict]:
    """Read the slot, the timetable and the after-class table of every ``## Day N`` section."""
    days: dict[int, dict] = {}
    day = None
    header: list[str] | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        heading = re.match(r"^## Day (\d)\b", line)
        if heading:
            day = int(heading[1])
            days[day] = {"slot": None, "timetable": [], "after": []}
            header = None
            continue
        if line.startswith("## "):
            day, header = None, None
            continue
        if day is None:
            continue
        slot = re.search(r"\*\*Slot:\*\* (\d+) min", line)
        if slot:
            days[day]["slot"] = int(slot[1])
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: "):
            continue  # the separator row
        row = dict(zip(header, cells, strict=False))
        row["line"] = number
        links = LINK_RE.findall(row.get("notebook", ""))
        row["notebooks"] = [(path.parent / target).resolve() for target in links]
        if header[:3] == ["start", "min", "kind"]:
            days[day]["timetable"].append(row)
        elif header[:2] == ["kind", "min"]:
            days[day]["after"].append(row)
    return days


def schedule_problems(schedule: Path, notebooks: list[Path]) -> list[str]:
    """Everything in which the schedule and the notebooks' Time lines disagree."""
    problems = []
    days = parse_schedule(schedule)
    if sorted(days) != sorted(DAYS):
        problems.append(f"the schedule has days {sorted(days)}, expected {sorted(DAYS)}")
    planned: dict[Path, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    day_of: dict[Path, int] = {}
    for number, day in days.items():
        if not day["slot"]:
            problems.append(f"day {number}: no '**Slot:** N min' line")
            continue
        clock = 0
        for row in day["timetable"]:
            kind, minutes = row.get("kind", ""), _minutes(row.get("min", ""))
            if kind not in TIMETABLE_KINDS or minutes is None:
                problems.append(f"line {row['line']}: kind {kind!r} / min {row.get('min')!r}")
                continue
            start = re.fullmatch(r"(\d+):(\d\d)", row.get("start", ""))
            if not start or int(start[1]) * 60 + int(start[2]) != clock:
                problems.append(f"line {row['line']}: start {row.get('start')!r}, expected "
                                f"{clock // 60}:{clock % 60:02d}")  # fmt: skip
            clock += minutes
            if kind in ("live", "in class") and not row["notebooks"]:
                problems.append(f"line {row['line']}: a {kind} block names no notebook")
            for nb in row["notebooks"]:
                planned[_source_of(nb)][kind].append(minutes)
                day_of[_source_of(nb)] = number
        if clock != day["slot"]:
            problems.append(f"day {number}: the timetable adds up to {clock} min, "
                            f"the slot is {day['slot']} min")  # fmt: skip
        for row in day["after"]:
            kind = row.get("kind", "")
            if kind not in AFTER_CLASS_KINDS or not row["notebooks"]:
                problems.append(f"line {row['line']}: after-class kind {kind!r} or no notebook")
                continue
            for nb in row["notebooks"]:
                planned[_source_of(nb)][kind].append(_minutes(row.get("min", "")))
                day_of[_source_of(nb)] = number
    for nb, number in day_of.items():
        if not nb.exists():
            problems.append(f"day {number} links a missing notebook {nb.name}")
        elif nb.parent.name != DAYS.get(number):
            problems.append(
                f"{nb.name} is scheduled on day {number}, but lives in {nb.parent.name}"
            )
    for nb in notebooks:
        name = f"{nb.parent.name}/{nb.name}"
        try:
            parts = parse_time_line(nbformat.read(nb, as_version=4).cells[0].source)
        except ValueError as error:
            problems.append(f"{name}: {error}")
            continue
        if nb not in planned:
            problems.append(f"{name} is not in the schedule")
            continue
        own: dict[str, int] = defaultdict(int)
        for kind, minutes, _ in parts:
            own[kind] += minutes
        for kind in KINDS:
            listed = planned[nb].get(kind, [])
            if kind in ("live", "in class") or all(m is not None for m in listed):
                scheduled = sum(m or 0 for m in listed)
                if scheduled != own.get(kind, 0):
                    problems.append(f"{name}: {kind} {own.get(kind, 0)} min in its Time line, "
                                    f"{scheduled} min in the schedule")  # fmt: skip
            elif kind not in own:  # listed with 'see notebook' minutes: the notebook must say
                problems.append(f"{name}: scheduled as {kind}, its Time line has no {kind} part")
    return problems


@pytest.mark.parametrize("path", source_notebooks(), ids=lambda p: p.name)
def test_time_line(path):
    parts = parse_time_line(nbformat.read(path, as_version=4).cells[0].source)
    assert sum(minutes for _, minutes, _ in parts) > 0


def test_schedule_agrees_with_the_notebooks():
    problems = schedule_problems(SCHEDULE, source_notebooks())
    assert not problems, "docs/schedule.md and the Time lines disagree:\n" + "\n".join(problems)


def test_every_course_notebook_is_a_source_or_a_student_version():
    assert set(source_notebooks()) <= set(all_notebooks())
    for path in all_notebooks():
        assert path in source_notebooks() or is_student(path), path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("**Time:** live 40 min (§1–3) · self-study 20 min (§4 Pitfalls)",
         [("live", 40, "§1–3"), ("self-study", 20, "§4 Pitfalls")]),
        ("**Time:** in class 20 min (tasks 1–2) · homework 25 min (tasks 3–4)",
         [("in class", 20, "tasks 1–2"), ("homework", 25, "tasks 3–4")]),
        ("**Time:** self-study 45 min · **Prerequisites:** notebook 02",
         [("self-study", 45, "")]),
    ],
)  # fmt: skip
def test_parse_time_line(line, expected):
    assert parse_time_line(f"# Title\n\nText.\n\n{line}\n") == expected


@pytest.mark.parametrize(
    "text",
    [
        "# Title without a time line",
        "**Time:** ~30 min",
        "**Time:** live about 30 min",
        "**Time:** live 30 min (§1) · homework 10 minutes",
        "**Time:** live 30 min\n**Time:** homework 10 min",
    ],
)
def test_parse_time_line_rejects(text):
    with pytest.raises(ValueError):
        parse_time_line(text)


@pytest.fixture()
def course_copy(tmp_path) -> Path:
    """The schedule and the day folders' notebooks in a temporary copy of the repository."""
    (tmp_path / "docs").mkdir()
    shutil.copy(SCHEDULE, tmp_path / "docs" / "schedule.md")
    for folder in DAYS.values():
        (tmp_path / folder).mkdir()
        for path in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"):
            shutil.copy(path, tmp_path / folder / path.name)
    return tmp_path


def test_the_copy_is_accepted(course_copy):
    assert (
        schedule_problems(course_copy / "docs" / "schedule.md", source_notebooks(course_copy)) == []
    )


def test_a_sum_off_by_five_minutes_is_rejected(course_copy):
    schedule = course_copy / "docs" / "schedule.md"
    text = schedule.read_text()
    slot = re.search(r"\*\*Slot:\*\* (\d+) min", text)
    schedule.write_text(text.replace(slot[0], f"**Slot:** {int(slot[1]) + 5} min", 1))
    problems = schedule_problems(schedule, source_notebooks(course_copy))
    assert any("adds up to" in p for p in problems), problems


def test_a_longer_live_block_is_rejected(course_copy):
    schedule = course_copy / "docs" / "schedule.md"
    lines = schedule.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if re.match(r"^\| [\d:]+ \| \d+ \| live \|", line))
    cells = _cells(lines[at])
    cells[1] = str(int(cells[1]) + 5)
    lines[at] = "| " + " | ".join(cells) + " |"
    schedule.write_text("\n".join(lines) + "\n")
    problems = schedule_problems(schedule, source_notebooks(course_copy))
    assert any("in the schedule" in p for p in problems), problems
    assert any("adds up to" in p for p in problems), problems


def test_a_missing_notebook_is_rejected(course_copy):
    schedule = course_copy / "docs" / "schedule.md"
    text = schedule.read_text()
    lines = [line for line in text.splitlines() if "02_shap_exercises.ipynb" not in line]
    schedule.write_text("\n".join(lines) + "\n")
    problems = schedule_problems(schedule, source_notebooks(course_copy))
    assert any("02_shap_exercises_solution.ipynb is not in the schedule" in p for p in problems), (
        problems
    )


def test_an_unscheduled_new_notebook_is_rejected(course_copy):
    tutorial = course_copy / DAYS[2] / "01_cnn_internals.ipynb"
    shutil.copy(tutorial, course_copy / DAYS[2] / "99_new_deep_dive.ipynb")
    problems = schedule_problems(
        course_copy / "docs" / "schedule.md", source_notebooks(course_copy)
    )
    assert any("99_new_deep_dive.ipynb is not in the schedule" in p for p in problems), problems


def test_a_bad_time_line_is_rejected(course_copy):
    path = course_copy / DAYS[1] / "02_shap.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = re.sub(r"\*\*Time:\*\*.*", "**Time:** ~60 min", nb.cells[0].source)
    nbformat.write(nb, path)
    problems = schedule_problems(
        course_copy / "docs" / "schedule.md", source_notebooks(course_copy)
    )
    assert any("02_shap.ipynb" in p and "no part" in p for p in problems), problems
