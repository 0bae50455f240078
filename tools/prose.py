"""Hold the prose of a notebook to its outputs: numbers printed, claims asserted.

Every decimal number or percentage in a markdown cell, and every comparative claim
("X beats Y", "the most faithful", "higher than"), must be one of:

* printed by the notebook: a decimal in the text must match (at the precision it is
  written with) a number in the executed notebook's outputs; a comparative sentence
  must refer to the printed values (contain the word "printed");
* asserted: the sentence carries the hidden marker ``<!-- claim: KEY -->`` and the
  notebook runs ``utils.claim("KEY", condition, ...)``, which printed that it holds
  (under ``XAI_STRICT_CHECKS=1`` it raises when it does not);
* fixed: the marker ``<!-- fixed -->`` says the sentence states a definition, a
  constant, theory, a version, a year or a published result, not a result of this run.

A marker belongs to the sentence it stands in (or, placed right after a sentence's
full stop, to that sentence). ``tests/test_notebooks.py`` applies :func:`prose_problems`
to every executed tutorial and solution notebook. Run it on one notebook with::

    python tools/prose.py xai-for-image-data/02_grad_cam.ipynb
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat

MARKER_RE = re.compile(r"<!--\s*(claim:\s*(?P<keys>[\w\s,-]+?)|fixed)\s*-->")
CLAIM_OUTPUT_RE = re.compile(r"✔ claim (?P<key>[A-Za-z0-9_-]+) holds")
#: A decimal (0.85, −0.0036, 3.7e-4) or a percentage (61 %, 4.5%).
PROSE_NUMBER_RE = re.compile(
    r"(?<![\w.§/])(?P<sign>[-−])?(?P<num>\d+\.\d+(?:e[-−]?\d+)?|\d+(?:\.\d+)?(?=\s?%))"
    r"(?P<pct>\s?%)?(?![\w.]*\d)"
)
OUTPUT_NUMBER_RE = re.compile(r"[-−]?\d+(?:\.\d+)?(?:e[-+−]?\d+)?")
COMPARATIVE_RE = re.compile(
    r"\b(more|less|higher|lower|larger|smaller|better|worse|faster|slower|stronger|weaker"
    r"|fewer|greater)\b[^.;:]{0,30}\bthan\b"
    # "beat" as a verb ("IG beats the ink map"), not the noun of an ECG ("normal beats")
    r"|\bbeats?\s+(?:the|a|an|every|all|its|their|that|this|these|those|random|chance)\b"
    r"|\boutperforms?\b|\bbelow chance\b|\babove chance\b"
    r"|\b(most|least) (faithful|stable|robust|important|accurate|influential|sensitive)\b"
    r"|\branks? (first|second|third|last|top)\b"
    r"|\b(highest|lowest|largest|smallest|fastest|slowest|strongest|weakest)\b",
    re.IGNORECASE,
)
#: What precedes a number that names a part of a paper, not a measured value.
REFERENCE_RE = re.compile(
    r"\b(?:Sec|Eq|Fig|Thm|Def|Alg|Ch|Sections?|Equations?|Figures?|Tables?|Chapters?|Theorem"
    r"|Appendix|Algorithm|Definition|Lemma)\.?\s*$"
)
#: A sentence ends at ". " (not after an abbreviation such as "Sec." or "et al."), at a blank
#: line, or before a list item, table row or heading.
SENTENCE_SPLIT_RE = re.compile(
    r"(?<=[.!?])(?<!\bSec\.)(?<!\bEq\.)(?<!\bFig\.)(?<!\bal\.)(?<!\bcf\.)(?<!\bvs\.)"
    r"(?<!e\.g\.)(?<!i\.e\.)\s+(?=\S)|\n\s*\n|\n(?=\s*[-*|#]|\s*\d+\.\s)"
)


def _clean(markdown: str) -> str:
    """Drop what holds no prose claim: code, math, links' targets, images, HTML."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"<(?!!--)[^>]+>", " ", text)


def sentences(markdown: str) -> list[tuple[str, set[str], bool]]:
    """Split a markdown cell into ``(sentence, claim keys, fixed)`` with its markers."""
    chunks = [c for c in SENTENCE_SPLIT_RE.split(_clean(markdown)) if c and c.strip()]
    out: list[tuple[str, set[str], bool]] = []
    for chunk in chunks:
        lead = re.match(r"\s*((?:<!--.*?-->\s*)+)", chunk)
        if lead and out:  # markers right after a full stop belong to the sentence before
            text, keys, fixed = out[-1]
            k, f = _markers(lead.group(1))
            out[-1] = (text, keys | k, fixed or f)
            chunk = chunk[lead.end():]
        keys, fixed = _markers(chunk)
        out.append((MARKER_RE.sub(" ", chunk).strip(), keys, fixed))
    return [s for s in out if s[0]]


def _markers(text: str) -> tuple[set[str], bool]:
    keys: set[str] = set()
    fixed = False
    for m in MARKER_RE.finditer(text):
        if m.group("keys"):
            keys |= {k for k in re.split(r"[\s,]+", m.group("keys")) if k}
        else:
            fixed = True
    return keys, fixed


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything the executed notebook showed as text (streams, reprs, HTML tables)."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            data = out.get("data", {})
            for mime in ("text/plain", "text/markdown"):
                if mime in data:
                    parts.append(data[mime])
            if "text/html" in data:
                parts.append(html.unescape(re.sub(r"<[^>]+>", " ", data["text/html"])))
    return "\n".join(parts)


def _printed_numbers(text: str) -> list[float]:
    return [float(m.replace("−", "-")) for m in OUTPUT_NUMBER_RE.findall(text)]


def _matches(value: str, percent: bool, printed: list[float]) -> bool:
    x = abs(float(value.replace("−", "-")))
    if "e" in value:
        return any(abs(abs(y) - x) <= 0.05 * x for y in printed)
    decimals = len(value.split(".")[1]) if "." in value else 0
    tol = 0.5 * 10.0**-decimals + 1e-9
    candidates = [abs(y) for y in printed]
    if percent:
        candidates += [100 * c for c in candidates]
    return any(abs(c - x) <= tol for c in candidates)


def prose_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Return one line per number or comparison in the prose that nothing backs."""
    printed_text = output_text(nb)
    printed = _printed_numbers(printed_text)
    asserted = set(CLAIM_OUTPUT_RE.findall(printed_text))
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or index == 0:  # cell 0: title and time estimate
            continue
        for text, keys, fixed in sentences(cell.source):
            where = f"cell {index}: {text[:90]!r}"
            for key in sorted(keys - asserted):
                problems.append(f"{where}: marker 'claim: {key}' but no utils.claim({key!r}, ...) "
                                "held in the outputs")  # fmt: skip
            if fixed or keys:
                continue
            for m in PROSE_NUMBER_RE.finditer(text):
                if re.fullmatch(r"\d{4}\.\d{4,5}", m.group("num")):  # an arXiv identifier
                    continue
                if REFERENCE_RE.search(text[: m.start()]):  # "Sec. 3.1", "Eq. 2.4", ...
                    continue
                if not _matches(m.group("num"), bool(m.group("pct")), printed):
                    problems.append(f"{where}: the number {m.group(0).strip()} is not printed by "
                                    "the notebook (print it, assert it with utils.claim, or mark "
                                    "the sentence <!-- fixed -->)")  # fmt: skip
            comparative = COMPARATIVE_RE.search(text)
            if comparative and "printed" not in text.lower():
                problems.append(f"{where}: the comparison {comparative.group(0)!r} is neither "
                                "asserted (<!-- claim: KEY --> + utils.claim) nor referred to "
                                "as printed, nor marked <!-- fixed -->")  # fmt: skip
    return problems


def main(argv: list[str]) -> int:
    """Execute the notebooks named in ``argv`` and print their prose problems."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tools.execute import execute_notebook

    status = 0
    for name in argv[1:]:
        nb, _ = execute_notebook(Path(name))
        problems = prose_problems(nb)
        for line in problems:
            print(f"{name}: {line}")
        print(f"{name}: {len(problems)} problem(s)")
        status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
