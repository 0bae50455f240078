"""Run one submission inside the sandbox: the student's program, step by step.

This file runs in the sandbox, as an unprivileged user without network (see
``sandbox.py``); it imports nothing from the course's tools, only the standard library,
IPython and, to encode answers, NumPy/pandas/torch when an answer is of their types.

Input (stdin, JSON): ``{"steps": [...]}``, each step either
``{"kind": "cell", "index": i, "source": "..."}`` (run with IPython, so magics work) or
``{"kind": "export", "index": i, "grade_id": "...", "names": [...]}`` (encode the current
values of these names). Output: one JSON line per event on the file descriptor given as
the first argument: ``start`` (a step begins), ``cell`` (its status and error),
``export`` (the encoded values), ``done``. The tests themselves never run here: the
grader runs them in a separate, trusted process on the exported values, so nothing a
submission does to this process (swallowing exceptions, patching the checks) can turn a
failed test into a passed one.

Values are encoded as data only (JSON; arrays as ``.npy`` bytes without pickle); anything
else (a function, a model) is exported as ``{"__unsupported__": type name}``.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import sys
import traceback

MAX_DEPTH = 12
MAX_ITEMS = 100_000


def _array(value, kind: str) -> dict:
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind not in "biufcUS":  # object and structured arrays: not data
        return {"__unsupported__": f"array of dtype {array.dtype}"}
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return {kind: base64.b64encode(buffer.getvalue()).decode("ascii")}


def encode(value, depth: int = 0):
    """Return a JSON-able encoding of ``value`` (data only)."""
    if depth > MAX_DEPTH:
        return {"__unsupported__": "nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"__int__": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return _array(value, "__ndarray__")
        if isinstance(value, np.generic):
            return encode(value.item(), depth + 1)
    if module == "torch":
        import torch

        if isinstance(value, torch.Tensor):
            return _array(value.detach().cpu().numpy(), "__tensor__")
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"__dataframe__": {
                "index": encode(list(value.index), depth + 1),
                "columns": encode(list(value.columns), depth + 1),
                "data": [encode(value.iloc[:, j].to_numpy(), depth + 1)
                         for j in range(value.shape[1])],
            }}  # fmt: skip
        if isinstance(value, pd.Series):
            return {"__series__": {"index": encode(list(value.index), depth + 1),
                                   "data": encode(value.to_numpy(), depth + 1),
                                   "name": encode(value.name, depth + 1)}}  # fmt: skip
    if isinstance(value, (list, tuple, set, frozenset)):
        if len(value) > MAX_ITEMS:
            return {"__unsupported__": f"{type(value).__name__} of {len(value)} items"}
        items = [encode(v, depth + 1) for v in (sorted(value, key=repr)
                                                 if isinstance(value, (set, frozenset))
                                                 else value)]  # fmt: skip
        kind = {list: "__list__", tuple: "__tuple__", set: "__set__", frozenset: "__set__"}
        tag = next((t for k, t in kind.items() if isinstance(value, k)), "__list__")
        return items if tag == "__list__" else {tag: items}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return {"__unsupported__": f"dict of {len(value)} items"}
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)]
                             for k, v in value.items()]}  # fmt: skip
    return {"__unsupported__": type(value).__name__}


class Channel:
    """JSON lines on the events file descriptor."""

    def __init__(self, fd: int) -> None:
        self.file = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(self, **event) -> None:
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()


def _error_text(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    # keep the student's frames (IPython's cells), not the runner's or IPython's internals
    kept = [x for x in lines if "site-packages/IPython" not in x and "runner.py" not in x]
    return "".join(kept)[-4000:]


def main(argv: list[str]) -> int:
    channel = Channel(int(argv[1]))
    program = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)  # noqa: SIM115 - a cell that reads input gets EOF, not the program
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    for step in program["steps"]:
        channel.send(type="start", index=step["index"])
        if step["kind"] == "export":
            values = {}
            for name in step["names"]:
                if name in shell.user_ns:
                    try:
                        values[name] = encode(shell.user_ns[name])
                    except Exception as err:  # noqa: BLE001 - a student's object may raise anything
                        values[name] = {"__unsupported__": f"{type(err).__name__} while encoding"}
                else:
                    values[name] = {"__missing__": True}
            channel.send(type="export", index=step["index"], grade_id=step["grade_id"],
                         values=values)  # fmt: skip
            continue
        result = shell.run_cell(step["source"], store_history=False)
        error = result.error_before_exec or result.error_in_exec
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send(type="cell", index=step["index"], status="error" if error else "ok",
                     error=_error_text(error) if error else "")  # fmt: skip
    channel.send(type="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
