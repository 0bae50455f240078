"""Run untrusted code in its own process with limits: the grader's sandbox.

Two levels, chosen by :func:`probe_isolation` (``--isolation auto`` takes the strongest
that works on the machine):

``full`` (root, ``unshare`` and ``setpriv`` available; Linux)
    New mount, network and PID namespaces: no network at all (not even localhost); the
    repository, the homework's folder, the submissions, the output folder, the grader's
    private files, the invoking user's home and the world-writable folders (``/tmp``,
    ``/var/tmp``, ``/dev/shm``: a run cannot fill the disk or leave files behind) are
    hidden behind empty, small tmpfs mounts, except the Python installation and the
    runtime copy of the course (read-only); a private tmpfs scratch folder as the
    working directory and ``$HOME``; the code runs as an unprivileged user of its own
    (one per parallel slot) without capabilities and with ``no_new_privs``; when its
    first process ends, the kernel kills every process it started.
``basic`` (anything else)
    The same limits on time, memory, file size and core dumps, a scratch folder as the
    working directory and a process group that is killed at the end; but the code runs
    as the grader's user with its network and its files: it could read what this user
    can read. Reported as such in the grading log and the score table.

Both: a wall-time limit for the whole run, ``RLIMIT_AS`` (memory), ``RLIMIT_FSIZE``,
no core dumps, a clean environment, output read with a size cap.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: First user id of the sandbox users (slot k runs as SANDBOX_UID + k); no passwd entry needed.
SANDBOX_UID = 61000
#: Exit status of the full sandbox's setup script when a mount fails (before any student code).
SETUP_FAILED = 111


@dataclass
class Limits:
    """Resource limits of one sandboxed run."""

    wall_s: float = 600.0
    memory_mb: int = 6144  # address space: torch alone maps about 3-4 GB
    file_mb: int = 256  # largest file a run may write
    scratch_mb: int = 512  # size of the private tmpfs scratch folder (full isolation)
    nproc: int = 512  # processes and threads of the sandbox user (full isolation)
    log_bytes: int = 1_000_000  # stdout/stderr kept (head and tail)
    events_bytes: int = 64_000_000  # exported answers and statuses


@dataclass
class Isolation:
    """What the sandbox can guarantee on this machine."""

    mode: str  # "full" or "basic"
    reason: str = ""  # why not full

    def describe(self) -> str:
        if self.mode == "full":
            return ("full: no network, own user and namespaces, the repository, homework, "
                    "submissions and output hidden, limits on time, memory and files")
        return ("basic: limits on time, memory and files and a scratch folder, but the "
                f"submissions run as this user with its network and files ({self.reason})")


@dataclass
class RunResult:
    """What a sandboxed run left behind."""

    events: list[dict] = field(default_factory=list)
    log: str = ""
    returncode: int | None = None
    timed_out: bool = False
    events_truncated: bool = False
    seconds: float = 0.0


def _can_run(command: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    return done.returncode == 0, (done.stderr or done.stdout).strip()[:200]


def probe_isolation(requested: str = "auto") -> Isolation:
    """Return the isolation to use: ``requested`` is ``auto``, ``full`` or ``basic``.

    ``full`` raises ``RuntimeError`` when the machine does not allow it.
    """
    if requested not in ("auto", "full", "basic"):
        raise ValueError(f"isolation must be auto, full or basic, got {requested!r}")
    if requested == "basic":
        return Isolation("basic", "requested")
    reason = ""
    if sys.platform != "linux":
        reason = "not Linux"
    elif os.geteuid() != 0:
        reason = "not run as root (user switching and namespaces need it)"
    elif not (shutil.which("unshare") and shutil.which("setpriv")):
        reason = "unshare or setpriv missing (util-linux)"
    else:
        ok, why = _can_run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                            "--mount-proc", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt && setpriv --reuid="
                            f"{SANDBOX_UID} --regid={SANDBOX_UID} --clear-groups "
                            "--no-new-privs true"])  # fmt: skip
        if not ok:
            reason = f"unshare/setpriv not permitted here: {why}"
    if not reason:
        return Isolation("full")
    if requested == "full":
        raise RuntimeError(f"full isolation is not available: {reason}")
    return Isolation("basic", reason)


def _topmost(paths: list[Path]) -> list[Path]:
    """Drop paths that lie inside another path of the list."""
    resolved = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def python_paths() -> list[Path]:
    """The folders the sandbox's Python needs: the environment and its base installation."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(p.resolve() for p in found)


def _full_command(python: str, runner: Path, scratch: Path, stage: Path, uid: int,
                  hide: list[Path], expose: list[Path], limits: Limits,
                  fd: int) -> list[str]:  # fmt: skip
    """``unshare`` + a shell script that hides, re-exposes, mounts scratch, drops to ``uid``."""
    fail = f"|| exit {SETUP_FAILED}"
    lines = ["set -u"]
    for k, path in enumerate(expose):
        lines += [f'mkdir -p "{stage}/{k}" {fail}', f'mount --bind "{path}" "{stage}/{k}" {fail}']
    for path in hide:
        lines.append(f'mount -t tmpfs -o size=64k,mode=755 xai-hidden "{path}" {fail}')
    for k, path in enumerate(expose):
        lines += [f'mkdir -p "{path}" {fail}', f'mount --bind "{stage}/{k}" "{path}" {fail}',
                  f'mount -o remount,bind,ro "{path}" {fail}']  # fmt: skip
    lines.append(f'mkdir -p "{scratch}" {fail}')  # its folder may be hidden (e.g. /tmp)
    lines.append(f'mount -t tmpfs -o size={limits.scratch_mb}m,mode=700,uid={uid},gid={uid} '
                 f'xai-scratch "{scratch}" {fail}')  # fmt: skip
    lines.append(f'cd "{scratch}" {fail}')
    lines.append(f'exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs '
                 f'--inh-caps=-all --bounding-set=-all -- "{python}" "{runner}" {fd}')  # fmt: skip
    for text in [str(p) for p in [*hide, *expose, stage, scratch, runner]] + [python]:
        if '"' in text or "$" in text or "`" in text or "\\" in text:
            raise ValueError(f"path not allowed in the sandbox script: {text!r}")
    return ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
            "sh", "-c", "\n".join(lines)]  # fmt: skip


def _limit(limits: Limits, full: bool):
    def apply() -> None:
        memory = limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = limits.file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if full:  # counted per user: the sandbox user of this slot has no other processes
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))

    return apply


class _Reader(threading.Thread):
    """Read a pipe to its end, keeping at most ``cap`` bytes (head and tail)."""

    def __init__(self, stream, cap: int, lines: bool = False) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap, self.lines = stream, cap, lines
        self.head, self.tail, self.size = bytearray(), bytearray(), 0
        self.truncated = False

    def run(self) -> None:
        while chunk := self.stream.read(65536):
            self.size += len(chunk)
            room = self.cap - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.truncated = True
                if not self.lines:
                    self.tail = (self.tail + chunk)[-self.cap // 2 :]

    def text(self) -> str:
        out = self.head.decode("utf-8", "replace")
        if self.truncated and self.tail:
            out = out[: self.cap // 2] + "\n[... output cut ...]\n" + self.tail.decode(
                "utf-8", "replace")
        return out


def _ns_children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _kill(process: subprocess.Popen, full: bool) -> None:
    """Kill the run: the namespace's first process (which takes all others) or the group."""
    targets = _ns_children(process.pid) if full else []
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_sandboxed(
    program: dict,
    runner: Path,
    scratch: Path,
    env: dict[str, str],
    limits: Limits,
    isolation: Isolation,
    slot: int = 0,
    stage: Path | None = None,
    hide: list[Path] | None = None,
    expose: list[Path] | None = None,
) -> RunResult:
    """Run ``runner`` on ``program`` (see ``runner.py``) in the sandbox.

    A failure of the run (crash, timeout, garbage output) is reported in the result,
    never raised.

    ``scratch`` is the working directory (full: a tmpfs is mounted on it; basic: used as
    is, it must exist and be private). ``hide``/``expose`` and ``stage`` (an empty root-only
    folder) are used in full isolation only. ``env`` is the whole environment of the run.
    """
    full = isolation.mode == "full"
    read_end, write_end = os.pipe()
    if full:
        uid = SANDBOX_UID + slot
        hidden = _topmost(hide or [])
        shown = [p for p in _topmost(expose or []) if _inside(p, hidden)]
        if _inside(runner.resolve(), hidden) and not _inside(runner.resolve(), shown):
            raise ValueError("the sandbox's runtime must be visible: pass it in `expose`")
        command = _full_command(sys.executable, runner, scratch, stage or scratch.parent,
                                uid, hidden, shown, limits, write_end)  # fmt: skip
    else:
        command = [sys.executable, str(runner), str(write_end)]
    start = time.perf_counter()
    result = RunResult()
    try:
        # close_fds: the run inherits only its own events pipe, never another run's
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, cwd=scratch, env=env,
                                   start_new_session=True, preexec_fn=_limit(limits, full),
                                   pass_fds=(write_end,), close_fds=True)  # fmt: skip
    finally:
        os.close(write_end)
    log = _Reader(process.stdout, limits.log_bytes)
    events = _Reader(os.fdopen(read_end, "rb"), limits.events_bytes, lines=True)
    log.start()
    events.start()
    try:
        process.stdin.write(json.dumps(program).encode())
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        process.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        result.timed_out = True
    _kill(process, full)
    process.wait()
    log.join(timeout=10)
    events.join(timeout=10)
    result.returncode = process.returncode
    result.seconds = time.perf_counter() - start
    result.log = log.text()
    result.events_truncated = events.truncated
    text = events.head.decode("utf-8", "replace")
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # a run may write anything on its channel
            continue
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            result.events.append(event)
    if events.truncated and result.events and result.events[-1].get("type") != "done":
        result.events.pop()  # the last line may be cut
    return result

