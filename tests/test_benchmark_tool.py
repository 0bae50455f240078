"""tools/benchmark.py: the summary line and the hand-written sections it keeps."""

from __future__ import annotations

from tools.benchmark import kept_sections, summary


def test_summary_is_computed_from_the_rows():
    results = {"a.ipynb": {"seconds": 10.04, "peak_mb": 812},
               "b.ipynb": {"seconds": 54.1, "peak_mb": 1458}}  # fmt: skip
    assert summary(results) == (
        "Total: 2 notebooks, 64 s one after the other; the slowest is `b.ipynb` at 54.1 s; "
        "peak memory 812–1458 MB."
    )
    assert summary({}) == "No notebook ran."


def test_kept_sections_start_at_the_first_level_two_heading(tmp_path):
    report = tmp_path / "bench.md"
    assert kept_sections(report) == ""  # no file yet
    kept = "## Notes\n\ntext\n\n## GPU run\n| x |\n"
    report.write_text(f"# Notebook benchmark\n\n| table |\n\n{kept}")
    assert kept_sections(report) == kept
    report.write_text("# Notebook benchmark\n\n| table |\n")
    assert kept_sections(report) == ""
