"""Executing notebooks: one run into an output folder through papermill (recording what it
wrote), and ``refresh``, the canonical re-execution in place."""
from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

import acdc_core

from .names import is_file_name
from .record import Record, is_regular, own_files, write_text
from .selection import read_notebook

KERNEL = "python3"


def encrypted_kernels() -> type:
    """A kernel manager that gives the kernel CurveZMQ keys where it supports them, so that its
    messages are encrypted (and ipykernel does not warn, at every start, that they are not)."""
    from jupyter_client import AsyncKernelManager

    class EncryptedKernelManager(AsyncKernelManager):
        transport_encryption = "auto"

    return EncryptedKernelManager


def _identities(out: Path, name: str) -> dict[str, tuple]:
    """File name -> (inode, mtime, size) of every entry ``NAME.*`` in ``out`` (exact prefix)."""
    with os.scandir(out) as entries:
        return {e.name: (e.inode(), e.stat().st_mtime_ns, e.stat().st_size)
                for e in entries if e.name.startswith(f"{name}.") and e.is_file()}


def _left_by_notebook(out: Path, name: str, handed_out: Path, before: dict) -> list[str]:
    """The files the notebook asked ``output_path`` for and then wrote (new or changed)."""
    lines = handed_out.read_text(encoding="utf-8").splitlines() if handed_out.exists() else []
    after = _identities(out, name)
    asked = set()
    for line in lines:
        try:
            asked.add(json.loads(line))
        except ValueError:
            continue
    return [n for n in asked if is_file_name(n) and n.startswith(f"{name}.")
            and n in after and after[n] != before.get(n) and is_regular(out / n)]


def _execute(name: str, path: Path, out: Path, injected: dict, scratch: Path) -> bool:
    """Run the notebook with its partial files in ``scratch``; write NAME.html, NAME.ipynb and
    (when it ran) NAME.metrics.json into ``out``."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    partial, metrics = scratch / f"{name}.ipynb", scratch / "metrics.json"
    ok = True
    try:
        papermill.execute_notebook(str(path), str(partial), parameters=injected, kernel_name=KERNEL,
                                   cwd=str(path.parent), progress_bar=False, log_output=False,
                                   kernel_manager_class=encrypted_kernels())
    except papermill.PapermillExecutionError:
        ok = False
    except Exception:  # a notebook that cannot even start is reported, not raised
        error = traceback.format_exc()
        print(error, file=sys.stderr)
        ok = False
        if not partial.exists():
            write_text(out / f"{name}.html", f"<!DOCTYPE html><html><body><h1>{html.escape(name)}"
                       f" could not run</h1><pre>{html.escape(error)}</pre></body></html>")
            return False
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(partial, as_version=4))
    write_text(out / f"{name}.html", body)
    write_text(out / f"{name}.ipynb", partial.read_text(encoding="utf-8"))
    if ok:
        recorded = json.loads(metrics.read_text()) if metrics.exists() else {}
        write_text(out / f"{name}.metrics.json", json.dumps(recorded, indent=1, sort_keys=True))
    return ok


def kernel_path() -> str:
    """PYTHONPATH for the kernel, led by the folder this acdc_core was imported from (a checkout,
    site-packages, a --target folder): the notebook's helpers must speak the same ACDC_*
    protocol as this runner."""
    root = str(Path(acdc_core.__file__).resolve().parents[1])
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return os.pathsep.join([root, *rest])


def run(name: str, path: Path, out: Path, injected: dict, record: Record) -> bool:
    """Execute one notebook into ``out``; True when it ran without error. The files its last run
    recorded are deleted first; what this run writes is recorded. A failing notebook is still
    saved (its traceback in the failing cell) as NAME.ipynb and NAME.html."""
    out.mkdir(parents=True, exist_ok=True)
    record.clear(name)  # nothing stale may pass for this run's result
    record.set(name, own_files(name))
    with tempfile.TemporaryDirectory(prefix="acdc-suite-") as scratch:
        handed_out = Path(scratch) / "outputs.jsonl"
        os.environ.update(ACDC_HEADLESS="1", ACDC_OUTPUT_DIR=str(out.resolve()), ACDC_NOTEBOOK=name,
                          ACDC_METRICS_FILE=str(Path(scratch) / "metrics.json"),
                          ACDC_OUTPUTS_FILE=str(handed_out), PYTHONPATH=kernel_path())
        before = _identities(out, name)
        try:
            return _execute(name, path, out, injected, Path(scratch))
        finally:
            left = _left_by_notebook(out, name, handed_out, before)
            record.set(name, [n for n in own_files(name) if is_regular(out / n)] + left)


def kernelspec() -> dict:
    """The notebook metadata JupyterLab writes for the kernel the suite runs (so that opening a
    refreshed notebook does not mark it modified)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    return {"display_name": spec.display_name, "language": spec.language, "name": KERNEL}


def refresh(path: Path, timeout: int = 1800) -> None:
    """Re-execute ``path`` in place with its defaults on the CPU, without timing metadata; its
    run-dependent figures become the reference of later runs (see
    :func:`acdc_core.lab.notebook.reproduces`) and its headline the notebook's recorded answer
    (:func:`acdc_core.lab.notebook.answer`)."""
    from nbclient import NotebookClient
    import nbformat

    os.environ.update(ACDC_HEADLESS="1", CUDA_VISIBLE_DEVICES="", ACDC_RECORD_REFERENCE="1",
                      ACDC_NOTEBOOK=path.stem)  # the name its answer is recorded under
    for variable in ("ACDC_OUTPUT_DIR", "ACDC_METRICS_FILE", "ACDC_OUTPUTS_FILE"):
        os.environ.pop(variable, None)
    nb = read_notebook(path)
    NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                   kernel_manager_class=encrypted_kernels(),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = kernelspec()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    _show_the_answer_recorded(nb, path.stem)
    write_text(path, nbformat.writes(nb) + "\n")


def _show_the_answer_recorded(nb, name: str) -> None:
    """Give the notebook's ``answer(...)`` cell, which ran before this refresh recorded the
    notebook's headline, what it prints now: the answer this refresh recorded."""
    import nbformat

    from ..notebook import answer

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        answer(name)
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(r"^answer\(", cell.source, re.M):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed.getvalue())]
