"""Which notebooks: the default folder, reading a notebook and its parameters cell, and turning
the command line's names and paths into checked notebook files."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import Refused, first_line
from .names import is_notebook_name


def _default_folder() -> Path:
    """acdc_core/lab/notebooks where the package is installed from a wheel; a source checkout or
    an editable install has no such folder and keeps the notebooks in the repository's
    notebooks/. Found from this file, not through importlib.resources: papermill needs a real
    folder, and in a checkout the notebooks are no importable package."""
    lab = Path(__file__).resolve().parents[1]
    packaged = lab / "notebooks"
    return packaged if packaged.is_dir() else lab.parents[1] / "notebooks"


NOTEBOOKS = _default_folder()


def check_folder(folder: Path) -> None:
    if not Path(folder).is_dir():
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise Refused(f"--notebooks {folder} {what}; expected a folder of .ipynb notebooks")


def available(folder: Path = NOTEBOOKS) -> dict[str, Path]:
    """Every study notebook by name (file stem), in name order; hidden files are not notebooks."""
    check_folder(folder)
    return {p.stem: p for p in sorted(Path(folder).glob("*.ipynb")) if not p.name.startswith(".")}


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat 4, validated), or Refused naming the file."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # not JSON, not a notebook, unreadable
        raise Refused(f"{path} cannot be read as a notebook (expected Jupyter notebook JSON): "
                      f"{first_line(error)}") from None
    return nb


def parameters(path: Path) -> dict[str, dict]:
    """The notebook's parameters cell: name -> {"type", "default", "help"}."""
    from papermill.translators import PythonTranslator

    cells = [c for c in read_notebook(path).cells if "parameters" in c.metadata.get("tags", [])]
    found = PythonTranslator.inspect(cells[0]) if cells else []
    return {p.name: {"type": p.inferred_type_name, "default": p.default, "help": p.help}
            for p in found}


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
    if not is_notebook_name(name):
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
