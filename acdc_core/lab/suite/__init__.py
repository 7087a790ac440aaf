"""The notebook suite: ``acdc-suite list | run | refresh`` (also ``python -m acdc_core.lab.suite``).

``run [NAME|PATH ...] [--profile quick|full] [-p NAME=VALUE ...] [--out DIR]`` executes notebooks
through papermill with a profile's parameters from the notebooks folder's ``params.yaml``
(``quick`` is every notebook's own defaults) and the overrides, and writes per notebook the
executed ``NAME.ipynb``, ``NAME.html``, ``NAME.metrics.json`` and the files it leaves through
``notebook.output_path`` and ``save_figure`` (figures ``NAME.*.png``), plus an ``index.html``
linking everything with the figures inline. A NAME picks ``NAME.ipynb`` from the notebooks
folder (hidden files are not notebooks); an argument ending in ``.ipynb`` or holding a ``/``
is a path and must exist.

Every request is checked before anything runs or is written, and refused (exit status 2, one
line on stderr naming the argument or file, what was expected and what came): unknown or
doubled notebooks, missing paths, files that are not notebooks, notebook names that are not
plain (a ``.`` in them would let two notebooks' outputs collide; ``index`` is the index's), a
malformed ``params.yaml`` (duplicate keys included), unknown profiles and parameters, values of
the wrong type, and an ``--out`` that is a file or a folder the notebooks are in. ``-p`` values
are JSON (``3``, ``0.5``, ``true``, ``[1, 2]``, ``{"a": 1}``); text that is not JSON passes as
itself only to a ``str`` parameter. Values must have the declared type exactly (an int is fine
for a float, a bool is not an int), from ``-p`` or from ``params.yaml``; dict keys must be text,
as papermill injects every key as text, so a dict parameter whose default has other keys cannot
be set.

Nothing but what the suite wrote is ever deleted or written over: ``DIR/.acdc-suite-record.json``
records the exact names each run wrote per notebook (and the index). Before a notebook runs
again, the files its last run recorded are deleted, so nothing stale passes for this run's
result, and the index lists only recorded files. A run is refused when a file it would write
whole (``NAME.ipynb``, ``NAME.html``, ``NAME.metrics.json``, ``index.html``) exists unrecorded,
or when the record is damaged. A failing notebook is saved with its traceback and the others
still run; the exit status is then 1. Files are written under a temporary name and renamed, so
an interrupted run never leaves a half-written file that looks complete. The kernel imports
``acdc_core`` from the same tree as the runner (``PYTHONPATH``), so its helpers report their
outputs the way this runner reads them.

``refresh [NAME|PATH ...]`` re-executes notebooks in place canonically (default parameters, CPU,
no timing metadata) so the committed outputs are reproducible.

The parts: ``selection`` (the notebooks folder, notebooks and their parameters cells),
``profiles`` and ``values`` (params.yaml and ``-p``, checked), ``record`` (``--out`` and the
record), ``running`` and ``index`` (executing, refreshing, the index page), ``command`` (the
command line). The notebooks folder is the installed package's ``acdc_core/lab/notebooks``, or
in a source checkout or editable install the repository's ``notebooks/``.
"""
from .command import list_notebooks, main
from .errors import Refused
from .index import write_index
from .profiles import plan, profiles
from .record import RECORD, Record, check_out
from .running import refresh, run
from .selection import NOTEBOOKS, available, parameters, read_notebook, resolve

__all__ = ["NOTEBOOKS", "RECORD", "Record", "Refused", "available", "check_out", "list_notebooks",
           "main", "parameters", "plan", "profiles", "read_notebook", "refresh", "resolve", "run",
           "write_index"]
