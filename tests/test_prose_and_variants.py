"""The two mechanisms that hold notebooks to their code: prose backed by outputs, and
answer variants that prove each exercise check can fail (tools/prose.py, tools/execute.py)."""

from __future__ import annotations

import nbformat
import pytest

from tools.execute import execute_notebook
from tools.notebooks import setup_source
from tools.prose import prose_problems, sentences


def _executed(markdown: str, printed: str) -> nbformat.NotebookNode:
    """A notebook whose one code cell printed ``printed``, followed by ``markdown``."""
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(...)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title 0.99"), code,
                nbformat.v4.new_markdown_cell(markdown)]  # fmt: skip
    return nb


@pytest.mark.parametrize(
    ("markdown", "printed"),
    [
        ("The accuracy is 0.85.", "accuracy = 0.8512"),
        ("The share is 61 %.", "share: 0.6123"),
        ("The share is 61.2%.", "share: 61.23 %"),
        ("PFI is −0.0036, i.e. noise.", "pfi -0.00361 +- 0.0075"),
        ("The gap is 3.7e-4.", "gap 0.000371"),
        ("The printed accuracy is higher than the baseline.", "0.9 0.5"),
        ("IG beats saliency here. <!-- claim: ig-wins -->", "✔ claim ig-wins holds: ..."),
        ("IG beats saliency here.<!-- claim: ig-wins --> Next sentence.", "✔ claim ig-wins holds"),
        ("The kernel width is 0.75 times the root of d. <!-- fixed -->", ""),
        ("See `x = 0.123` and $\\alpha = 0.5$ and arXiv:1607.06450.", ""),
        ("The title cell is skipped; 1 2 3 integers are not claims.", ""),
        ("Normal beats have a narrow QRS; wide-QRS beats are abnormal.", ""),
        ("As in Selvaraju et al., Sec. 3.1, and Table 2.4 of the paper.", ""),
    ],
)
def test_backed_prose_passes(markdown, printed):
    assert prose_problems(_executed(markdown, printed)) == []


@pytest.mark.parametrize(
    ("markdown", "printed", "expected"),
    [
        ("The accuracy is 0.85.", "accuracy = 0.8012", "0.85 is not printed"),
        ("The share is 61 %.", "share: 0.5", "61 % is not printed"),
        ("IG beats the saliency map here.", "0.2 0.4", "comparison 'beats the'"),
        ("Grad-CAM is the least faithful of the maps.", "", "least faithful"),
        ("IG is more stable than SmoothGrad.", "", "more stable than"),
        ("IG beats saliency. <!-- claim: ig-wins -->", "✘ claim ig-wins does NOT hold", "no utils"),
        ("A later sentence is not covered. <!-- fixed --> It is 0.42.", "", "0.42"),
    ],
)
def test_unbacked_prose_is_reported(markdown, printed, expected):
    problems = prose_problems(_executed(markdown, printed))
    assert len(problems) == 1 and expected in problems[0], problems


def test_markers_attach_to_their_sentence():
    parsed = sentences("One is 0.5. <!-- fixed --> Two beats three. <!-- claim: a b -->\n\nFour.")
    assert parsed == [("One is 0.5.", set(), True), ("Two beats three.", {"a", "b"}, False),
                      ("Four.", set(), False)]  # fmt: skip


VARIANT_NB = '''\
import utils
def double(a):
    # BEGIN SOLUTION: double it
    return a * 2
    # END SOLUTION
    # BEGIN WRONG: adds two instead of doubling
    # return a + 2
    # END WRONG
    # BEGIN WRONG: accepted by the check, so the run must report it
    # return a + a
    # END WRONG
    # BEGIN WRONG: crashes instead of failing the check
    # return undefined_name
    # END WRONG
    # BEGIN ALTERNATIVE: a shift
    # return a << 1
    # END ALTERNATIVE
'''


@pytest.mark.notebook
def test_variants_are_run_and_judged(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo\n**Time:** 1 min"),
        nbformat.v4.new_code_cell(setup_source(), metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell(VARIANT_NB),
        nbformat.v4.new_code_cell('result = double(3)\nprint("result", result)'),
        nbformat.v4.new_code_cell('utils.check_close(result, 6, name="double")'),
        nbformat.v4.new_code_cell("# BEGIN SOLUTION: next task\nz = 1\n# END SOLUTION"),
    ]
    path = tmp_path / "demo_exercises_solution.ipynb"
    nbformat.write(nb, path)
    executed, _ = execute_notebook(path, timeout=120, variants=True)
    outcomes = [(o["kind"], o["ok"]) for o in executed.metadata["variant_outcomes"]]
    assert outcomes == [("WRONG", True), ("WRONG", False), ("WRONG", False), ("ALTERNATIVE", True)]
    details = [o["detail"] for o in executed.metadata["variant_outcomes"]]
    assert "check 'double' failed" in details[0] and details[1] == "every check accepted it"
    assert "NameError" in details[2]
    # the notebook's own outputs come from the real solution, run after the variants
    assert executed.cells[3].outputs[0]["text"] == "result 6\n"
    assert "✅ double: correct." in executed.cells[4].outputs[0]["text"]
