"""Time the grader on N synthetic submissions of the day-3 homework.

Usage: ``python tools/grading/benchmark.py 30 [--jobs 2] [--isolation auto] [--keep DIR]``

The submissions are the student version filled in with the solution's answers, every
third one with a wrong answer variant in one task and every fifth left untouched, so
that passing, failing and crashing runs are all timed. Prints the wall time and the
score distribution.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import nbformat  # noqa: E402

from tools import notebooks  # noqa: E402
from tools.grading.grade import grade  # noqa: E402

HOMEWORK = notebooks.ROOT / "xai-for-1d-data" / "06_ecg_comparison_homework_solution.ipynb"


def submissions(solution: Path, n: int, folder: Path) -> None:
    """Write ``n`` submissions ``s01_<homework>.ipynb`` ... into ``folder``."""
    sol = nbformat.read(solution, as_version=4)
    name = notebooks.student_path(solution).stem
    answers = [c for c in sol.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    wrong = [[code for kind, _, code in notebooks.variant_sources(c.source) if kind == "WRONG"]
             for c in answers]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(1, n + 1):
        nb = notebooks.make_student(sol, solution)
        task = 0
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if "student-id" in cell.metadata.get("tags", []):
                cell.source = f'STUDENT_NAME = "Student {k}"\nSTUDENT_ID = "s{k:02d}"'
            elif meta.get("solution") and cell.cell_type == "code" and k % 5:
                source = notebooks._drop_variants(answers[task].source, "benchmark")
                if k % 3 == 0 and task == (k // 3) % len(answers):
                    source = wrong[task][0]
                cell.source = source
                task += 1
            elif meta.get("solution") and k % 5:
                cell.source = f"An answer of student {k}."
        nbformat.write(nb, folder / f"s{k:02d}_{name}.ipynb")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--keep", help="keep the submissions and the reports in this folder")
    args = parser.parse_args(argv)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="xai-bench-"))
    try:
        submissions(HOMEWORK, args.n, base / "submissions")
        start = time.perf_counter()
        report = grade(HOMEWORK, base / "submissions", base / "graded", jobs=args.jobs,
                       isolation=args.isolation)  # fmt: skip
        seconds = time.perf_counter() - start
        totals = Counter(r.total(report.homework)[0] for r in report.results)
        print(f"{args.n} submissions, {args.jobs} jobs, isolation {report.isolation.mode}: "
              f"{seconds:.0f} s ({seconds / 60:.1f} min); automatic points: "
              + ", ".join(f"{p:g}: {c}" for p, c in sorted(totals.items())))  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
