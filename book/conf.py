"""Sphinx configuration of the minidl course book (`make book`, `make test-book`).

The pages are the lessons themselves (jupytext percent-format `.py` files), executed by MyST-NB
with a cache, so a rebuild re-executes only the lessons whose code changed. Everything is served
from the build folder: math is MathML made at build time, search is Sphinx's own index, and the
theme's assets are bundled, so the book builds and reads offline.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "minidl — a course in model optimization"
author = "the minidl engineers"
copyright = "minidl authors, MIT licence"  # noqa: A001 (Sphinx reads this name)

extensions = ["myst_nb", "mathml"]
html_math_renderer = "mathml"

# The lessons are Python files in jupytext's percent format.
nb_custom_formats = {".py": "lesson_reader.read_lesson"}
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".py": "myst-nb"}
exclude_patterns = ["_build", "**/figures", "**/.ipynb_checkpoints", "_ext", "tests", "conf.py"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3

# Execution: cached by each notebook's code, so editing one lesson re-runs only that one. A lesson
# that raises (a failed `minidl.course.claim` included) fails the build.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("MINIDL_BOOK_CACHE", str(Path(__file__).parents[1] / "build" / ".book-cache"))
nb_execution_timeout = int(os.environ.get("MINIDL_BOOK_TIMEOUT", "900"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = "minidl course"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,  # each lesson page has its own .ipynb / .py links
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
# A projector and a printout both want the light theme; the reader can still switch.
html_context = {"default_mode": "light"}
