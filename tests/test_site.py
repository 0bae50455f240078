"""The course site and slides: they build offline, every link resolves, and they render.

One small site (one tutorial per day, executed here) is built once per test session into a
temporary folder; the full site is the same build over every tutorial (``python
tools/site.py``). The Chromium tests (marker ``browser``) load its pages from a local
server and require no console error, no failed request and no request to another host.
"""

from __future__ import annotations

import re

import matplotlib.image
import nbformat
import numpy as np
import pytest

from tools import site
from tools.notebooks import ROOT, all_notebooks, is_tutorial

pytestmark = [pytest.mark.site, pytest.mark.xdist_group("site")]

#: The fastest tutorial of each day, each with figures (and maths on day 3).
SAMPLE = [
    "xai-for-tabular-data/00_introduction_to_xai.ipynb",
    "xai-for-image-data/01_cnn_internals.ipynb",
    "xai-for-1d-data/02_transformers_and_self_attention.ipynb",
]
PAGES = [p.replace(".ipynb", ".html") for p in SAMPLE]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    stats = site.build(SAMPLE, out=out, cache=out.parent / "executed")
    return out, stats


@pytest.fixture(scope="session")
def browser():
    from tools.browser import Browser

    b = Browser()
    yield b
    b.close()


def test_the_site_has_every_page_and_figure(built):
    out, stats = built
    assert stats["tutorials"] == len(SAMPLE) and stats["slides"] == len(SAMPLE)
    for page in ["index.html", "docs/schedule.html", "docs/instructor-guide.html",
                 "GRADING.html", *PAGES]:  # fmt: skip
        assert (out / page).is_file(), page
    for page in PAGES:
        text = (out / page).read_text()
        figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', text)
        assert figures, f"{page} shows no figure: its tutorial was not executed?"
        assert all((out / page).parent.joinpath(f).is_file() for f in figures)
        assert "Slides</a>" in text and "Exercises" in text, "tutorial ↔ exercise links"
        assert "colab-badge.svg" not in text, "the badge image is fetched from Google"
    for day in {p.split("/")[0] for p in SAMPLE}:
        index = (out / day / "index.html").read_text()
        assert "_exercises.html" in index and ".slides.html" in index


def test_nothing_is_loaded_from_another_host(built):
    """Static check of every page: scripts, styles, images and fonts are all local."""
    out, _ = built
    outside = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)="'
                         r'(?:https?:)?//', re.IGNORECASE)
    for page in out.rglob("*.html"):
        if "_static" in page.parts:
            continue
        text = page.read_text(errors="replace")
        for match in outside.finditer(text):
            tag = text[match.start():text.index(">", match.start()) + 1]
            assert 'rel="canonical"' in tag, f"{page.relative_to(out)}: {tag}"


def test_internal_links_resolve_and_the_check_can_fail(built, tmp_path):
    out, _ = built
    assert site.broken_links(out) == []
    (tmp_path / "a.html").write_text('<a href="b.html#x">b</a><a href="missing.html">m</a>'
                                     '<img src="img/none.png"><a href="https://x.org">ok</a>')
    (tmp_path / "b.html").write_text('<h1 id="y">b</h1>')
    assert sorted(site.broken_links(tmp_path)) == [
        "a.html -> b.html#x (no such anchor)", "a.html -> img/none.png",
        "a.html -> missing.html"]  # fmt: skip


def test_slides_come_from_cell_metadata(built):
    out, _ = built
    for nb_path in SAMPLE:
        nb = nbformat.read(ROOT / nb_path, as_version=4)
        starts = sum(c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")
                     for c in nb.cells)
        day, name = nb_path.split("/")
        deck = (out / "slides" / day / name.replace(".ipynb", ".slides.html")).read_text()
        assert deck.count("<section") >= starts > 2
        assert "unpkg.com" not in deck and "cdnjs" not in deck and "cdn.jsdelivr" not in deck


def test_every_tutorial_has_slide_metadata_from_the_tool():
    """``tools/notebooks.py sync`` set it; hand edits would be undone by the sync check."""
    for path in all_notebooks():
        nb = nbformat.read(path, as_version=4)
        kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        if is_tutorial(path):
            assert kinds[0] == "slide" and kinds[1] == "skip" and None not in kinds, path.name
        else:
            assert set(kinds) == {None}, f"{path.name}: slides are for tutorials only"


def test_links_to_files_outside_the_site_point_at_the_repository():
    text = ("[guide](instructor-guide.md) [key](../xai-for-1d-data/06_x_solution.ipynb) "
            "[web](https://example.org) [here](#top) ![img](fig.png)")
    fixed = site.rewrite_links(text, "docs/schedule.md", {"docs/instructor-guide.md"})
    assert "[guide](instructor-guide.md)" in fixed and "[here](#top)" in fixed
    assert f"[key]({site.repo_link('xai-for-1d-data/06_x_solution.ipynb')})" in fixed
    assert "[web](https://example.org)" in fixed and "![img](fig.png)" in fixed


def test_a_name_that_is_not_a_tutorial_is_refused():
    with pytest.raises(SystemExit, match="not a tutorial"):
        site.select(["xai-for-1d-data/02_transformers_and_self_attention_exercises.ipynb"])
    assert len(site.select([])) == sum(is_tutorial(p) for p in all_notebooks())


def _shows_a_picture(png: str) -> bool:
    pixels = matplotlib.image.imread(png)[..., :3]
    return float(pixels.std()) > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


@pytest.mark.browser
def test_pages_render_in_chromium_with_no_errors_and_no_outside_request(built, browser,
                                                                         tmp_path):
    out, _ = built
    from tools.browser import serve

    with serve(out) as url:
        for page_path in ["index.html", *PAGES]:
            page, log = browser.open(f"{url}/{page_path}", wait="networkidle")
            assert log.problems() == [], f"{page_path}: {log.problems()}"
            broken = page.evaluate("Array.from(document.images)"
                                   ".filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0, f"{page_path}: {broken} images did not load"
            if page_path != "index.html":
                figure = page.locator(".cell_output img").first
                figure.scroll_into_view_if_needed()
                shot = tmp_path / (page_path.replace("/", "_") + ".png")
                figure.screenshot(path=str(shot))
                assert _shows_a_picture(str(shot)), f"{page_path}: the figure is blank"
            page.close()
        page, log = browser.open(f"{url}/{PAGES[2]}", wait="networkidle")
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 0")
        assert log.problems() == []
        page.close()


@pytest.mark.browser
def test_slides_run_in_chromium(built, browser, tmp_path):
    out, _ = built
    from tools.browser import serve

    day, name = SAMPLE[1].split("/")
    with serve(out) as url:
        page, log = browser.open(f"{url}/slides/{day}/{name.replace('.ipynb', '.slides.html')}",
                                 wait="networkidle")
        page.wait_for_function("window.Reveal && Reveal.isReady()")
        total = page.evaluate("Reveal.getTotalSlides()")
        first = tmp_path / "first.png"
        page.screenshot(path=str(first))
        page.keyboard.press("ArrowRight")
        page.wait_for_function("Reveal.getIndices().h === 1")
        second = tmp_path / "second.png"
        page.screenshot(path=str(second))
        assert total > 3
        assert not np.array_equal(matplotlib.image.imread(first), matplotlib.image.imread(second))
        assert log.problems() == [], log.problems()
        page.close()
