"""The notebook suite: ``acdc-suite list | run | refresh`` (also ``python -m acdc_core.suite``).

``run [NAME ...] [--profile quick|full] [-p NAME=VALUE ...] [--out DIR]`` executes notebooks
through papermill with a profile's parameters from ``notebooks/params.yaml`` (``quick`` is every
notebook's own defaults) and the overrides, and writes per notebook the executed ``NAME.ipynb``,
``NAME.html``, its figures ``NAME.*.png`` and ``NAME.metrics.json``, plus an ``index.html`` linking
everything with the figures inline. Every name, parameter and value is checked before anything
runs. A failing notebook is saved with its traceback and the others still run; the exit status
is then 1. Files are written under a temporary name and renamed, so an interrupted run never
leaves a half-written file that looks complete.

``refresh [NAME ...]`` re-executes notebooks in place canonically (default parameters, CPU, no
timing metadata) so the committed outputs are reproducible.
"""
from __future__ import annotations

import argparse
import ast
import html
import json
import os
import sys
import time
import traceback
from pathlib import Path

from .files import write_atomically

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"
_PARSERS = {
    "int": int,
    "float": float,
    "str": str,
    "bool": lambda text: {"true": True, "1": True, "yes": True,
                          "false": False, "0": False, "no": False}[text.lower()],
    "list": lambda text: _literal(text, list),
    "dict": lambda text: _literal(text, dict),
}
_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


class Refused(Exception):
    """A request the suite will not start: the message says what is allowed."""


def _literal(text: str, kind: type):
    value = ast.literal_eval(text)
    if not isinstance(value, kind):
        raise ValueError(text)
    return value


def available(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Every study notebook by name (file stem), in name order."""
    return {p.stem: p for p in sorted(folder.glob("*.ipynb"))}


def parameters(path: Path) -> dict[str, dict]:
    """The notebook's parameters cell: name -> {"type", "default", "help"}."""
    import papermill

    try:
        found = papermill.inspect_notebook(str(path))
    except Exception as error:  # not JSON, not a notebook, unreadable
        raise Refused(f"{path.name} cannot be read as a notebook: {error}") from None
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in found.items()}


def profiles(folder: Path = NOTEBOOKS) -> dict[str, dict]:
    """Profile name -> {notebook name -> {parameter -> value}} from params.yaml; ``quick`` is
    always there (the notebooks' own defaults)."""
    import yaml

    file = folder / "params.yaml"
    loaded = yaml.safe_load(file.read_text()) if file.exists() else None
    loaded = loaded or {}
    loaded.setdefault("quick", {})
    return {name: (profile or {}) for name, profile in loaded.items()}


def resolve(names: list[str], folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Notebooks by name (or path); all are checked before anything runs."""
    known = available(folder)
    if not names:
        return known
    chosen, unknown = {}, []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen[path.stem] = path.resolve()
        elif path.stem in known and path.suffix in ("", ".ipynb"):
            chosen[path.stem] = known[path.stem]
        else:
            unknown.append(name)
    if unknown:
        raise Refused(f"unknown notebook(s): {', '.join(unknown)}; valid names: "
                      f"{', '.join(known) or '(none in ' + str(folder) + ')'}")
    return chosen


def _parse(notebook: str, name: str, spec: dict, value):
    """A value (text from -p, or from params.yaml) as the parameter's declared type."""
    kind = spec["type"]
    if isinstance(value, str) and kind != "str":
        try:
            value = _PARSERS[kind](value)
        except (ValueError, KeyError, SyntaxError):
            raise Refused(f"{notebook}: {name}={value!r} does not parse as {kind} "
                          f"(default: {spec['default']})") from None
    expected = _TYPES.get(kind)
    if expected and (not isinstance(value, expected) or (kind != "bool" and isinstance(value, bool))):
        raise Refused(f"{notebook}: {name} must be {kind}, got {value!r} (default: {spec['default']})")
    return value


def plan(names: list[str], profile: str = "quick", overrides: list[str] = (),
         folder: Path = NOTEBOOKS) -> dict[str, tuple[Path, dict]]:
    """Notebook name -> (path, parameters to inject), refusing any unknown profile, notebook,
    parameter or unparsable value before anything runs."""
    all_profiles = profiles(folder)
    if profile not in all_profiles:
        raise Refused(f"unknown profile {profile!r}; valid profiles: {', '.join(all_profiles)}")
    chosen = resolve(names, folder)
    specs = {name: parameters(path) for name, path in chosen.items()}
    injected = {name: {} for name in chosen}
    for notebook, values in all_profiles[profile].items():
        if notebook not in available(folder):
            raise Refused(f"params.yaml profile {profile!r} names unknown notebook {notebook!r}")
        if notebook not in chosen:
            continue
        for name, value in (values or {}).items():
            if name not in specs[notebook]:
                raise Refused(f"params.yaml profile {profile!r}: {notebook} has no parameter "
                              f"{name!r}; its parameters: {', '.join(specs[notebook])}")
            injected[notebook][name] = _parse(notebook, name, specs[notebook][name], value)
    for override in overrides:
        name, sep, text = override.partition("=")
        if not sep:
            raise Refused(f"-p expects NAME=VALUE, got {override!r}")
        targets = [nb for nb in chosen if name in specs[nb]]
        if not targets:
            valid = sorted({p for spec in specs.values() for p in spec})
            raise Refused(f"no selected notebook has a parameter {name!r}; "
                          f"valid parameters: {', '.join(valid)}")
        for notebook in targets:
            injected[notebook][name] = _parse(notebook, name, specs[notebook][name], text)
    return {name: (path, injected[name]) for name, path in chosen.items()}


def _write_atomically(target: Path, text: str) -> None:
    write_atomically(target, lambda partial: partial.write_text(text, encoding="utf-8"))


def _outputs(out: Path, name: str) -> list[Path]:
    return [p for p in out.glob(f"{name}.*") if p.is_file()]


def run(name: str, path: Path, out: Path, injected: dict) -> bool:
    """Execute one notebook into ``out``; True when it ran without error. A failing notebook is
    still saved (its traceback in the failing cell) as NAME.ipynb and NAME.html."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    for old in _outputs(out, name):  # nothing stale may pass for this run's result
        old.unlink()
    partial = out / f".{name}.partial.ipynb"
    metrics = out / f".{name}.metrics.partial.json"
    metrics.unlink(missing_ok=True)
    os.environ.update(ACDC_HEADLESS="1", ACDC_OUTPUT_DIR=str(out.resolve()), ACDC_NOTEBOOK=name,
                      ACDC_METRICS_FILE=str(metrics.resolve()))
    ok = True
    try:
        papermill.execute_notebook(str(path), str(partial), parameters=injected, kernel_name=KERNEL,
                                   cwd=str(path.parent), progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError:
        ok = False
    except Exception:  # a notebook that cannot even start is reported, not raised
        error = traceback.format_exc()
        print(error, file=sys.stderr)
        ok = False
        if not partial.exists():
            _write_atomically(out / f"{name}.html", f"<!DOCTYPE html><html><body><h1>{html.escape(name)}"
                              f" could not run</h1><pre>{html.escape(error)}</pre></body></html>")
            return False
    nb = nbformat.read(partial, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    _write_atomically(out / f"{name}.html", body)
    os.replace(partial, out / f"{name}.ipynb")
    if ok:
        recorded = json.loads(metrics.read_text()) if metrics.exists() else {}
        _write_atomically(out / f"{name}.metrics.json", json.dumps(recorded, indent=1, sort_keys=True))
    metrics.unlink(missing_ok=True)
    return ok


def write_index(out: Path, results: dict[str, bool], profile: str) -> Path:
    """index.html: per notebook its status, links, metrics and figures (inline)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>acdc suite: {profile}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "img{max-width:100%;border:1px solid #ddd;margin:4px 0}"
             "td,th{padding:2px 10px;text-align:right}.failed{color:#b00}</style></head><body>",
             f"<h1>acdc notebook suite — profile {html.escape(profile)}</h1>",
             f"<p>{sum(results.values())} of {len(results)} notebooks ran without error.</p>"]
    for name, ok in results.items():
        status = "ok" if ok else "<span class='failed'>FAILED (see its traceback)</span>"
        links = [f"<a href='{html.escape(name)}.html'>report</a>",
                 f"<a href='{html.escape(name)}.ipynb'>notebook</a>"]
        metrics_file = out / f"{name}.metrics.json"
        if metrics_file.exists():
            links.append(f"<a href='{html.escape(metrics_file.name)}'>metrics</a>")
        known = {f"{name}.html", f"{name}.ipynb", metrics_file.name}
        links += [f"<a href='{html.escape(p.name)}'>{html.escape(p.name[len(name) + 1:])}</a>"
                  for p in sorted(_outputs(out, name)) if p.name not in known and p.suffix != ".png"]
        parts.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)}: {status}</h2>"
                     f"<p>{' · '.join(links)}</p>")
        if metrics_file.exists():
            rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                           for k, v in json.loads(metrics_file.read_text()).items())
            parts.append(f"<table>{rows}</table>" if rows else "")
        for figure in sorted(out.glob(f"{name}.*.png")):
            parts.append(f"<figure><img src='{html.escape(figure.name)}' alt='{html.escape(figure.stem)}'>"
                         f"<figcaption>{html.escape(figure.stem)}</figcaption></figure>")
    parts.append("</body></html>")
    index = out / "index.html"
    _write_atomically(index, "\n".join(parts))
    return index


def refresh(path: Path, timeout: int = 1800) -> None:
    """Re-execute ``path`` in place with its defaults on the CPU, without timing metadata."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(ACDC_HEADLESS="1", CUDA_VISIBLE_DEVICES="")
    for variable in ("ACDC_OUTPUT_DIR", "ACDC_NOTEBOOK", "ACDC_METRICS_FILE"):
        os.environ.pop(variable, None)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    _write_atomically(path, nbformat.writes(nb) + "\n")


def list_notebooks(folder: Path = NOTEBOOKS) -> str:
    lines = []
    for name, path in available(folder).items():
        lines.append(name)
        for parameter, spec in parameters(path).items():
            comment = f"  # {spec['help']}" if spec["help"] else ""
            lines.append(f"    {parameter}: {spec['type']} = {spec['default']}{comment}")
    lines.append(f"profiles (notebooks/params.yaml): {', '.join(profiles(folder))}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="acdc-suite", description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS,
                        help="folder of the notebooks and params.yaml (default: this project's)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every notebook with its parameters")
    run_parser = sub.add_parser("run", help="execute notebooks into an output folder")
    run_parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    run_parser.add_argument("--profile", default="quick", help="parameter profile (default quick)")
    run_parser.add_argument("-p", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a parameter (repeatable)")
    run_parser.add_argument("--out", help="output folder (default runs/PROFILE)")
    refresh_parser = sub.add_parser("refresh", help="re-execute notebooks in place")
    refresh_parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print(list_notebooks(args.notebooks))
            return 0
        if args.command == "refresh":
            for name, path in resolve(args.names, args.notebooks).items():
                start = time.perf_counter()
                refresh(path)
                print(f"refreshed {name} in {time.perf_counter() - start:.0f} s", flush=True)
            return 0
        work = plan(args.names, args.profile, args.overrides, args.notebooks)
    except Refused as refusal:
        print(f"acdc-suite: {refusal}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/{args.profile}")
    results = {}
    for i, (name, (path, injected)) in enumerate(work.items(), 1):
        start = time.perf_counter()
        results[name] = run(name, path, out, injected)
        status = "ok" if results[name] else "FAILED"
        print(f"[{i}/{len(work)}] {name}: {status} in {time.perf_counter() - start:.0f} s", flush=True)
    index = write_index(out, results, args.profile)
    failed = [name for name, ok in results.items() if not ok]
    print(f"index: {index.resolve()}")
    if failed:
        print(f"failed: {', '.join(failed)} (their tracebacks are in {out}/NAME.html)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
