"""Execute every tutorial and solution notebook in a fresh kernel.

Each execution also proves three things about the notebook: it prints no wall of
warnings; every number and comparison in its prose is printed or asserted
(``tools/prose.py``); and, for a solution notebook, every commented WRONG answer
variant is rejected by an exercise check while every ALTERNATIVE passes
(``tools/execute.py``).
"""

from __future__ import annotations

import os
import re

import pytest

from tools.execute import execute_notebook, stream_text
from tools.notebooks import ROOT, all_notebooks, is_student
from tools.prose import prose_problems

NOTEBOOKS = [p for p in all_notebooks() if not is_student(p)]
# Several notebooks run in parallel (pytest-xdist): share the cores instead of oversubscribing.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
WARNING_RE = re.compile(r"\w*Warning:")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_notebook_runs_cleanly(path):
    solution = path.stem.endswith("_solution")
    nb, seconds = execute_notebook(path, timeout=600, threads=THREADS, variants=solution)
    stderr = stream_text(nb, "stderr")
    warnings = WARNING_RE.findall(stderr)
    assert len(warnings) <= 2, f"{path.name} printed {len(warnings)} warnings:\n{stderr[:3000]}"
    problems = prose_problems(nb)
    assert not problems, f"{path.name}: prose not backed by the code:\n" + "\n".join(problems)
    bad = [o for o in nb.metadata.get("variant_outcomes", []) if not o["ok"]]
    assert not bad, f"{path.name}: answer variants judged wrongly:\n" + "\n".join(
        f"cell {o['cell']} {o['kind']} ({o['why']}): {o['detail']}" for o in bad
    )
    print(f"{path.name}: {seconds:.1f} s with {THREADS} thread(s)")
