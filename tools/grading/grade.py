"""Grade a folder of submissions of one homework, without nbgrader (see GRADING.md).

The batch, in three steps:

1. A trusted *checker* process (``checker.py``) starts running the instructor's notebook;
   before its first test it has produced the shared artefacts (e.g. a trained model, in
   ``XAI_SHARED_ARTEFACTS``), then it waits.
2. Every submission runs in the sandbox (``sandbox.py``), several in parallel: the
   instructor's notebook with the student's answer cells (``homework.build_program``),
   the tests replaced by exports of the values they read. A crash, a timeout or a
   memory error ends only that run.
3. The checker runs every test on every student's exported values, then on the
   instructor's own answers.

A test that a run never reached (timeout, a dead process) scores zero with the reason;
nothing a submission does can make a test pass except values that pass it. The results
go to ``scores.csv``, ``scores.md``, ``feedback/<student>.md`` and ``answers/`` (the
written answers, by question, for grading by hand); ``grading-log.md`` has the timings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.grading.homework import (
    ID_EXPORT,
    Homework,
    Submission,
    _titles,
    build_program,
    find_submissions,
    load_homework,
    read_submission,
)
from tools.grading.sandbox import (
    SETUP_FAILED,
    Isolation,
    Limits,
    RunResult,
    probe_isolation,
    python_paths,
    run_sandboxed,
)
from tools.notebooks import ROOT, SUBMIT_TAG, _tags


class GradingError(RuntimeError):
    """The batch cannot be graded (the instructor's notebook fails, a folder is missing)."""


@dataclass
class TaskResult:
    points: float | None
    status: str
    details: str = ""


@dataclass
class StudentResult:
    student: str
    name: str = ""
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # cells of the submission that raised
    seconds: float = 0.0

    def total(self, hw: Homework) -> tuple[float, bool]:
        """Points so far and whether every task has points (written answers graded)."""
        points = [self.tasks[t.grade_id].points for t in hw.tasks]
        return sum(p for p in points if p is not None), all(p is not None for p in points)


@dataclass
class Report:
    homework: Homework
    isolation: Isolation
    results: list[StudentResult]
    ignored: list[str]
    seconds: float
    out: Path


def _private_dir(parent: Path, name: str, mode: int) -> Path:
    path = parent / name
    path.mkdir(mode=mode)
    path.chmod(mode)
    return path


def _runtime(workdir: Path) -> Path:
    """A copy of what the sandbox may see: ``utils/``, ``data/``, the runner, the artefacts."""
    from utils.data_files import data_dir

    runtime = _private_dir(workdir, "runtime", 0o755)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "utils", runtime / "utils", ignore=ignore)
    shutil.copytree(data_dir(), runtime / "data", ignore=ignore)
    shutil.copy2(Path(__file__).with_name("runner.py"), runtime / "runner.py")
    _private_dir(runtime, "artefacts", 0o755)
    for path in [runtime, *runtime.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return runtime


def _stage(workdir: Path, isolation: Isolation) -> Path:
    """A root-only folder for the sandbox's mount handles, outside the folders it hides.

    Under ``/run`` when possible, so that ``/tmp`` itself can be hidden from the runs.
    """
    if isolation.mode == "full" and Path("/run").is_dir() and os.access("/run", os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="xai-grade-", dir="/run"))
        path.chmod(0o700)
        return path
    return _private_dir(workdir, "stage", 0o700)


def _thread_env(threads: int) -> dict[str, str]:
    return {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                      "OPENBLAS_NUM_THREADS")}  # fmt: skip


class Checker:
    """The trusted process: the instructor's notebook, then the tests on every answer."""

    def __init__(self, hw: Homework, runtime: Path, private: Path, threads: int) -> None:
        self.log_path = private / "checker.log"
        read_end, write_end = os.pipe()
        env = {**os.environ, "XAI_STRICT_CHECKS": "1", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1",
               "XAI_SHARED_ARTEFACTS": str(runtime / "artefacts"), "XAI_DEVICE": "cpu",
               "PYTHONHASHSEED": "0",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               **_thread_env(threads)}  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tools.grading.checker", str(write_end)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                cwd=hw.path.parent, env=env, pass_fds=(write_end,), close_fds=True)
        os.close(write_end)
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(os.fdopen(read_end, "r", encoding="utf-8"),),
                         daemon=True).start()  # fmt: skip
        cells = []
        tasks = {t.grade_id: t for t in hw.tasks if t.auto}
        for i, cell in enumerate(hw.nb.cells):
            if cell.cell_type != "code" or SUBMIT_TAG in _tags(cell):
                continue
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            entry = {"index": i, "source": cell.source}
            if gid in tasks:
                entry.update(grade_id=gid, reads=tasks[gid].reads)
            cells.append(entry)
        self._write(json.dumps({"cells": cells}))

    def _read(self, stream) -> None:
        for line in stream:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                continue
        self.events.put({"type": "eof"})

    def _write(self, line: str) -> None:
        try:
            self.process.stdin.write((line + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def _fail(self, why: str) -> GradingError:
        self.process.kill()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        return GradingError(f"{why}\n--- the instructor's notebook printed ---\n{tail}")

    def wait_ready(self, timeout: float) -> None:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(f"the instructor's notebook did not reach its first test in "
                             f"{timeout:.0f} s") from None  # fmt: skip
        if event.get("type") != "ready":
            raise self._fail(event.get("error") or "the instructor's notebook stopped")

    def check(self, answers_file: Path, timeout: float) -> dict[str, dict[str, dict]]:
        self._write(str(answers_file))
        results: dict[str, dict[str, dict]] = {}
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                raise self._fail(f"the tests did not finish in {timeout:.0f} s") from None
            kind = event.get("type")
            if kind == "result":
                results.setdefault(event["student"], {})[event["grade_id"]] = event
            elif kind == "done":
                self.process.wait()
                return results
            else:
                raise self._fail(event.get("error") or "the instructor's notebook stopped")


def _slot_scratch(workdir: Path, slot: int, isolation: Isolation) -> Path:
    base = workdir / "scratch"
    if isolation.mode == "full":  # a tmpfs is mounted on it inside the run
        path = base / str(slot)
        path.mkdir(mode=0o755, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix=f"{slot}-", dir=base))


def _sandbox_env(runtime: Path, scratch: Path, threads: int) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
            "MPLCONFIGDIR": str(scratch / ".matplotlib"), "PYTHONPATH": str(runtime),
            "XAI_DATA_DIR": str(runtime / "data"),
            "XAI_SHARED_ARTEFACTS": str(runtime / "artefacts"), "MPLBACKEND": "Agg",
            "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0", "XAI_DEVICE": "cpu",
            "CUDA_VISIBLE_DEVICES": "", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1", **_thread_env(threads)}  # fmt: skip


@dataclass
class _Run:
    result: StudentResult
    submission: Submission
    run: RunResult | None = None
    exports: dict[str, dict] = field(default_factory=dict)


def _cell_title(hw: Homework, titles: list[str], index: int) -> str:
    title = titles[index] if 0 <= index < len(titles) else ""
    return f"cell {index + 1}" + (f" ({title})" if title else "")


def _run_one(student: str, path: Path, hw: Homework, ctx: dict) -> _Run:
    sub = read_submission(student, path)
    res = StudentResult(student)
    out = _Run(res, sub)
    if sub.error:
        res.status = f"not graded: {sub.error}"
        return out
    program, res.answers = build_program(hw, sub)
    slot, scratch = ctx["slots"].get(), None
    try:
        scratch = _slot_scratch(ctx["workdir"], slot, ctx["isolation"])
        out.run = run_sandboxed(program, ctx["runtime"] / "runner.py", scratch,
                                _sandbox_env(ctx["runtime"], scratch, ctx["threads"]),
                                ctx["limits"], ctx["isolation"], slot=slot, stage=ctx["stage"],
                                hide=ctx["hide"], expose=ctx["expose"])  # fmt: skip
    finally:
        if ctx["isolation"].mode != "full" and scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        ctx["slots"].put(slot)
    res.seconds = out.run.seconds
    if out.run.returncode == SETUP_FAILED and not out.run.events:  # no student code ran
        raise GradingError(f"the sandbox could not be set up:\n{out.run.log[-2000:]}")
    titles = ctx["titles"]
    for event in out.run.events:
        if event.get("type") == "export" and isinstance(event.get("values"), dict):
            out.exports[str(event.get("grade_id"))] = event["values"]
        elif event.get("type") == "cell" and event.get("status") == "error":
            index = event.get("index") if isinstance(event.get("index"), int) else -1
            res.errors.append(f"{_cell_title(hw, titles, index)} raised:\n"
                              f"{str(event.get('error', ''))[-2000:]}")  # fmt: skip
    ident = out.exports.pop(ID_EXPORT, {})
    for key in ("STUDENT_ID", "STUDENT_NAME"):
        value = ident.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if key == "STUDENT_NAME":
            res.name = value.strip()[:100]
        elif value.strip() != student:
            res.notes.append(f"the notebook's STUDENT_ID ({value.strip()[:64]!r}) differs from "
                             f"the file name's ({student!r}); graded as {student!r}")
    if not ident or not isinstance(ident.get("STUDENT_ID"), str) or not ident["STUDENT_ID"]:
        res.notes.append("STUDENT_ID is not filled in")
    res.notes += sub.notes
    return out


def _stop_reason(run: RunResult, hw: Homework, titles: list[str], limits: Limits) -> str:
    started = [e.get("index") for e in run.events if e.get("type") == "start"]
    where = _cell_title(hw, titles, started[-1]) if started and isinstance(started[-1], int) \
        else "the start"  # fmt: skip
    if run.timed_out:
        return f"the time limit of {limits.wall_s:.0f} s ran out in {where}"
    if run.events_truncated:
        return f"the answers exported by {where} exceed the size limit"
    code = run.returncode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else \
        f"exited with code {code}"  # fmt: skip
    hint = " (out of memory?)" if code == -9 else ""
    return f"the notebook's process {how}{hint} in {where}"


def _task_results(hw: Homework, run: _Run, checked: dict[str, dict], limits: Limits,
                  titles: list[str], manual: dict) -> None:  # fmt: skip
    res = run.result
    done = run.run is not None and any(e.get("type") == "done" for e in run.run.events)
    for task in hw.tasks:
        given = manual.get((res.student, task.grade_id))
        if not task.auto:
            text = res.answers.get(task.grade_id, "")
            if given is not None:
                res.tasks[task.grade_id] = TaskResult(given[0], "graded by hand", given[1])
            elif run.submission.error:
                res.tasks[task.grade_id] = TaskResult(0, "not graded: no readable notebook")
            elif text.strip():
                res.tasks[task.grade_id] = TaskResult(None, "to be graded by hand")
            else:
                res.tasks[task.grade_id] = TaskResult(0, "no answer written")
            continue
        if run.submission.error:
            res.tasks[task.grade_id] = TaskResult(0, f"not graded: {run.submission.error}")
            continue
        outcome = checked.get(task.grade_id)
        if outcome is None:
            reason = _stop_reason(run.run, hw, titles, limits) if not done else \
                "its test was not reached"  # fmt: skip
            res.tasks[task.grade_id] = TaskResult(0, f"failed: not reached: {reason}")
        elif outcome.get("passed"):
            res.tasks[task.grade_id] = TaskResult(task.points, "passed", outcome.get("output", ""))
        else:
            notes = [str(n) for n in outcome.get("notes", [])]
            error = str(outcome.get("error", "")).strip().splitlines()
            first = notes[0] if notes else (error[-1] if error else "failed")
            details = "\n".join([*notes, str(outcome.get("error", "")),
                                 str(outcome.get("output", ""))]).strip()  # fmt: skip
            res.tasks[task.grade_id] = TaskResult(0, f"failed: {first}"[:300], details)
    if run.submission.error:
        return
    if not done and run.run is not None:
        res.status = f"stopped: {_stop_reason(run.run, hw, titles, limits)}"
    elif res.errors:
        res.status = f"graded; {len(res.errors)} cell(s) raised an error"


def _read_manual(path: Path | None, hw: Homework) -> dict:
    """``{(student, grade_id): (points, comment)}`` from a CSV: student, task, points[, comment]."""
    if path is None:
        return {}
    by_name = {t.grade_id: t for t in hw.tasks} | {t.title: t for t in hw.tasks}
    found = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            task = by_name.get((row.get("task") or "").strip())
            if task is None or task.auto:
                raise GradingError(f"{path}: {row.get('task')!r} is not a written question of "
                                   f"this homework (use its title or grade_id)")  # fmt: skip
            points = float(row["points"])
            if not 0 <= points <= task.points:
                raise GradingError(f"{path}: {points} points for {task.title} (max {task.points})")
            found[(row["student"].strip(), task.grade_id)] = (points, row.get("comment", ""))
    return found


def grade(
    homework: Path | str,
    submissions: Path | str,
    out: Path | str,
    jobs: int = 2,
    limits: Limits | None = None,
    isolation: str = "auto",
    manual: Path | str | None = None,
    threads: int | None = None,
    echo=print,
) -> Report:
    """Grade every submission of ``homework`` in ``submissions``; write the reports to ``out``."""
    start = time.perf_counter()
    limits = limits or Limits()
    hw = load_homework(homework)
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise GradingError(f"no such folder: {submissions}")
    found, ignored = find_submissions(submissions, hw.name)
    iso = probe_isolation(isolation)
    manual_points = _read_manual(Path(manual) if manual else None, hw)
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    echo(f"{hw.name}: {len(found)} submission(s), {len(ignored)} other file(s) ignored; "
         f"isolation {iso.describe()}")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="xai-grade-"))
    stage, checker = None, None
    try:
        workdir.chmod(0o711)
        runtime = _runtime(workdir)
        private = _private_dir(workdir, "private", 0o700)
        stage = _stage(workdir, iso)
        _private_dir(workdir, "scratch", 0o755 if iso.mode == "full" else 0o700)
        checker = Checker(hw, runtime, private, threads)
        checker.wait_ready(timeout=2 * limits.wall_s)
        for path in (runtime / "artefacts").rglob("*"):  # written by the checker: read-only
            path.chmod(0o755 if path.is_dir() else 0o644)
        echo(f"instructor's notebook ready after {time.perf_counter() - start:.1f} s")
        home = Path.home()
        hide = [ROOT, hw.path.parent, submissions, out, private]  # stage: root-only anyway
        hide += [home] if home != Path("/") else []
        # world-writable folders: a run must neither fill the disk nor leave files behind
        shared = [p for p in map(Path, ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")) if p.is_dir()]
        hide += [p for p in shared if not (p == stage or p in stage.parents)]
        if manual:
            hide.append(Path(manual).resolve().parent)
        ctx = {"workdir": workdir, "runtime": runtime, "stage": stage, "isolation": iso,
               "limits": limits, "threads": threads, "hide": hide,
               "expose": [*python_paths(), runtime], "titles": _titles(hw.nb),
               "slots": queue.Queue()}  # fmt: skip
        for slot in range(jobs):
            ctx["slots"].put(slot)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {s: pool.submit(_run_one, s, p, hw, ctx) for s, p in found.items()}
            runs = {}
            for student, future in futures.items():
                try:
                    runs[student] = future.result()
                except GradingError:  # the machine, not the submission: stop the batch
                    raise
                except Exception as err:  # noqa: BLE001 - one submission never costs the batch
                    why = f"the grader failed on this file ({type(err).__name__}: {err})"[:300]
                    runs[student] = _Run(StudentResult(student, status=f"not graded: {why}"),
                                         Submission(student, found[student], error=why))
                echo(f"  ran {student}: {runs[student].result.seconds:.1f} s")
        answers_file = private / "answers.json"
        answers_file.write_text(json.dumps({s: r.exports for s, r in runs.items()}))
        checked = checker.check(answers_file, timeout=2 * limits.wall_s + 30 * len(runs))
        results = []
        for student in sorted(runs):
            run = runs[student]
            _task_results(hw, run, checked.get(student, {}), limits, ctx["titles"],
                          manual_points)  # fmt: skip
            results.append(run.result)
        report = Report(hw, iso, results, ignored, time.perf_counter() - start, out)
        write_reports(report)
        echo(f"graded {len(results)} submission(s) in {report.seconds:.1f} s: {out}")
        return report
    finally:
        if checker is not None and checker.process.poll() is None:
            checker.process.kill()
            checker.process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def _fmt(points: float | None) -> str:
    if points is None:
        return ""
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(report: Report) -> None:
    """Write scores.csv, scores.md, feedback/, answers/ and grading-log.md."""
    hw, out = report.homework, report.out
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "name", "task", "points", "max_points", "status"])
    for r in report.results:
        for task in hw.tasks:
            t = r.tasks[task.grade_id]
            writer.writerow([r.student, r.name, task.title, _fmt(t.points), _fmt(task.points),
                             t.status])  # fmt: skip
        total, complete = r.total(hw)
        writer.writerow([r.student, r.name, "total", _fmt(total),
                         _fmt(hw.auto_points + hw.manual_points),
                         r.status if complete else f"{r.status}; written answers to grade"])
    _write(out / "scores.csv", buffer.getvalue())

    head = ["student", "name", *[t.title for t in hw.tasks], "total", "status"]
    lines = [f"# Scores: {hw.name}", "",
             f"{len(report.results)} submission(s); automatic tests {_fmt(hw.auto_points)} "
             f"points, written answers {_fmt(hw.manual_points)} points (graded by hand). "
             f"Isolation: {report.isolation.mode}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]  # fmt: skip
    for r in report.results:
        total, complete = r.total(hw)
        cells = [r.student, r.name]
        cells += [_fmt(r.tasks[t.grade_id].points) if r.tasks[t.grade_id].points is not None
                  else "?" for t in hw.tasks]  # fmt: skip
        cells += [f"{_fmt(total)}/{_fmt(hw.auto_points + hw.manual_points)}"
                  + ("" if complete else " + ?"), r.status]  # fmt: skip
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if report.ignored:
        lines += ["", "Files ignored: " + ", ".join(f"`{x}`" for x in report.ignored)]
    _write(out / "scores.md", "\n".join(lines) + "\n")

    for r in report.results:
        _write(out / "feedback" / f"{r.student}.md", feedback(report, r))
    for task in hw.tasks:
        if task.auto:
            continue
        parts = [f"# {task.title} ({_fmt(task.points)} points): the answers", ""]
        for r in report.results:
            parts += [f"## {r.student} {r.name}".rstrip(), "",
                      r.answers.get(task.grade_id, "").strip() or "*(no answer)*", ""]
        slug = re.sub(r"[^a-z0-9]+", "-", task.title.lower()).strip("-") or task.grade_id
        _write(out / "answers" / f"{slug}.md", "\n".join(parts))
    log = [f"# Grading log: {hw.name}", "", f"isolation: {report.isolation.describe()}",
           f"python: {sys.version.split()[0]}", f"total time: {report.seconds:.1f} s", "",
           "| student | run time (s) |", "|---|---:|"]  # fmt: skip
    log += [f"| {r.student} | {r.seconds:.1f} |" for r in report.results]
    _write(out / "grading-log.md", "\n".join(log) + "\n")


def feedback(report: Report, r: StudentResult) -> str:
    """The feedback file of one student (Markdown)."""
    hw = report.homework
    total, complete = r.total(hw)
    lines = [f"# Feedback: {hw.name}", "", f"**Student:** {r.student} {r.name}".rstrip(),
             f"**Points:** {_fmt(total)} of {_fmt(hw.auto_points + hw.manual_points)}"
             + ("" if complete else " (written answers not graded yet)"),
             f"**Status:** {r.status}", ""]  # fmt: skip
    if r.notes:
        lines += ["**Notes:**", *[f"* {n}" for n in r.notes], ""]
    lines += ["| task | points | status |", "|---|---:|---|"]
    for task in hw.tasks:
        t = r.tasks[task.grade_id]
        lines.append(f"| {_md_cell(task.title)} | {_fmt(t.points) or '?'}/{_fmt(task.points)} "
                     f"| {_md_cell(t.status)} |")  # fmt: skip
    for task in hw.tasks:
        t = r.tasks[task.grade_id]
        if task.auto and t.points == 0 and t.details:
            lines += ["", f"## {task.title}: what the test said", "", "```",
                      t.details.strip()[-3000:], "```"]  # fmt: skip
        elif not task.auto and t.details:
            lines += ["", f"## {task.title}: comment", "", t.details]
    if r.errors:
        lines += ["", "## Cells that raised an error", ""]
        for err in r.errors[:10]:
            lines += ["```", err.strip()[-2500:], "```"]
    return "\n".join(lines) + "\n"
