"""Sphinx configuration of mcalc's documentation (MyST Markdown pages, API from docstrings).

Build locally with ``python -m sphinx -W --keep-going -n -b html docs docs/_build/html``
(after ``pip install -e ".[docs]"``); the test suite runs the same build.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # mcalc from this checkout, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

import mcalc  # noqa: E402

project = "mcalc"
author = "the mcalc authors"
copyright = "2026, the mcalc authors"  # noqa: A001 - Sphinx's name
release = version = mcalc.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "mcalc_docs",  # docs/_ext/mcalc_docs.py: config reference, API lists, benchmark tables
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_data", "Thumbs.db", ".DS_Store"]

# MyST: $...$ and $$...$$ math, ::: fences, anchors for links to headings (page.md#heading).
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# Google-style docstrings (Args/Returns/Raises/Example), as the code base writes them.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields, so dataclass fields are not listed twice
napoleon_use_rtype = False

autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
autodoc_default_options = {"undoc-members": False}
autosummary_generate = False  # the API page lists its entries itself; nothing is written

# Warnings are errors in the build (-W); every cross-reference must resolve (-n), except
# to the libraries mcalc builds on, whose inventories would need the network.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(jax|jaxlib|numpy|np|optax|flax|nnx|chex|omegaconf|sklearn|orbax)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|pathlib|os|concurrent\.futures)\..*"),
    (r"py:class", r"(Path|Array|ArrayLike|Any|Callable|Sequence|Mapping|Iterable|PRNGKey)"),
    (r"py:class", r"(int|float|str|bool|bytes|dict|list|tuple|None|type|object)"),
    (r"py:class", r"(optional|callable|array|array-like|pytree|mapping)"),
]

html_theme = "furo"
html_title = f"mcalc {release}"
html_static_path: list[str] = []
