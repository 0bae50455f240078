"""Sphinx configuration of the course site (built by ``python tools/site.py``).

``tools/site.py`` assembles the sources (executed tutorials, student exercise notebooks, the
pages of ``docs/``, generated index pages) in ``build/site-src/`` and runs Sphinx there; this
file is copied beside them. Everything the pages load at view time is local: the theme's assets
come with ``sphinx-book-theme``, MathJax 3 is copied into ``_static/mathjax`` by the build, and
no page asks an outside host for anything (the browser tests check it).
"""

project = "Introduction to Explainable Deep Learning on Supercomputers"
author = "The course authors"
copyright = "the course authors; text and figures CC BY 4.0, code MIT"

extensions = ["myst_nb"]
# The notebooks arrive executed: the site never runs code.
nb_execution_mode = "off"
# No ipywidgets JavaScript from a CDN (the site shows no live widgets).
nb_ipywidgets_js = {}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "Explainable Deep Learning"
html_static_path = ["_static"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_context = {"default_mode": "light"}  # an empty mode makes the theme log a console error
html_show_sourcelink = False
html_copy_source = False
# MathJax 3 from the site itself (tools/site.py copies it from the sphinx-mathjax-offline wheel).
mathjax_path = "mathjax/tex-chtml.js"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
