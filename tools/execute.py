"""Execute a course notebook headless, as the tests and the benchmark do."""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbclient.util import run_sync

from tools.notebooks import BEGIN_RE, variant_sources

#: Environment of an executed notebook: failed exercise checks raise.
NOTEBOOK_ENV = {"XAI_STRICT_CHECKS": "1"}


@dataclass
class VariantOutcome:
    """What happened when one answer variant was put in place of its solution."""

    cell: int
    kind: str  # "WRONG" or "ALTERNATIVE"
    why: str
    ok: bool  # WRONG: a check rejected it; ALTERNATIVE: every check passed
    detail: str


class VariantClient(NotebookClient):
    """Execute a solution notebook and, before each task's cell, every answer variant.

    For a cell with solution regions, each variant (see ``tools/notebooks.py``) is run in
    its place together with the following cells up to the next task's cell; then the
    real cell runs and execution goes on, so the variants never change what the
    notebook's own outputs show. A WRONG variant must end in a failed exercise check
    (``AssertionError: check ...`` under ``XAI_STRICT_CHECKS=1``); an ALTERNATIVE
    must run through its window with at least one passed check and none failed.
    """

    outcomes: list[VariantOutcome]

    async def async_execute(self, reset_kc: bool = False, **kwargs: Any) -> nbformat.NotebookNode:
        self.outcomes = []
        self.reset_execution_trackers()
        cells = self.nb.cells
        tasks = [i for i, c in enumerate(cells) if c.cell_type == "code"
                 and any(BEGIN_RE.match(line) for line in c.source.splitlines())]  # fmt: skip
        async with self.async_setup_kernel(**kwargs):
            for index, cell in enumerate(cells):
                if index in tasks:
                    stop = next((t for t in tasks if t > index), len(cells))
                    for kind, why, source in variant_sources(cell.source, f"cell {index}"):
                        self.outcomes.append(await self._try(index, stop, kind, why, source))
                await self.async_execute_cell(cell, index, execution_count=index + 1)
        return self.nb

    execute = run_sync(async_execute)

    async def _try(
        self, start: int, stop: int, kind: str, why: str, source: str
    ) -> VariantOutcome:
        window = [copy.deepcopy(c) for c in self.nb.cells[start:stop]]
        window[0].source = source
        printed = ""
        for offset, cell in enumerate(window):
            if cell.cell_type != "code":
                continue
            try:
                await self.async_execute_cell(cell, start + offset, execution_count=None)
            except CellExecutionError as err:
                failed_check = err.ename == "AssertionError" and err.evalue.startswith("check ")
                ok = kind == "WRONG" and failed_check
                detail = f"cell {start + offset}: {err.ename}: {err.evalue[:300]}"
                return VariantOutcome(start, kind, why, ok, detail)
            printed += "".join(o.get("text", "") for o in cell.outputs)
        if kind == "WRONG":
            return VariantOutcome(start, kind, why, False, "every check accepted it")
        passed = "✅" in printed
        detail = "all checks passed" if passed else "no check ran in its window"
        return VariantOutcome(start, kind, why, passed, detail)


def execute_notebook(
    path: str | Path, timeout: int = 600, threads: int | None = None, variants: bool = False
) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell of a notebook in a fresh kernel, in the notebook's folder.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file.
    timeout : int, default 600
        Seconds allowed per cell.
    threads : int, optional
        Limit BLAS/OpenMP/torch threads of the kernel (set when several
        notebooks run in parallel, to avoid oversubscribing the cores).
    variants : bool, default False
        Also run every answer variant of a solution notebook (:class:`VariantClient`);
        the outcomes are in ``notebook.metadata["variant_outcomes"]``.

    Returns
    -------
    notebook : nbformat.NotebookNode
        The executed notebook with its outputs.
    seconds : float
        Wall time of the execution, kernel start included.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in [*NOTEBOOK_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS"]}
    os.environ.update(NOTEBOOK_ENV)
    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    try:
        start = time.perf_counter()
        kind = VariantClient if variants else NotebookClient
        client = kind(nb, timeout=timeout, kernel_name="python3",
                      resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
        try:
            client.execute()
        except CellExecutionError as err:
            err.notebook = nb  # what ran so far, outputs included (kept by batch runs)
            raise
        if variants:
            nb.metadata["variant_outcomes"] = [o.__dict__ for o in client.outcomes]
        return nb, time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stream_text(nb: nbformat.NotebookNode, name: str = "stderr") -> str:
    """Return everything the notebook printed to one stream (``stdout``/``stderr``)."""
    return "".join(
        out.get("text", "")
        for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("name") == name
    )  # fmt: skip
