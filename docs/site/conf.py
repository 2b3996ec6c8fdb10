"""Sphinx configuration of the lesson's website (``make site``; tools/build_site.py).

tools/build_site.py lays out a source tree in build/site-src/<build>/ (the README as index.md,
the six notebooks, the docs) and runs sphinx-build with this folder as the configuration
directory and ``-t student`` or ``-t teacher``. myst-nb renders the notebooks with the outputs
they carry: nothing is executed, so the site is built offline in seconds, without a kernel.
"""

teacher = tags.has("teacher")  # noqa: F821 (Sphinx puts ``tags`` into this file's namespace)

project = "CIFAR-10 in PyTorch"
html_title = f"{project}: the {'teacher' if teacher else 'student'}'s site"

extensions = ["myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The committed outputs are the lesson's: show them, never run a notebook.
nb_execution_mode = "off"
# The committed outputs come from a headless run: each widget's cell shows its stand-in, a figure
# and a line of text. Widget state is stripped (tools/refresh_notebooks.py), so a widget view would
# render as an empty box: it is never chosen, and its text or image fallback shows instead.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

myst_heading_anchors = 3  # "#the-checks" links to a heading, as on GitHub

html_theme = "furo"
html_copy_source = False  # no _sources/: the notebooks' sources with their images are large
html_show_sourcelink = False
html_show_copyright = False  # no empty "Copyright ©" line in the footer
