"""Grade the submissions of one homework without nbgrader: scores, feedback, written answers.

Usage (from the repository root; see GRADING.md)::

    python tools/grade.py xai-for-1d-data/06_ecg_comparison_homework_solution.ipynb \\
        submissions/ --out graded/ [--jobs 2] [--timeout 600] [--memory-mb 6144] \\
        [--isolation auto|full|basic] [--manual written.csv]

``submissions/`` holds ``<student-id>_<homework>.ipynb`` files (what ``tools/submit.py``
writes) or nbgrader's ``<student-id>/<homework>.ipynb``. ``graded/`` receives
``scores.csv``, ``scores.md``, ``feedback/<student>.md``, ``answers/<question>.md`` and
``grading-log.md``. Run it as root for full isolation of the submissions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.grading.grade import GradingError, grade  # noqa: E402
from tools.grading.sandbox import Limits  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("homework", help="the instructor's *_homework_solution.ipynb")
    parser.add_argument("submissions", help="folder of submitted notebooks")
    parser.add_argument("--out", required=True, help="folder for the score table and feedback")
    parser.add_argument("--jobs", type=int, default=2, help="submissions run in parallel")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="wall-time limit of one submission, seconds")
    parser.add_argument("--memory-mb", type=int, default=6144,
                        help="address-space limit of one submission (torch maps ~4 GB)")
    parser.add_argument("--isolation", choices=["auto", "full", "basic"], default="auto")
    parser.add_argument("--manual", help="CSV of points for the written answers: "
                                         "student,task,points[,comment]")
    args = parser.parse_args(argv)
    limits = Limits(wall_s=args.timeout, memory_mb=args.memory_mb)
    try:
        grade(args.homework, args.submissions, args.out, jobs=args.jobs, limits=limits,
              isolation=args.isolation, manual=args.manual)
    except (GradingError, ValueError, RuntimeError) as err:
        print(f"grading failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
