"""Execute every tutorial and solution notebook in a fresh kernel."""

from __future__ import annotations

import os
import re

import pytest

from tools.execute import execute_notebook, stream_text
from tools.notebooks import ROOT, all_notebooks, is_student

NOTEBOOKS = [p for p in all_notebooks() if not is_student(p)]
# Several notebooks run in parallel (pytest-xdist): share the cores instead of oversubscribing.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
WARNING_RE = re.compile(r"\w*Warning:")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_notebook_runs_cleanly(path):
    nb, seconds = execute_notebook(path, timeout=600, threads=THREADS)
    stderr = stream_text(nb, "stderr")
    warnings = WARNING_RE.findall(stderr)
    assert len(warnings) <= 2, f"{path.name} printed {len(warnings)} warnings:\n{stderr[:3000]}"
    print(f"{path.name}: {seconds:.1f} s with {THREADS} thread(s)")
