"""Build the course site and the slides, offline, from executed notebooks.

Usage (from the repository root)::

    python tools/site.py                        # everything -> build/site/index.html
    python tools/site.py --executed runs/1234   # reuse notebooks executed elsewhere
    python tools/site.py --only xai-for-tabular-data/00_introduction_to_xai.ipynb  # part

What it does:

1. executes every tutorial in a fresh kernel (``tools/execute.py``), unless an executed copy
   with the same path is found under ``--executed`` (a ``benchmark.py --keep`` or
   ``hpc/run_notebooks.sbatch`` folder) or under ``build/executed/`` from an earlier build
   whose source notebook has not changed since;
2. assembles the Sphinx sources in ``build/site-src/``: the executed tutorials, the student
   exercise and homework notebooks (without outputs: they are to be solved), the pages of
   ``docs/`` (schedule, instructor guide), ``GRADING.md``, and generated index pages (one per
   day: tutorial, slides and exercises side by side);
3. runs Sphinx with MyST-NB and the book theme (``docs/conf.py``), warnings as errors, into
   ``build/site/``;
4. writes one reveal.js slide deck per tutorial into ``build/site/slides/`` with nbconvert's
   slides exporter (template ``tools/site_templates/course-reveal``); slide boundaries come
   from the cell metadata that ``tools/notebooks.py sync`` sets;
5. checks that every internal link and image of the site resolves (:func:`broken_links`).

Nothing is downloaded at build or view time: reveal.js comes from the ``sphinx-revealjs``
wheel and MathJax 3 from the ``sphinx-mathjax-offline`` wheel, copied into the site. Links
to files that are not pages of the site (solutions, data, tools) point at the repository at
the course's ref (``pyproject.toml``). Open ``build/site/index.html`` directly (``file://``)
or serve the folder with ``python -m http.server -d build/site``.
"""

from __future__ import annotations

import argparse
import html.parser
import importlib.util
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.notebooks import (  # noqa: E402
    BADGE_RE,
    DAY_FOLDERS,
    all_notebooks,
    course_ref,
    is_student,
    is_tutorial,
    repository_url,
)

BUILD = ROOT / "build"
DAY_TITLES = {
    "xai-for-tabular-data": "Day 1 · XAI for tabular data",
    "xai-for-image-data": "Day 2 · XAI for image data",
    "xai-for-1d-data": "Day 3 · XAI for 1D data: signals, text, transformers",
}
#: Pages of the repository that become pages of the site (beside the notebooks).
PAGES = ("docs/schedule.md", "docs/instructor-guide.md", "GRADING.md")
LINK_RE = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)")
TITLE_RE = re.compile(r"^#\s+(?P<title>.+)$", re.MULTILINE)
TIME_RE = re.compile(r"^\*\*Time:\*\*\s*(?P<time>.+)$", re.MULTILINE)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"the site build needs the package '{name}': pip install -e '.[site]'")
    return Path(spec.origin).parent


def exercises_of(tutorial: Path) -> list[Path]:
    """Return the student notebooks that belong to a tutorial (exercises, homework)."""
    number = tutorial.name.split("_", 1)[0]
    return [
        p for p in sorted(tutorial.parent.glob(f"{number}_*.ipynb"))
        if p != tutorial and is_student(p)
    ]


def title_of(nb: nbformat.NotebookNode, path: Path) -> str:
    """Return a notebook's title: the first ``# `` heading of its first markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = TITLE_RE.search(cell.source)
            if match:
                return match["title"].strip()
    return path.stem


def repo_link(relative: str) -> str:
    """Return the repository URL of a file at the course's ref."""
    return f"{repository_url()}/blob/{course_ref()}/{relative}"


def rewrite_links(text: str, page: str, pages: set[str]) -> str:
    """Point relative links to files that are not site pages at the repository.

    ``page`` is the repository path of the page holding ``text``; ``pages`` the repository
    paths of the site's pages. Links to pages and anchors stay as they are.
    """

    def fix(match: re.Match) -> str:
        target = match["target"]
        parts = urlsplit(target)
        if parts.scheme or target.startswith(("#", "mailto:")):
            return match[0]
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page),
                                                     unquote(parts.path)))
        if resolved in pages:
            return match[0]
        anchor = f"#{parts.fragment}" if parts.fragment else ""
        return f"[{match['text']}]({repo_link(resolved)}{anchor})"

    return LINK_RE.sub(fix, text)


def execute_tutorials(
    tutorials: list[Path], reuse: list[Path], out: Path
) -> dict[Path, nbformat.NotebookNode]:
    """Return the executed version of every tutorial, running those not found executed."""
    from tools.execute import execute_notebook

    executed = {}
    for path in tutorials:
        rel = path.relative_to(ROOT)
        cached = out / rel
        found = [d / rel for d in reuse if (d / rel).is_file()]
        if not found and cached.is_file() and cached.stat().st_mtime >= path.stat().st_mtime:
            found = [cached]
        if found:
            executed[path] = nbformat.read(found[0], as_version=4)
            print(f"reuse   {rel} ({found[0].parent})")
            continue
        start = time.perf_counter()
        nb, _ = execute_notebook(path)
        cached.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, cached)
        executed[path] = nb
        print(f"execute {rel}: {time.perf_counter() - start:.1f} s")
    return executed


def _site_notebook(nb: nbformat.NotebookNode, path: Path, links: str, pages: set[str]):
    """Return a copy of ``nb`` for the site: badge image replaced by text links."""
    nb = nbformat.from_dict(nb)
    first = nb.cells[0]
    first.source = BADGE_RE.sub(lambda _: links, first.source)
    if links not in first.source:
        first.source = f"{links}\n\n{first.source}"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, path.relative_to(ROOT).as_posix(), pages)
    for cell in nb.cells:
        if "setup" in cell.get("metadata", {}).get("tags", []):
            # the generated setup cell is plumbing: the page keeps only its output (device)
            cell.metadata["tags"] = [*cell.metadata["tags"], "remove-input"]
    nb.metadata.pop("widgets", None)
    return nb


def colab_link(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    github = repository_url().removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{github}/blob/{course_ref()}/{rel}"


def assemble(
    tutorials: dict[Path, nbformat.NotebookNode], src: Path
) -> dict[str, list[dict]]:
    """Write the Sphinx sources into ``src``; return the table of each day's entries."""
    if src.exists():
        shutil.rmtree(src)
    (src / "_static").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "conf.py", src / "conf.py")
    mathjax = _package_dir("sphinx-mathjax-offline") / "static" / "mathjax"
    fonts = Path("output") / "chtml" / "fonts" / "woff-v2"
    shutil.copytree(mathjax / fonts, src / "_static" / "mathjax" / fonts)
    shutil.copy(mathjax / "tex-chtml.js", src / "_static" / "mathjax" / "tex-chtml.js")

    students = {s for t in tutorials for s in exercises_of(t)}
    homework = {day: homework_of(day, students) for day in
                dict.fromkeys(p.relative_to(ROOT).parts[0] for p in tutorials)}
    students |= {h for found in homework.values() for h in found}
    pages = {p.relative_to(ROOT).as_posix() for p in [*tutorials, *students]}
    pages |= {p for p in PAGES if (ROOT / p).exists()}
    days: dict[str, list[dict]] = {}
    for path, nb in tutorials.items():
        rel = path.relative_to(ROOT)
        day = rel.parts[0]
        exercises = exercises_of(path)
        slides = f"slides/{day}/{path.stem}.slides.html"  # from the site's root
        links = " · ".join(
            [_html_link("Slides", f"../{slides}")]
            + [f"[{e.stem.rsplit('_', 1)[-1].capitalize()}]({e.name})" for e in exercises]
            + [f"[Open in Colab]({colab_link(path)})"]
        )
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_site_notebook(nb, path, links, pages), target)
        entry = {"tutorial": path, "title": title_of(nb, path), "slides": slides,
                 "exercises": exercises, "time": _time_of(nb)}  # fmt: skip
        days.setdefault(day, []).append(entry)
        for student in exercises:
            snb = nbformat.read(student, as_version=4)
            back = f"[Tutorial]({path.name}) · [Open in Colab]({colab_link(student)})"
            nbformat.write(_site_notebook(snb, student, back, pages), target.parent / student.name)
    for day, found in homework.items():
        for student in found:
            snb = nbformat.read(student, as_version=4)
            back = f"[Day index](index.md) · [Open in Colab]({colab_link(student)})"
            nbformat.write(_site_notebook(snb, student, back, pages), src / day / student.name)
    for page in PAGES:
        if (ROOT / page).exists():
            text = rewrite_links((ROOT / page).read_text(encoding="utf-8"), page, pages)
            (src / page).parent.mkdir(parents=True, exist_ok=True)
            (src / page).write_text(text, encoding="utf-8")
    _write_indexes(days, homework, src)
    return days


def _time_of(nb: nbformat.NotebookNode) -> str:
    match = TIME_RE.search(nb.cells[0].source) if nb.cells else None
    return match["time"].split(" · **")[0].strip() if match else ""


def homework_of(day: str, exercises: set[Path]) -> list[Path]:
    """Return a day's student homework notebooks that belong to no tutorial."""
    return [p for p in sorted((ROOT / day).glob("*_homework.ipynb"))
            if is_student(p) and p not in exercises]


def _write_indexes(days: dict[str, list[dict]], homework: dict[str, list[Path]],
                   src: Path) -> None:
    extra = [p.removesuffix(".md") for p in PAGES if (src / p).exists()]
    lines = [
        "# Introduction to Explainable Deep Learning on Supercomputers", "",
        "Three half-day sessions of Jupyter notebooks on explainable AI that run offline on a "
        "laptop CPU and use a GPU when there is one. This site shows every tutorial **with "
        "its outputs**, so its figures can be read without running anything; the exercise "
        "notebooks are shown as participants get them. Each tutorial has reveal.js slides.",
        "",
        f"Course version `{course_ref()}` · [repository]({repository_url()})", "",
        "```{toctree}", ":maxdepth: 1", ":caption: Days", "",
        *[f"{day}/index" for day in days], "```", "",
        "```{toctree}", ":maxdepth: 1", ":caption: Teaching", "", *extra, "```", "",
    ]
    for day, entries in days.items():
        lines += [f"## {DAY_TITLES.get(day, day)}", "", "| notebook | slides | exercises |",
                  "|---|---|---|"]
        for e in entries:
            lines.append(_row(e, prefix=f"{day}/"))
        lines.append("")
    (src / "index.md").write_text("\n".join(lines), encoding="utf-8")
    for day, entries in days.items():
        rows = ["| notebook | time | slides | exercises |", "|---|---|---|---|"]
        rows += [_row(e, prefix="", time=True) for e in entries]
        hidden = [e["tutorial"].stem for e in entries]
        hidden += [s.stem for e in entries for s in e["exercises"]]
        if homework.get(day):
            rows += ["", "Homework (handed in and graded, see GRADING): " + ", ".join(
                f"[{h.name}]({h.name})" for h in homework[day])]
            hidden += [h.stem for h in homework[day]]
        intro = "Tutorials with their outputs, their slides and the exercise notebooks."
        if (src / "docs" / "schedule.md").exists():
            intro += (" The [schedule](../docs/schedule.md) says what is presented live, "
                      "practised in class or left as homework.")
        text = "\n".join([f"# {DAY_TITLES.get(day, day)}", "", intro, "", *rows, "",
                          "```{toctree}", ":hidden:", "", *hidden, "```", ""])
        (src / day / "index.md").write_text(text, encoding="utf-8")


def _html_link(text: str, href: str) -> str:
    """A raw HTML link: MyST would take a Markdown link to a non-page file for a download."""
    return f'<a href="{href}">{text}</a>'


def _row(entry: dict, prefix: str, time: bool = False) -> str:
    """One table row of an index page; ``prefix`` is the day folder seen from the page."""
    tut = entry["tutorial"]
    up = "" if prefix else "../"
    cells = [f"[{entry['title']}]({prefix}{tut.name})"]
    if time:
        cells.append(entry["time"])
    cells.append(_html_link("slides", up + entry["slides"]))
    cells.append(", ".join(f"[{e.name}]({prefix}{e.name})" for e in entry["exercises"]) or "—")
    return "| " + " | ".join(cells) + " |"


def sphinx(src: Path, out: Path) -> None:
    """Run Sphinx (warnings are errors) from ``src`` into ``out``."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
           "-d", str(src.parent / "doctrees"), str(src), str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"sphinx failed:\n{done.stdout}\n{done.stderr}")


def slides(tutorials: dict[Path, nbformat.NotebookNode], out: Path) -> list[Path]:
    """Write one reveal.js deck per executed tutorial under ``out/slides``."""
    from nbconvert import SlidesExporter

    reveal = _package_dir("sphinx_revealjs") / "_static" / "revealjs"
    local = out / "slides" / "reveal.js"
    for part in ["dist/reveal.css", "dist/reveal.js", "dist/theme/white.css",
                 "plugin/notes/notes.js", "LICENSE"]:  # fmt: skip
        (local / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(reveal / part, local / part)
    shutil.copytree(reveal / "dist/theme/fonts/source-sans-pro",
                    local / "dist/theme/fonts/source-sans-pro", dirs_exist_ok=True)
    exporter = SlidesExporter(
        template_name="course-reveal",
        extra_template_basedirs=[str(ROOT / "tools" / "site_templates")],
        reveal_url_prefix="../reveal.js",
        reveal_theme="white",
        reveal_number="c/t",
        reveal_width="1280",
        reveal_height="800",
    )
    exporter.mathjax_url = "../../_static/mathjax/tex-chtml.js"
    written = []
    for path, nb in tutorials.items():
        day = path.relative_to(ROOT).parts[0]
        nb = nbformat.from_dict(nb)
        nb.cells[0].source = BADGE_RE.sub("", nb.cells[0].source).strip()
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        target = out / "slides" / day / f"{path.stem}.slides.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.refs.append(value)
            if key == "id" and value:
                self.ids.add(value)


def broken_links(site: Path) -> list[str]:
    """Return every internal link or resource of the site's HTML pages that does not resolve.

    Checks files and, for links into another page, ``#fragment`` anchors. Links with a
    scheme (``https:``, ``mailto:``) are outside the site and not followed.
    """
    broken, ids, pending = [], {}, []
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.relative_to(site).parts:
            continue  # the theme's template fragments, not pages
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        ids[page.resolve()] = parser.ids
        for ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith(("//", "data:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {ref}")
            elif parts.fragment and target.suffix == ".html":
                pending.append((page, ref, target, parts.fragment))
    for page, ref, target, fragment in pending:
        known = ids.get(target)
        if known is not None and fragment not in known and unquote(fragment) not in known:
            broken.append(f"{page.relative_to(site)} -> {ref} (no such anchor)")
    return broken


def select(only: list[str]) -> list[Path]:
    """Return the tutorials to build: all, or those named in ``only``."""
    tutorials = [p for p in all_notebooks() if is_tutorial(p)]
    if not only:
        return tutorials
    chosen = []
    for name in only:
        path = (ROOT / name).resolve() if not Path(name).is_absolute() else Path(name)
        if path not in tutorials:
            raise SystemExit(f"not a tutorial notebook of the course: {name}")
        chosen.append(path)
    return chosen


def build(only: list[str] | None = None, reuse: list[Path] | None = None,
          out: Path = BUILD / "site", cache: Path = BUILD / "executed") -> dict:
    """Build the site into ``out``; return timings, sizes and counts.

    Parameters
    ----------
    only : list of str, optional
        Tutorials to include (repository paths); all by default.
    reuse : list of Path, optional
        Folders holding executed notebooks under their repository paths.
    out : Path
        The site folder; its sources go to ``<out>-src`` beside it.
    cache : Path
        Where executed tutorials are kept for the next build.
    """
    start = time.perf_counter()
    tutorials = select(only or [])
    order = {folder: i for i, folder in enumerate(DAY_FOLDERS)}
    tutorials.sort(key=lambda p: (order[p.relative_to(ROOT).parts[0]], p.name))
    executed = execute_tutorials(tutorials, [Path(r) for r in reuse or []], cache)
    executed_s = time.perf_counter() - start
    src = out.parent / (out.name + "-src")
    assemble(executed, src)
    sphinx(src, out)
    decks = slides(executed, out)
    broken = broken_links(out)
    if broken:
        raise SystemExit("broken links in the site:\n  " + "\n  ".join(broken))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"tutorials": len(executed), "slides": len(decks),
            "pages": len(list(out.rglob("*.html"))), "size_mb": size / 1e6,
            "execute_s": executed_s, "total_s": time.perf_counter() - start}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="TUTORIAL",
                        help="build only these tutorials (and their exercises)")
    parser.add_argument("--executed", nargs="+", default=[], type=Path, metavar="DIR",
                        help="folders with executed notebooks to reuse (same relative paths)")
    parser.add_argument("--out", type=Path, default=BUILD / "site", help="output folder")
    args = parser.parse_args(argv)
    stats = build(args.only, args.executed, args.out.resolve())
    print(f"site: {stats['pages']} pages, {stats['slides']} slide decks, "
          f"{stats['size_mb']:.1f} MB in {args.out}; {stats['total_s']:.0f} s "
          f"({stats['execute_s']:.0f} s executing {stats['tutorials']} tutorials)")
    print(f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
