"""Run the study notebooks headless: ``python -m acdc_core.suite run|refresh [NAME ...]``.

``run`` executes notebooks through papermill into an output folder (default ``runs/quick``) and
writes, per notebook, the executed ``NAME.ipynb``, ``NAME.html`` and its figures. ``refresh``
re-executes notebooks in place canonically (default parameters, no timing metadata) so the
committed outputs are reproducible. Files are written to a temporary name and renamed, so an
interrupted run never leaves a half-written file that looks complete.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"


def available(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Every study notebook by name (file stem), in name order."""
    return {p.stem: p for p in sorted(folder.glob("*.ipynb"))}


def resolve(names: list[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebook paths for names or paths; every name is checked before anything runs."""
    known = available(folder)
    if not names:
        return list(known.values())
    paths, unknown = [], []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            paths.append(path.resolve())
        elif path.stem in known and path.suffix in ("", ".ipynb"):
            paths.append(known[path.stem])
        else:
            unknown.append(name)
    if unknown:
        raise SystemExit(f"unknown notebook(s): {', '.join(unknown)}; "
                         f"valid names: {', '.join(known) or '(none found in ' + str(folder) + ')'}")
    return paths


def _write_atomically(target: Path, text: str) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def _strip_run_metadata(nb) -> None:
    """Drop what changes from run to run without changing results: timings, papermill records."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if "tags" in cell.metadata and "injected-parameters" in cell.metadata.tags:
            raise ValueError("refusing to keep papermill's injected-parameters cell")


def run(path: Path, out: Path, parameters: dict | None = None) -> bool:
    """Execute one notebook into ``out``; True when it ran without error.

    A failing notebook is still saved (with its traceback in the failing cell) as NAME.ipynb and
    NAME.html, so the failure can be read where the results would have been.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{path.stem}.partial.ipynb"
    os.environ["ACDC_HEADLESS"] = "1"
    os.environ["ACDC_OUTPUT_DIR"] = str(out.resolve())
    ok = True
    try:
        papermill.execute_notebook(str(path), str(partial), parameters=parameters or {},
                                   kernel_name=KERNEL, cwd=str(path.parent), progress_bar=False,
                                   log_output=False)
    except papermill.PapermillExecutionError:
        ok = False
    except Exception:  # a notebook that cannot even start is still reported, not raised
        traceback.print_exc()
        if not partial.exists():
            return False
        ok = False
    nb = nbformat.read(partial, as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    _write_atomically(out / f"{path.stem}.html", html)
    os.replace(partial, out / f"{path.stem}.ipynb")
    return ok


def refresh(path: Path, timeout: int = 1800) -> None:
    """Re-execute ``path`` in place with its defaults on the CPU, without timing metadata."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["ACDC_HEADLESS"] = "1"
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.pop("ACDC_OUTPUT_DIR", None)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    _strip_run_metadata(nb)
    _write_atomically(path, nbformat.writes(nb) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="acdc-suite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="execute notebooks into an output folder")
    run_parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    run_parser.add_argument("--out", default="runs/quick", help="output folder")
    refresh_parser = sub.add_parser("refresh", help="re-execute notebooks in place")
    refresh_parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    args = parser.parse_args(argv)

    paths = resolve(args.names)
    if args.command == "refresh":
        for path in paths:
            start = time.perf_counter()
            refresh(path)
            print(f"refreshed {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
        return 0
    out = Path(args.out)
    failed = []
    for path in paths:
        start = time.perf_counter()
        ok = run(path, out)
        status = "ok" if ok else "FAILED"
        print(f"{path.stem}: {status} in {time.perf_counter() - start:.0f} s -> "
              f"{out / (path.stem + '.html')}", flush=True)
        if not ok:
            failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"outputs in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
