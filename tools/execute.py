"""Execute a course notebook headless, as the tests and the benchmark do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

#: Environment of an executed notebook: failed exercise checks raise.
NOTEBOOK_ENV = {"XAI_STRICT_CHECKS": "1"}


def execute_notebook(
    path: str | Path, timeout: int = 600, threads: int | None = None
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
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
        client.execute()
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
