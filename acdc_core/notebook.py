"""Helpers for the notebooks: the explicit headless flag, figure files and plain-text tables.

The runner sets ``ACDC_HEADLESS=1`` (so do ``make test`` and ``make refresh``) and
``ACDC_OUTPUT_DIR`` (where figures go). Nothing here guesses at the frontend.
"""
from __future__ import annotations

import os
from pathlib import Path

HEADLESS = os.environ.get("ACDC_HEADLESS", "") not in ("", "0")


def output_dir() -> Path | None:
    """The folder the runner asked figures and files to go to, or None when run by hand."""
    path = os.environ.get("ACDC_OUTPUT_DIR")
    return Path(path) if path else None


def save_figure(fig, name: str) -> Path | None:
    """Write ``fig`` as ``NAME.png`` into the output folder (atomically); None when there is none."""
    folder = output_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    partial = folder / f".{name}.png.partial"
    fig.savefig(partial, format="png", dpi=100, bbox_inches="tight")
    os.replace(partial, target)
    return target


def table(rows: list[dict], columns: list[str] | None = None, formats: dict | None = None) -> str:
    """A fixed-width text table of ``rows`` (dicts); ``formats`` maps a column to a format spec."""
    columns = columns or list(rows[0])
    formats = formats or {}
    cells = [[format(row.get(c, ""), formats.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
