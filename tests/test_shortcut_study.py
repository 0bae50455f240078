"""The shortcut study's table in data/weights/README.md matches what the tool measures."""

from __future__ import annotations

import re

import pytest

from tools import shortcut_study
from tools.notebooks import ROOT
from utils.datasets import load_dataset
from utils.models import MnistCNN
from utils.training import load_weights

README = ROOT / "data" / "weights" / "README.md"
SHIPPED = ["mnist_cnn", "mnist_cnn_shortcut"]  # the first two columns of the README table


def readme_table() -> dict[str, list[tuple[float, float]]]:
    """Return ``{method: [(mass, hit rate) per column]}`` from the README's study table."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and all(re.fullmatch(r"[\d.]+ / [\d.]+", c) for c in cells[1:]):
            rows[cells[0]] = [tuple(float(v) for v in c.split(" / ")) for c in cells[1:]]
    return rows


@pytest.fixture(scope="module")
def shipped_scores() -> dict[str, dict[str, tuple[float, float]]]:
    x = shortcut_study.marked_sevens(load_dataset("mnist"))
    return {
        name: shortcut_study.scores(shortcut_study.explain(load_weights(MnistCNN(), name), x))
        for name in SHIPPED
    }


def test_shipped_columns_match_the_readme(shipped_scores):
    table = readme_table()
    assert len(table) == len(shortcut_study.CAMS) + 5, "README table not found or incomplete"
    for column, name in enumerate(SHIPPED):
        measured = shipped_scores[name]
        assert set(table) == set(measured), "README table and tool list different methods"
        for method, (mass, hits) in measured.items():
            expected_mass, expected_hits = table[method][column]
            assert mass == pytest.approx(expected_mass, abs=0.002), (name, method)
            assert hits == pytest.approx(expected_hits, abs=0.01), (name, method)


def test_layercam_and_gradients_separate_the_shortcut(shipped_scores):
    # the claim of the README and of 02_grad_cam.ipynb, on the shipped models
    clean, shortcut = (shipped_scores[name] for name in SHIPPED)
    for method in ["LayerCAM", "saliency", "Input×Gradient", "Integrated Gradients"]:
        assert shortcut[method][0] > 3 * clean[method][0], method
        assert shortcut[method][1] == 1.0 and clean[method][1] <= 0.25, method
