"""Exercise checks: tell a student "correct" or "not yet" with a hint, never the answer.

Every check prints one line and returns ``True`` or ``False``. When the
environment variable ``XAI_STRICT_CHECKS=1`` is set (the test suite sets it
while executing solution notebooks) a failed check raises ``AssertionError``,
so a solution that no longer passes its own checks fails the tests.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence

import numpy as np

STRICT_ENV_VAR = "XAI_STRICT_CHECKS"


class CheckResult:
    """Outcome of a check: truthy when passed; shows nothing as a notebook cell's result.

    The printed line is the feedback; without ``_ipython_display_`` a check on the
    last line of a cell would also echo ``True``/``False`` under it.
    """

    def __init__(self, name: str, passed: bool) -> None:
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"name: expected a non-empty string, got {name!r}")
        self.name = name
        self.passed = _truth(passed, "passed")

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult({self.name!r}, passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Display nothing: the check already printed its verdict."""


def _truth(value: object, name: str) -> bool:
    """Return ``bool(value)`` for one condition; a clear error for arrays of several values."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise TypeError(f"{name}: expected one condition (True or False), got an array of "
                            f"shape {value.shape}; combine it with .all() or .any()")  # fmt: skip
        value = value.item()
    return bool(value)


def _report(name: str, passed: bool, hint: str) -> CheckResult:
    if passed:
        print(f"✅ {name}: correct.")
    else:
        print(f"❌ {name}: not yet. Hint: {hint}")
        if os.environ.get(STRICT_ENV_VAR) == "1":
            raise AssertionError(f"check {name!r} failed: {hint}")
    return CheckResult(name, passed)


def _as_array(value: object, name: str) -> np.ndarray | None:
    if value is None or value is NotImplemented or value is Ellipsis:
        return None
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: expected numbers (a float, list, NumPy array or tensor), "
            f"got {type(value).__name__}"
        ) from err


def check_close(
    answer: object,
    expected: object,
    name: str = "answer",
    hint: str = "compare your steps with the formula in the text.",
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> CheckResult:
    """Check a number or array against a reference computed independently.

    Parameters
    ----------
    answer : array_like or tensor
        The student's result.
    expected : array_like or tensor
        The reference (e.g. from a library or a brute-force computation).
    name : str
        What is checked, used in the message.
    hint : str
        Shown when the answer is wrong. It must not contain the answer.
    rtol, atol : float
        Tolerances as in :func:`numpy.allclose`.

    Returns
    -------
    CheckResult
        Truthy when the answer matches.

    Examples
    --------
    >>> check_close([0.5, 0.25], [0.5, 0.25], name="weights")
    ✅ weights: correct.
    CheckResult('weights', passed=True)
    """
    ref = _as_array(expected, "expected")
    if ref is None:
        raise ValueError("expected: check_close needs a reference value (numbers), got None")
    got = _as_array(answer, name)
    if got is None:
        return _report(name, False, "no answer yet - replace the placeholder with your code.")
    if got.shape != ref.shape:
        return _report(name, False, f"expected an array of shape {ref.shape}, got {got.shape}.")
    # NaN is right only where the reference is NaN too (e.g. a share of an empty map)
    if not np.array_equal(np.isnan(got), np.isnan(ref)) or np.any(np.isinf(got) & ~np.isinf(ref)):
        return _report(name, False, "your result contains NaN or infinite values where the "
                                    "reference has none (or none where it has some).")
    return _report(name, bool(np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)), hint)


def answer_key(option: object) -> str:
    """Return the hashed key of a multiple-choice option, for :func:`check_choice`.

    Exercise authors write ``accepted=[answer_key("global")]`` once, paste the printed
    key into the notebook, and students cannot read the answer from the check call.

    Examples
    --------
    >>> answer_key("Global")
    'sha256:8001c2743965'
    """
    text = str(option).strip().lower()
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:12]


def check_choice(
    answer: object,
    accepted: Sequence[object],
    options: Sequence[object],
    name: str = "answer",
    hint: str = "re-read the plot and the text above.",
) -> CheckResult:
    """Check a multiple-choice answer.

    Parameters
    ----------
    answer : object
        The student's choice (strings are compared case-insensitively).
    accepted : sequence
        The correct option(s), written either as plain options (when they are
        computed by a reference in the notebook) or as keys from
        :func:`answer_key` (so that the answer is not visible).
    options : sequence
        All valid options; an answer outside them gets a message listing them.
    name, hint : str
        As in :func:`check_close`.

    Returns
    -------
    CheckResult
        Truthy when the choice is correct.
    """

    def norm(x: object) -> object:
        return x.strip().lower() if isinstance(x, str) else x

    for arg, value in (("options", options), ("accepted", accepted)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | set | frozenset):
            raise TypeError(f"{arg}: expected a list of options, got {type(value).__name__}")
        if not all(isinstance(v, str | int | float | bool | np.integer) for v in value):
            raise TypeError(f"{arg}: expected strings or numbers, got {list(value)!r}")
    normed = [norm(o) for o in options]
    keys = {answer_key(o) for o in options}
    plain = {norm(a) for a in accepted if not str(a).startswith("sha256:")}
    hashed = {a for a in accepted if str(a).startswith("sha256:")}
    if not plain <= set(normed) or not hashed <= keys or not accepted:
        raise ValueError(f"accepted answers {list(accepted)} are not among options {list(options)}")
    if answer is None or answer is Ellipsis:
        return _report(name, False, "no answer yet - set the variable to one of the options.")
    if not isinstance(answer, str | int | float | bool | np.integer) or norm(answer) not in normed:
        return _report(name, False, f"choose one of {list(options)}, got {answer!r}.")
    return _report(name, norm(answer) in plain or answer_key(answer) in hashed, hint)


def claim(key: str, holds: bool, statement: str, evidence: str = "") -> CheckResult:
    """Assert a claim that the notebook's text makes about a measured result.

    The prose of a notebook may state a number or a comparison ("Grad-CAM is the least
    faithful here") only if the code prints it or asserts it with this function. The
    markdown sentence carries a hidden marker ``<!-- claim: KEY -->`` with the same key,
    and ``tests/test_prose.py`` checks that the claim was asserted and held. Under
    ``XAI_STRICT_CHECKS=1`` a claim that no longer holds (after a library update or a
    retrain) raises, so the tests fail instead of the text silently becoming false.

    Parameters
    ----------
    key : str
        Short identifier, unique in the notebook, e.g. ``"ig-beats-saliency"``
        (letters, digits, ``-`` and ``_``).
    holds : bool
        The measured condition, e.g. ``auc["IG"] < auc["saliency"]``.
    statement : str
        The claim in words, as the text states it.
    evidence : str, optional
        The measured values behind it, printed with the verdict.

    Returns
    -------
    CheckResult
        Truthy when the claim holds.

    Examples
    --------
    >>> claim("demo", 0.9 > 0.5, "the model is better than chance", "accuracy 0.90")
    ✔ claim demo holds: the model is better than chance (accuracy 0.90)
    CheckResult('demo', passed=True)
    """
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"claim key must be letters, digits, '-' or '_', got {key!r}")
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("claim needs the statement it asserts, as a non-empty string")
    detail = "" if evidence is None or (isinstance(evidence, str) and not evidence) else (
        f" ({evidence})")
    holds = _truth(holds, "holds")
    if holds:
        print(f"✔ claim {key} holds: {statement}{detail}")
    else:
        print(f"✘ claim {key} does NOT hold in this run: {statement}{detail}. The text "
              "around it is out of date (a library update or a retrained model?).")
        if os.environ.get(STRICT_ENV_VAR) == "1":
            raise AssertionError(f"claim {key!r} does not hold: {statement}{detail}")
    return CheckResult(key, holds)


def check_true(
    condition: bool, name: str = "answer", hint: str = "check your result again."
) -> CheckResult:
    """Report a property test (e.g. "the map sums to the prediction").

    Parameters
    ----------
    condition : bool
        Result of the property test computed by the notebook.
    name, hint : str
        As in :func:`check_close`.
    """
    return _report(name, _truth(condition, "condition"), hint)
