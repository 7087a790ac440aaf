"""Sphinx configuration of the documentation site: `make docs` builds it into docs/_build/html.

The source folder is the repository's root, so that the README (the front page), the pages in
docs/, the notebooks in notebooks/ and the measured speeds in benchmarks/results/ are read where
they are and every relative link between them resolves on the site as it does on the forge. Only
those files are read.
"""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import acdc_core  # noqa: E402

project = "acdc"
author = "acdc contributors"
copyright = "the acdc contributors"
release = version = acdc_core.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and notebooks (it loads myst_parser itself)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

root_doc = "README"
include_patterns = ["README.md", "docs/*.md", "docs/api/**.rst", "notebooks/*.ipynb", "benchmarks/results/*.md"]
exclude_patterns = [".*", "**/.*", "docs/_build", "runs", "results", "tests",
                    "acdc_core", "build", "*.egg-info"]
templates_path = ["_templates"]

# Notebooks are rendered with their committed outputs, never executed.
nb_execution_mode = "off"
myst_heading_anchors = 6  # links such as experiments.md#e11 point at headings, as on the forge

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"  # no field for an argument the text leaves out

html_theme = "furo"
html_title = "acdc"

# The toctrees of the site: the README stays as it is written and gets them appended here.
TOCTREES = """

```{toctree}
:hidden:
:caption: Guides
:glob:

docs/*
```

```{toctree}
:hidden:
:caption: Studies
:glob:

notebooks/*
```

```{toctree}
:hidden:
:caption: Measured speeds
:glob:

benchmarks/results/*
```

```{toctree}
:hidden:
:caption: Reference

docs/api/index
```
"""


def add_toctrees(app, docname, source):
    if docname == root_doc:
        source[0] += TOCTREES


def front_page(app, exception):
    """The README's page is also the site's index.html."""
    if exception is None and app.builder.format == "html":
        shutil.copyfile(Path(app.outdir) / f"{root_doc}.html", Path(app.outdir) / "index.html")


def setup(app):
    app.connect("source-read", add_toctrees)
    app.connect("build-finished", front_page)
