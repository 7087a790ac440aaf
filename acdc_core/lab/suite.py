"""The notebook suite: ``acdc-suite list | run | refresh`` (also ``python -m acdc_core.lab.suite``).

``run [NAME|PATH ...] [--profile quick|full] [-p NAME=VALUE ...] [--out DIR]`` executes notebooks
through papermill with a profile's parameters from ``notebooks/params.yaml`` (``quick`` is every
notebook's own defaults) and the overrides, and writes per notebook the executed ``NAME.ipynb``,
``NAME.html``, ``NAME.metrics.json`` and the files it leaves through ``notebook.output_path`` and
``save_figure`` (figures ``NAME.*.png``), plus an ``index.html`` linking everything with the
figures inline. A NAME picks ``NAME.ipynb`` from the notebooks folder (hidden files are not
notebooks); an argument ending in ``.ipynb`` or holding a ``/`` is a path and must exist.

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
"""
from __future__ import annotations

import argparse
import ast
import html
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ..training.files import write_atomically

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "python3"
RECORD = ".acdc-suite-record.json"
INDEX = "index"  # index.html's owner in the record: no notebook may take the name
OWN_SUFFIXES = (".ipynb", ".html", ".metrics.json")
KINDS = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


class Refused(Exception):
    """A request the suite will not start: the message says what is allowed."""


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_file_name(text) -> bool:
    """A plain name of a file inside one folder: no separator, not '.' or '..', printable."""
    return (isinstance(text, str) and text not in ("", ".", "..") and "/" not in text
            and "\\" not in text and text.isprintable())


def _is_notebook_name(text) -> bool:
    """A name whose outputs ``NAME.*`` cannot collide with another notebook's or with the index."""
    return _is_file_name(text) and "." not in text and text.lower() != INDEX


def _check_folder(folder: Path) -> None:
    if not Path(folder).is_dir():
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise Refused(f"--notebooks {folder} {what}; expected a folder of .ipynb notebooks")


def available(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Every study notebook by name (file stem), in name order; hidden files are not notebooks."""
    _check_folder(folder)
    return {p.stem: p for p in sorted(Path(folder).glob("*.ipynb")) if not p.name.startswith(".")}


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat 4, validated), or Refused naming the file."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # not JSON, not a notebook, unreadable
        raise Refused(f"{path} cannot be read as a notebook (expected Jupyter notebook JSON): "
                      f"{_first_line(error)}") from None
    return nb


def parameters(path: Path) -> dict[str, dict]:
    """The notebook's parameters cell: name -> {"type", "default", "help"}."""
    from papermill.translators import PythonTranslator

    cells = [c for c in read_notebook(path).cells if "parameters" in c.metadata.get("tags", [])]
    found = PythonTranslator.inspect(cells[0]) if cells else []
    return {p.name: {"type": p.inferred_type_name, "default": p.default, "help": p.help}
            for p in found}


def _strict_yaml_loader():
    """A safe YAML loader that refuses a mapping giving the same key twice."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader, node):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' keys are meant to be overridden
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def _load_yaml(file: Path):
    import yaml

    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=_strict_yaml_loader())
    except (OSError, UnicodeError, yaml.YAMLError, TypeError) as error:
        raise Refused(f"{file} cannot be read as YAML: {' '.join(str(error).split())}") from None


def _check_profile(file: Path, profile, notebooks) -> dict:
    """One profile of params.yaml as {notebook -> {parameter -> value}}, or Refused."""
    if not _is_file_name(profile):
        raise Refused(f"{file}: profile name {profile!r} is not a plain name (it names the "
                      "default output folder runs/PROFILE)")
    notebooks = {} if notebooks is None else notebooks
    if not isinstance(notebooks, dict):
        raise Refused(f"{file}: profile {profile!r} must map notebook names to their parameters, "
                      f"got a {type(notebooks).__name__}: {_short(notebooks)}")
    checked = {}
    for notebook, values in notebooks.items():
        values = {} if values is None else values
        if not isinstance(notebook, str) or not isinstance(values, dict):
            raise Refused(f"{file}: profile {profile!r}: expected a notebook name mapping parameter "
                          f"names to values, got {notebook!r}: {_short(values)}")
        wrong = [name for name in values if not isinstance(name, str)]
        if wrong:
            raise Refused(f"{file}: profile {profile!r}, notebook {notebook!r}: parameter name "
                          f"{wrong[0]!r} is not text")
        checked[notebook] = values
    return checked


def profiles(folder: Path = NOTEBOOKS) -> dict[str, dict]:
    """Profile name -> {notebook name -> {parameter -> value}} from params.yaml; ``quick`` is
    always there (the notebooks' own defaults)."""
    _check_folder(folder)
    file = Path(folder) / "params.yaml"
    loaded = _load_yaml(file) if os.path.lexists(file) else None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, dict):
        raise Refused(f"{file}: expected a mapping of profile names to profiles, got a "
                      f"{type(loaded).__name__}: {_short(loaded)}")
    loaded.setdefault("quick", {})
    return {name: _check_profile(file, name, value) for name, value in loaded.items()}


def _is_path(argument: str) -> bool:
    return argument.endswith(".ipynb") or "/" in argument or os.sep in argument


def _notebook_at(argument: str, folder: Path) -> tuple[str, Path]:
    """(name, resolved path) of a notebook given by path, which must exist."""
    path = Path(argument)
    if not path.exists():
        raise Refused(f"notebook file {argument} does not exist (a NAME without .ipynb or '/' "
                      f"picks NAME.ipynb from {folder})")
    if path.suffix != ".ipynb" or not path.is_file():
        kind = "folder" if path.is_dir() else "file"
        raise Refused(f"{argument} is not a notebook: expected a file ending in .ipynb, got a {kind}")
    return path.stem, path.resolve()


def _pick(names: list[str], known: dict[str, Path], folder: Path) -> dict[str, Path]:
    chosen, unknown = {}, []
    for argument in names:
        if _is_path(argument):
            name, path = _notebook_at(argument, folder)
        elif argument in known:
            name, path = argument, known[argument]
        else:
            unknown.append(argument)
            continue
        if name in chosen:
            raise Refused(f"notebook {name!r} is named twice ({chosen[name]} and {path}); "
                          "name each notebook once")
        chosen[name] = path
    if unknown:
        raise Refused(f"unknown notebook(s): {', '.join(unknown)}; valid names: "
                      f"{', '.join(known) or '(none in ' + str(folder) + ')'}")
    return chosen


def _check_notebook_file(name: str, path: Path) -> None:
    if not _is_notebook_name(name):
        raise Refused(f"notebook {path}: its name {name!r} is not usable: expected a name without "
                      "'.', '/', '\\' or control characters, other than 'index' (its outputs are "
                      "NAME.*, beside index.html)")
    if not path.is_file():
        raise Refused(f"{path} is not a notebook: expected a file, got a "
                      f"{'folder' if path.is_dir() else 'broken link or other entry'}")


def resolve(names: list[str], folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Notebooks by name (or path); all are checked before anything runs."""
    known = available(folder)
    if not names and not known:
        raise Refused(f"--notebooks {folder} holds no notebooks (*.ipynb)")
    chosen = _pick(names, known, folder) if names else known
    for name, path in chosen.items():
        _check_notebook_file(name, path)
    return chosen


def _unique_keys(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    doubled = [key for key in keys if keys.count(key) > 1]
    if doubled:
        raise ValueError(f"key {doubled[0]!r} is given twice")
    return dict(pairs)


def _from_text(notebook: str, name: str, spec: dict, text: str):
    """A -p value: its JSON, or the bare text for a str parameter where the text is not JSON."""
    _check_settable(notebook, name, spec)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        if spec["type"] == "str":
            return text
        raise Refused(f"{notebook}: {name}={text!r} does not parse as {spec['type']} (default: "
                      f"{spec['default']}); -p values are JSON, e.g. 3, 0.5, true, [1, 2], "
                      '{"a": 1}') from None
    except ValueError as error:  # a key given twice
        raise Refused(f"{notebook}: -p {name}={text!r}: {error}") from None


def _foreign(value) -> list:
    """The parts of ``value`` papermill would not inject as they are: anything but numbers,
    strings, booleans, None, lists and dicts with text keys."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return []
    if isinstance(value, list):
        return [bad for item in value for bad in _foreign(item)]
    if isinstance(value, dict):
        return ([key for key in value if not isinstance(key, str)]
                + [bad for item in value.values() for bad in _foreign(item)])
    return [value]


def _default_has_text_keys(spec: dict) -> bool:
    """False when the declared default is a dict literal with a key that is not text."""
    try:
        default = ast.literal_eval(spec["default"])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return True  # not a literal: nothing to compare with
    return not isinstance(default, dict) or all(isinstance(key, str) for key in default)


def _check_settable(notebook: str, name: str, spec: dict) -> None:
    """Refuse a parameter whose declared type the suite cannot check or papermill cannot inject."""
    if spec["type"] not in KINDS:
        raise Refused(f"{notebook}: {name} is declared {spec['type']!r}; the suite sets only "
                      f"parameters declared {', '.join(KINDS)}")
    if spec["type"] == "dict" and not _default_has_text_keys(spec):
        raise Refused(f"{notebook}: {name} cannot be set: its default {spec['default']} has keys "
                      "that are not text, and papermill injects every key as text")


def _checked(notebook: str, name: str, spec: dict, value, source: str):
    """``value`` (from -p or params.yaml) when it has the parameter's declared type exactly."""
    _check_settable(notebook, name, spec)
    kind, default = spec["type"], spec["default"]
    if not isinstance(value, KINDS[kind]) or (isinstance(value, bool) and kind != "bool"):
        hint = f"; quote text that reads as JSON, e.g. -p '{name}=\"3\"'" if kind == "str" else ""
        raise Refused(f"{notebook}: {name} must be {kind}, got {_short(value)} "
                      f"({type(value).__name__}) from {source} (default: {default}){hint}")
    foreign = _foreign(value)
    if foreign:
        raise Refused(f"{notebook}: {name} from {source} holds {_short(foreign[0])} "
                      f"({type(foreign[0]).__name__}); expected numbers, text, booleans, null, "
                      "lists and mappings with text keys")
    return float(value) if kind == "float" else value


def _profile_values(profile: str, values: dict, specs: dict, folder: Path) -> dict:
    """Notebook -> {parameter -> checked value} from one profile, for the chosen notebooks."""
    injected = {name: {} for name in specs}
    known = available(folder)
    for notebook, settings in values.items():
        if notebook not in known:
            raise Refused(f"params.yaml profile {profile!r} names unknown notebook {notebook!r}")
        if notebook not in specs:
            continue
        for name, value in settings.items():
            if name not in specs[notebook]:
                raise Refused(f"params.yaml profile {profile!r}: {notebook} has no parameter "
                              f"{name!r}; its parameters: {', '.join(specs[notebook])}")
            injected[notebook][name] = _checked(notebook, name, specs[notebook][name], value,
                                                f"params.yaml profile {profile!r}")
    return injected


def _apply_overrides(overrides: list[str], specs: dict, injected: dict) -> None:
    """Put each -p NAME=VALUE into every chosen notebook that has the parameter."""
    given = {}
    for override in overrides:
        name, sep, text = override.partition("=")
        if not sep:
            raise Refused(f"-p expects NAME=VALUE, got {override!r}")
        if name in given:
            raise Refused(f"-p {name} is given twice ({given[name]!r} and {text!r}); give each "
                          "parameter once")
        given[name] = text
        targets = [nb for nb in specs if name in specs[nb]]
        if not targets:
            valid = sorted({p for spec in specs.values() for p in spec})
            raise Refused(f"no selected notebook has a parameter {name!r}; "
                          f"valid parameters: {', '.join(valid)}")
        for notebook in targets:
            spec = specs[notebook][name]
            injected[notebook][name] = _checked(notebook, name, spec,
                                                _from_text(notebook, name, spec, text), "-p")


def plan(names: list[str], profile: str = "quick", overrides: list[str] = (),
         folder: Path = NOTEBOOKS) -> dict[str, tuple[Path, dict]]:
    """Notebook name -> (path, parameters to inject), refusing any unknown profile, notebook,
    parameter or unparsable value before anything runs."""
    all_profiles = profiles(folder)
    if profile not in all_profiles:
        raise Refused(f"unknown profile {profile!r}; valid profiles: {', '.join(all_profiles)}")
    chosen = resolve(names, folder)
    specs = {name: parameters(path) for name, path in chosen.items()}
    injected = _profile_values(profile, all_profiles[profile], specs, folder)
    _apply_overrides(overrides, specs, injected)
    return {name: (path, injected[name]) for name, path in chosen.items()}


def check_out(out: Path, notebooks: dict[str, Path], folder: Path) -> None:
    """Refuse an output folder that is an existing file (or cannot be made) or that holds the
    notebooks themselves: the notebooks folder or a chosen notebook's (links resolved)."""
    if os.path.lexists(out) and not out.is_dir():
        what = "an existing file" if out.is_file() else "an existing entry (a broken link?)"
        raise Refused(f"--out {out} is {what}; expected a folder (existing or new)")
    blocker = next((p for p in out.parents if os.path.lexists(p) and not p.is_dir()), None)
    if blocker is not None:
        raise Refused(f"--out {out} cannot be made: {blocker} is not a folder")
    holders = {Path(folder).resolve()}
    for path in notebooks.values():
        holders |= {path.parent.resolve(), path.resolve().parent}
    if out.resolve() in holders:
        raise Refused(f"--out {out} is the folder of the notebooks it runs ({out.resolve()}); "
                      "expected a separate output folder")


def _own_files(owner: str) -> list[str]:
    """The files the suite itself writes whole for ``owner`` (a notebook, or the index)."""
    return [f"{INDEX}.html"] if owner == INDEX else [owner + suffix for suffix in OWN_SUFFIXES]


def _is_regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _bad_entries(owner: str, names) -> list:
    """What is wrong in one owner's entry of the record: the owner, or names that are not plain
    file names ``OWNER.*`` (so nothing outside the owner's own files can ever be deleted)."""
    if not (owner == INDEX or _is_notebook_name(owner)):
        return [owner]
    if not isinstance(names, list):
        return [names]
    return [n for n in names if not _is_file_name(n) or not n.startswith(f"{owner}.")]


def _read_record(file: Path) -> dict[str, list[str]]:
    """Owner -> file names from the record at ``file`` ({} when there is none), or Refused."""
    if not os.path.lexists(file):
        return {}
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
        files = loaded["files"] if isinstance(loaded, dict) and loaded.get("version") == 1 else None
    except (OSError, UnicodeError, ValueError, KeyError) as error:
        raise Refused(f"record {file} is damaged ({_first_line(error)}); expected the suite's JSON "
                      "record; remove it and the outputs it listed by hand") from None
    if not isinstance(files, dict):
        raise Refused(f"record {file} is damaged: expected {{\"version\": 1, \"files\": {{...}}}}, "
                      f"got {_short(loaded)}; remove it and the outputs it listed by hand")
    for owner, names in files.items():
        bad = _bad_entries(owner, names)
        if bad:
            raise Refused(f"record {file} is damaged: its entry {owner!r} holds {_short(bad[0])}; "
                          "expected a notebook name listing plain file names NAME.*; remove it "
                          "and the outputs it listed by hand")
    return files


class Record:
    """What the suite wrote into an output folder, per notebook and for the index: the only files
    a later run deletes. Kept as ``RECORD`` in that folder, rewritten after every change."""

    def __init__(self, out: Path):
        self.out = out
        self.file = out / RECORD
        self.files = _read_record(self.file)

    def check_targets(self, owners: list[str]) -> None:
        """Refuse when a file the suite writes whole for ``owners`` exists and is not recorded
        as the suite's (or is no longer a plain file)."""
        clashes = [name for owner in owners for name in _own_files(owner)
                   if os.path.lexists(self.out / name)
                   and not (name in self.files.get(owner, []) and _is_regular(self.out / name))]
        if clashes:
            raise Refused(f"--out {self.out} already holds {', '.join(clashes)}, which no earlier "
                          f"run recorded writing ({RECORD}); move them or choose another --out")

    def written(self, owner: str) -> list[str]:
        """The recorded files of ``owner`` that are there, in name order."""
        return sorted(n for n in self.files.get(owner, []) if _is_regular(self.out / n))

    def clear(self, owner: str) -> None:
        """Delete the files recorded for ``owner`` (plain files only) and forget them."""
        for name in self.written(owner):
            (self.out / name).unlink(missing_ok=True)
        self.set(owner, [])

    def set(self, owner: str, names: list[str]) -> None:
        self.files[owner] = sorted(set(names))
        text = json.dumps({"version": 1, "files": self.files}, indent=1, sort_keys=True)
        _write_atomically(self.file, text + "\n")


def _write_atomically(target: Path, text: str) -> None:
    write_atomically(target, lambda partial: partial.write_text(text, encoding="utf-8"))


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
    return [n for n in asked if _is_file_name(n) and n.startswith(f"{name}.")
            and n in after and after[n] != before.get(n) and _is_regular(out / n)]


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
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(partial, as_version=4))
    _write_atomically(out / f"{name}.html", body)
    _write_atomically(out / f"{name}.ipynb", partial.read_text(encoding="utf-8"))
    if ok:
        recorded = json.loads(metrics.read_text()) if metrics.exists() else {}
        _write_atomically(out / f"{name}.metrics.json", json.dumps(recorded, indent=1, sort_keys=True))
    return ok


def _kernel_path() -> str:
    """PYTHONPATH for the kernel, led by this package's root: the notebook's helpers must speak
    the same ACDC_* protocol as this runner."""
    root = str(Path(__file__).resolve().parents[2])
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return os.pathsep.join([root, *rest])


def run(name: str, path: Path, out: Path, injected: dict, record: Record) -> bool:
    """Execute one notebook into ``out``; True when it ran without error. The files its last run
    recorded are deleted first; what this run writes is recorded. A failing notebook is still
    saved (its traceback in the failing cell) as NAME.ipynb and NAME.html."""
    out.mkdir(parents=True, exist_ok=True)
    record.clear(name)  # nothing stale may pass for this run's result
    record.set(name, _own_files(name))
    with tempfile.TemporaryDirectory(prefix="acdc-suite-") as scratch:
        handed_out = Path(scratch) / "outputs.jsonl"
        os.environ.update(ACDC_HEADLESS="1", ACDC_OUTPUT_DIR=str(out.resolve()), ACDC_NOTEBOOK=name,
                          ACDC_METRICS_FILE=str(Path(scratch) / "metrics.json"),
                          ACDC_OUTPUTS_FILE=str(handed_out), PYTHONPATH=_kernel_path())
        before = _identities(out, name)
        try:
            return _execute(name, path, out, injected, Path(scratch))
        finally:
            left = _left_by_notebook(out, name, handed_out, before)
            record.set(name, [n for n in _own_files(name) if _is_regular(out / n)] + left)


def write_index(out: Path, results: dict[str, bool], profile: str, record: Record) -> Path:
    """index.html: per notebook its status, links, metrics and figures (inline), all from the
    record of what this run wrote."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>acdc suite: {profile}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "img{max-width:100%;border:1px solid #ddd;margin:4px 0}"
             "td,th{padding:2px 10px;text-align:right}.failed{color:#b00}</style></head><body>",
             f"<h1>acdc notebook suite — profile {html.escape(profile)}</h1>",
             f"<p>{sum(results.values())} of {len(results)} notebooks ran without error.</p>"]
    for name, ok in results.items():
        parts += _index_section(out, name, ok, record.written(name))
    parts.append("</body></html>")
    index = out / f"{INDEX}.html"
    _write_atomically(index, "\n".join(parts))
    record.set(INDEX, [index.name])
    return index


def _index_section(out: Path, name: str, ok: bool, written: list[str]) -> list[str]:
    """One notebook's part of the index, from its recorded files."""
    status = "ok" if ok else "<span class='failed'>FAILED (see its traceback)</span>"
    labels = {f"{name}.html": "report", f"{name}.ipynb": "notebook", f"{name}.metrics.json": "metrics"}
    links = [f"<a href='{html.escape(n)}'>{labels[n]}</a>" for n in labels if n in written]
    links += [f"<a href='{html.escape(n)}'>{html.escape(n[len(name) + 1:])}</a>"
              for n in written if n not in labels and not n.endswith(".png")]
    parts = [f"<h2 id='{html.escape(name)}'>{html.escape(name)}: {status}</h2>"
             f"<p>{' · '.join(links)}</p>"]
    if f"{name}.metrics.json" in written:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in json.loads((out / f"{name}.metrics.json").read_text()).items())
        parts.append(f"<table>{rows}</table>" if rows else "")
    for figure in (n for n in written if n.endswith(".png")):
        stem = figure[:-len(".png")]
        parts.append(f"<figure><img src='{html.escape(figure)}' alt='{html.escape(stem)}'>"
                     f"<figcaption>{html.escape(stem)}</figcaption></figure>")
    return parts


def refresh(path: Path, timeout: int = 1800) -> None:
    """Re-execute ``path`` in place with its defaults on the CPU, without timing metadata."""
    from nbclient import NotebookClient
    import nbformat

    os.environ.update(ACDC_HEADLESS="1", CUDA_VISIBLE_DEVICES="")
    for variable in ("ACDC_OUTPUT_DIR", "ACDC_NOTEBOOK", "ACDC_METRICS_FILE", "ACDC_OUTPUTS_FILE"):
        os.environ.pop(variable, None)
    nb = read_notebook(path)
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


class _Once(argparse.Action):
    """Store an option's value, refusing a second one (which would silently win)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, f"_{self.dest}_given", False):
            parser.error(f"argument {option_string}: given twice ({getattr(namespace, self.dest)} "
                         f"and {values}); give it once")
        setattr(namespace, f"_{self.dest}_given", True)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like the suite's refusals."""

    def error(self, message):
        self.exit(2, f"acdc-suite: {message} (see {self.prog} --help)\n")


def _folder_argument(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError("is empty; expected a folder")
    return Path(text)


def _arguments(argv) -> argparse.Namespace:
    parser = _Parser(prog="acdc-suite", description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=_folder_argument, default=NOTEBOOKS, action=_Once,
                        help="folder of the notebooks and params.yaml (default: this project's)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every notebook with its parameters")
    run_parser = sub.add_parser("run", help="execute notebooks into an output folder")
    run_parser.add_argument("names", nargs="*", help="notebook names or paths (default: all)")
    run_parser.add_argument("--profile", default="quick", action=_Once,
                            help="parameter profile (default quick)")
    run_parser.add_argument("-p", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a parameter, VALUE as JSON (repeatable)")
    run_parser.add_argument("--out", type=_folder_argument, action=_Once,
                            help="output folder (default runs/PROFILE)")
    refresh_parser = sub.add_parser("refresh", help="re-execute notebooks in place")
    refresh_parser.add_argument("names", nargs="*", help="notebook names or paths (default: all)")
    return parser.parse_args(argv)


def _prepare_run(args) -> tuple[dict, Path, Record]:
    """Everything a run needs, checked: the work, the output folder and its record."""
    work = plan(args.names, args.profile, args.overrides, args.notebooks)
    out = args.out or Path("runs", args.profile)
    check_out(out, {name: path for name, (path, _) in work.items()}, args.notebooks)
    record = Record(out)
    record.check_targets([*work, INDEX])
    return work, out, record


def _run_all(work: dict, out: Path, record: Record, profile: str) -> int:
    out.mkdir(parents=True, exist_ok=True)
    record.clear(INDEX)  # the last run's index must not pass for this one
    results = {}
    for i, (name, (path, injected)) in enumerate(work.items(), 1):
        start = time.perf_counter()
        results[name] = run(name, path, out, injected, record)
        status = "ok" if results[name] else "FAILED"
        print(f"[{i}/{len(work)}] {name}: {status} in {time.perf_counter() - start:.0f} s", flush=True)
    index = write_index(out, results, profile, record)
    failed = [name for name, ok in results.items() if not ok]
    print(f"index: {index.resolve()}")
    if failed:
        print(f"failed: {', '.join(failed)} (their tracebacks are in {out}/NAME.html)", file=sys.stderr)
        return 1
    return 0


def _refresh_all(names: list[str], folder: Path) -> int:
    chosen = resolve(names, folder)
    for path in chosen.values():
        read_notebook(path)  # every one readable before any is rewritten
    for name, path in chosen.items():
        start = time.perf_counter()
        refresh(path)
        print(f"refreshed {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def main(argv=None) -> int:
    args = _arguments(argv)
    try:
        if args.command == "list":
            print(list_notebooks(args.notebooks))
            return 0
        if args.command == "refresh":
            return _refresh_all(args.names, args.notebooks)
        work, out, record = _prepare_run(args)
    except Refused as refusal:
        message = str(refusal).replace("\r", "\\r").replace("\n", "\\n")
        print(f"acdc-suite: {message}", file=sys.stderr)
        return 2
    return _run_all(work, out, record, args.profile)


if __name__ == "__main__":
    sys.exit(main())
