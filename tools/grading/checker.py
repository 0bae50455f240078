"""The trusted half of grading: run the instructor's notebook and the tests on students' values.

Started by ``tools/grade.py`` as ``python -m tools.grading.checker FD`` with the
instructor's program on stdin (JSON: ``{"cells": [{"index", "source", "grade_id"}]}``,
``grade_id`` set for test cells). It runs every cell of the instructor's notebook in one
IPython shell, with ``XAI_STRICT_CHECKS=1`` (a failed check raises). Before the first test
cell it reports ``ready`` on the file descriptor ``FD`` and waits for one line on stdin: the
path of a JSON file ``{student: {grade_id: {name: encoded value}}}``, the answers exported
from the sandboxes (see ``runner.py``). At every test cell it then runs the test once per
student, on a copy of the instructor's namespace in which the names the test reads from
the answers are replaced by that student's values (a missing value stays undefined), and
reports ``result`` events; then it runs the test on the instructor's own answers, which
must pass (``fatal`` otherwise: the homework itself is broken).

No student code runs here: only the instructor's cells and tests, on data decoded without
pickle.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import traceback

MAX_OUTPUT = 4000


class Missing:
    """A value a submission did not define, or defined as something that is not data."""

    def __init__(self, why: str) -> None:
        self.why = why


def decode(value):
    """Rebuild a value encoded by ``runner.encode`` (data only)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value or "__tensor__" in value:
        import numpy as np

        raw = base64.b64decode(value.get("__ndarray__") or value.get("__tensor__"))
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if "__tensor__" in value:
            import torch

            return torch.from_numpy(array.copy())
        return array
    if "__dataframe__" in value:
        import pandas as pd

        spec = value["__dataframe__"]
        columns = [_label(c) for c in decode(spec["columns"])]
        data = [decode(c) for c in spec["data"]]
        frame = pd.DataFrame(dict(enumerate(data)), index=_index(decode(spec["index"])))
        frame.columns = _index(columns)
        return frame
    if "__series__" in value:
        import pandas as pd

        spec = value["__series__"]
        return pd.Series(decode(spec["data"]), index=_index(decode(spec["index"])),
                         name=_label(decode(spec["name"])))  # fmt: skip
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__set__" in value:
        return {_label(decode(v)) for v in value["__set__"]}
    if "__dict__" in value:
        return {_label(decode(k)): decode(v) for k, v in value["__dict__"]}
    if "__int__" in value:
        return int(value["__int__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__missing__" in value:
        return Missing("is not defined in your notebook (did its cell run?)")
    if "__unsupported__" in value:
        return Missing(f"is a {value['__unsupported__']}, which the grader cannot read: "
                       "an answer must be data (a number, string, list, dict, NumPy array, "
                       "tensor or DataFrame)")  # fmt: skip
    raise ValueError("unknown encoding")


def _label(x):
    return tuple(_label(v) for v in x) if isinstance(x, list) else x


def _index(labels: list):
    import pandas as pd

    labels = [_label(x) for x in labels]
    if labels and all(isinstance(x, tuple) for x in labels):
        return pd.MultiIndex.from_tuples(labels)
    return pd.Index(labels)


class Events:
    def __init__(self, fd: int) -> None:
        self.file = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(self, **event) -> None:
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()


def _python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _short(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[:MAX_OUTPUT]


def run_test(code, namespace: dict, reads: list[str], values: dict) -> dict:
    """Run one compiled test on one student's values; return the result event's fields."""
    ns = dict(namespace)
    notes = []
    for name in reads:
        ns.pop(name, None)
        if name not in values:
            notes.append(f"`{name}` is not defined in your notebook (did its cell run?)")
            continue
        try:
            value = decode(values[name])
        except Exception as err:  # noqa: BLE001 - malformed data from a sandbox
            notes.append(f"`{name}` could not be read ({type(err).__name__})")
            continue
        if isinstance(value, Missing):
            notes.append(f"`{name}` {value.why}")
        else:
            ns[name] = value
    buffer = io.StringIO()
    error = ""
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            exec(code, ns)  # noqa: S102 - the instructor's test code
        except Exception as err:  # noqa: BLE001 - any failure of a test is a failed test
            error = _short(err)
    output = buffer.getvalue()
    return {"passed": not error, "error": error, "notes": notes,
            "output": output[-MAX_OUTPUT:]}  # fmt: skip


def main(argv: list[str]) -> int:
    events = Events(int(argv[1]))
    program = json.loads(sys.stdin.readline())
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    answers: dict | None = None
    for cell in program["cells"]:
        gid = cell.get("grade_id")
        if gid:
            if answers is None:
                events.send(type="ready")
                line = sys.stdin.readline()
                if not line.strip():
                    events.send(type="fatal", error="no answers were sent")
                    return 1
                with open(line.strip(), encoding="utf-8") as fh:
                    answers = json.load(fh)
            code = compile(_python(cell["source"]), f"<test {gid}>", "exec")
            snapshot = dict(shell.user_ns)
            for student in sorted(answers):
                values = answers[student].get(gid)
                if values is None:  # the sandbox never reached this test
                    continue
                result = run_test(code, snapshot, cell["reads"], values)
                events.send(type="result", student=student, grade_id=gid, **result)
        outcome = shell.run_cell(cell["source"], store_history=False)
        error = outcome.error_before_exec or outcome.error_in_exec
        if error is not None:
            what = "test" if gid else "cell"
            events.send(type="fatal", error=f"the instructor's own {what} {cell['index']} "
                                            f"failed: {_short(error)}")  # fmt: skip
            return 1
    if answers is None:  # no test at all: still answer the parent's protocol
        events.send(type="ready")
        sys.stdin.readline()
    events.send(type="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
