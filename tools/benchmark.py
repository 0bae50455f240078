"""Execute notebooks one at a time and record wall time and peak memory (also the batch runner).

Usage (from the repository root, in the course environment)::

    python tools/benchmark.py                      # every tutorial and solution notebook
    python tools/benchmark.py path/to/nb.ipynb     # only these
    python tools/benchmark.py xai-for-image-data   # a whole day (tutorials and solutions)
    python tools/benchmark.py --output FILE.md     # default: benchmark-results.md
    python tools/benchmark.py DAY --keep runs/DAY --output runs/DAY/timings.md
                                                   # batch run: keep the executed notebooks

``--keep DIR`` writes every executed notebook, with its outputs, under ``DIR`` (a
notebook that failed is kept up to the failing cell, whose error is in its output).
A failed notebook does not stop the others; the exit status is 1 if any failed.
The SLURM script ``hpc/run_notebooks.sbatch`` runs this on a GPU node.

Each notebook runs in a fresh kernel inside its own subprocess, so the peak
resident memory of that subprocess's children is the kernel's peak. The script
writes the table and a summary line computed from it; sections of an existing
output file from its first ``## `` heading on (notes, the GPU run) are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.execute import execute_notebook  # noqa: E402
from tools.notebooks import all_notebooks, is_student  # noqa: E402


def measure_one(path: Path, keep: Path | None = None) -> dict[str, float]:
    """Execute one notebook here; return seconds and the kernel's peak RSS in MB.

    With ``keep``, the executed notebook (up to a failing cell) is written under it,
    at the notebook's path relative to the repository.
    """
    try:
        nb, seconds = execute_notebook(path)
    except Exception as err:
        if keep is not None and getattr(err, "notebook", None) is not None:
            _write_kept(err.notebook, path, keep)
        raise
    if keep is not None:
        _write_kept(nb, path, keep)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_kb / 1024)}


def _write_kept(nb, path: Path, keep: Path) -> None:
    import nbformat

    target = keep / relative(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def relative(path: Path) -> Path:
    """Return ``path`` relative to the repository (its name for a notebook elsewhere)."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)


def expand(paths: list[Path]) -> list[Path]:
    """Return the notebooks named, with a day folder standing for its tutorials and solutions."""
    found = []
    for path in paths:
        if path.is_dir():
            found += [p for p in sorted(path.glob("*.ipynb")) if not is_student(p)]
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"not a notebook or a folder of notebooks: {path}")
    return found


def machine_line() -> str:
    """Describe the machine the benchmark ran on."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"{gpu}, Python {platform.python_version()}, torch {torch.__version__}")  # fmt: skip


def summary(results: dict[str, dict[str, float]]) -> str:
    """Return the summary line of a benchmark: total, slowest notebook, memory range."""
    if not results:
        return "No notebook ran."
    slowest = max(results, key=lambda name: results[name]["seconds"])
    total = sum(r["seconds"] for r in results.values())
    peaks = [r["peak_mb"] for r in results.values()]
    return (f"Total: {len(results)} notebooks, {total:.0f} s one after the other; the slowest is "
            f"`{slowest}` at {results[slowest]['seconds']:.1f} s; peak memory "
            f"{min(peaks)}–{max(peaks)} MB.")  # fmt: skip


def kept_sections(path: Path) -> str:
    """Return the part of an existing report from its first ``## `` heading on."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    start = text.find("\n## ")
    return text[start + 1 :] if start >= 0 else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmark-results.md")
    parser.add_argument("--keep", type=Path, help="write the executed notebooks under this folder")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    keep = args.keep.resolve() if args.keep else None
    if args.one:
        print(json.dumps(measure_one(args.one, keep)))
        return 0
    notebooks = expand(args.notebooks) or [p for p in all_notebooks() if not is_student(p)]
    rows, results, failed = [], {}, 0
    for path in notebooks:
        extra = ["--keep", str(keep)] if keep else []
        proc = subprocess.run([sys.executable, __file__, "--one", str(path), *extra],
                              capture_output=True, text=True)  # fmt: skip
        rel = relative(path).as_posix()
        if proc.returncode != 0:
            failed += 1
            reason = proc.stderr.strip().splitlines()[-1][:120] if proc.stderr.strip() else "?"
            rows.append(f"| `{rel}` | failed: {reason.replace('|', '/')} | - |")
            print(f"FAILED {rel}\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        results[rel] = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(f"| `{rel}` | {results[rel]['seconds']:.1f} | {results[rel]['peak_mb']} |")
        print(rows[-1], flush=True)
    table = "\n".join(["| notebook | wall s | peak MB |", "|---|---:|---:|", *rows])
    rest = kept_sections(args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        f"# Notebook benchmark\n\nMeasured {dt.date.today()} on {machine_line()}, "
        f"one notebook at a time, fresh kernel each, by `python tools/benchmark.py`.\n\n"
        f"{table}\n\n{summary(results)}\n" + (f"\n{rest}" if rest else ""),
        encoding="utf-8",
    )
    print(f"wrote {args.output}" + (f"; executed notebooks in {keep}" if keep else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
