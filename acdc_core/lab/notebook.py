"""Helpers for the notebooks: the explicit headless flag, sliders that fall back to one static
figure, figure files, headline metrics, quiet progress bars and plain-text tables.

The runner sets ``ACDC_HEADLESS=1`` (so do ``make test`` and ``make refresh``), ``ACDC_OUTPUT_DIR``
(where figures go), ``ACDC_NOTEBOOK`` (the notebook's name, prefixed to its files),
``ACDC_METRICS_FILE`` and ``ACDC_OUTPUTS_FILE`` (where ``output_path`` notes each name it hands
out, so the runner records and later deletes exactly those files). Nothing here guesses at the
frontend.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..training.files import write_atomically

HEADLESS = os.environ.get("ACDC_HEADLESS", "") not in ("", "0")
RUNNER_SUFFIXES = ("ipynb", "html", "metrics.json")  # NOTEBOOK.* files the runner writes itself


def output_dir() -> Path | None:
    """The folder the runner asked figures and files to go to, or None when run by hand."""
    path = os.environ.get("ACDC_OUTPUT_DIR")
    return Path(path) if path else None


def output_path(name: str) -> Path | None:
    """``OUTPUT_DIR/NOTEBOOK.NAME`` for a file the notebook leaves beside its figures (the runner
    lists it in the index); None when the notebook runs by hand. ``name`` must be a plain file
    name, not one of the runner's own suffixes."""
    _check_output_name(name)
    folder = output_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{os.environ.get('ACDC_NOTEBOOK', 'notebook')}.{name}"
    _note_output(target.name)
    return target


def _check_output_name(name) -> None:
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name
            or not name.isprintable() or name in RUNNER_SUFFIXES):
        raise ValueError(f"output name {name!r}: expected a plain file name without '/' or '\\', "
                         f"other than the runner's own {', '.join(RUNNER_SUFFIXES)}")


def _note_output(file_name: str) -> None:
    """Tell the runner (through ACDC_OUTPUTS_FILE) that this file is the notebook's output."""
    notes = os.environ.get("ACDC_OUTPUTS_FILE")
    if notes:
        with open(notes, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(file_name) + "\n")


def save_figure(fig, name: str) -> Path | None:
    """Write ``fig`` as ``NOTEBOOK.NAME.png`` into the output folder (atomically); None when the
    notebook runs by hand."""
    target = output_path(f"{name}.png")
    if target is None:
        return None
    write_atomically(target, lambda path: fig.savefig(path, format="png", dpi=100,
                                                      bbox_inches="tight"))
    return target


def record_metric(name: str, value) -> None:
    """Add one headline number to the notebook's metrics (a flat JSON object the runner keeps as
    ``NOTEBOOK.metrics.json``). Values must be numbers, strings or booleans."""
    if not isinstance(value, (int, float, str, bool)):
        raise TypeError(f"metric {name!r} must be a number, string or boolean, got {type(value).__name__}")
    path = os.environ.get("ACDC_METRICS_FILE")
    if not path:
        return
    target = Path(path)
    metrics = json.loads(target.read_text()) if target.exists() else {}
    metrics[name] = value
    write_atomically(target, lambda p: p.write_text(json.dumps(metrics, indent=1, sort_keys=True)))


def progress(iterable, **kwargs):
    """A tqdm.auto progress bar, switched off when headless (TQDM_DISABLE does not reach
    tqdm.notebook, so this is passed explicitly)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=HEADLESS, **kwargs)


def interactive(plot, **sliders):
    """Show ``plot(**values)`` under sliders in JupyterLab; when headless, call it once with each
    slider's default. A slider is ``(default, choices)`` for a dropdown, or
    ``(default, low, high, step)`` for a numeric slider."""
    defaults = {name: spec[0] for name, spec in sliders.items()}
    if HEADLESS:
        return plot(**defaults)
    import ipywidgets as widgets

    controls = {}
    for name, spec in sliders.items():
        if len(spec) == 2:
            controls[name] = widgets.Dropdown(options=list(spec[1]), value=spec[0], description=name)
        else:
            default, low, high, step = spec
            kind = widgets.IntSlider if all(isinstance(v, int) for v in spec) else widgets.FloatSlider
            controls[name] = kind(value=default, min=low, max=high, step=step, description=name,
                                  continuous_update=False)
    return widgets.interact(plot, **controls)


def table(rows: list[dict], columns: list[str] | None = None, formats: dict | None = None) -> str:
    """A fixed-width text table of ``rows`` (dicts); ``formats`` maps a column to a format spec."""
    columns = columns or list(rows[0])
    formats = formats or {}
    cells = [[format(row.get(c, ""), formats.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
