"""The output folder: the check of ``--out``, and the record of the exact files each run wrote
(``RECORD`` in that folder), the only files a later run deletes."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ...training.files import write_atomically
from .errors import Refused, first_line, short
from .names import INDEX, is_file_name, is_notebook_name

RECORD = ".acdc-suite-record.json"
OWN_SUFFIXES = (".ipynb", ".html", ".metrics.json")


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


def own_files(owner: str) -> list[str]:
    """The files the suite itself writes whole for ``owner`` (a notebook, or the index)."""
    return [f"{INDEX}.html"] if owner == INDEX else [owner + suffix for suffix in OWN_SUFFIXES]


def is_regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` under a temporary name, then rename it into place."""
    write_atomically(target, lambda partial: partial.write_text(text, encoding="utf-8"))


def _bad_entries(owner: str, names) -> list:
    """What is wrong in one owner's entry of the record: the owner, or names that are not plain
    file names ``OWNER.*`` (so nothing outside the owner's own files can ever be deleted)."""
    if not (owner == INDEX or is_notebook_name(owner)):
        return [owner]
    if not isinstance(names, list):
        return [names]
    return [n for n in names if not is_file_name(n) or not n.startswith(f"{owner}.")]


def _read_record(file: Path) -> dict[str, list[str]]:
    """Owner -> file names from the record at ``file`` ({} when there is none), or Refused."""
    if not os.path.lexists(file):
        return {}
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
        files = loaded["files"] if isinstance(loaded, dict) and loaded.get("version") == 1 else None
    except (OSError, UnicodeError, ValueError, KeyError) as error:
        raise Refused(f"record {file} is damaged ({first_line(error)}); expected the suite's JSON "
                      "record; remove it and the outputs it listed by hand") from None
    if not isinstance(files, dict):
        raise Refused(f"record {file} is damaged: expected {{\"version\": 1, \"files\": {{...}}}}, "
                      f"got {short(loaded)}; remove it and the outputs it listed by hand")
    for owner, names in files.items():
        bad = _bad_entries(owner, names)
        if bad:
            raise Refused(f"record {file} is damaged: its entry {owner!r} holds {short(bad[0])}; "
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
        as the suite's (or is not a plain file)."""
        clashes = [name for owner in owners for name in own_files(owner)
                   if os.path.lexists(self.out / name)
                   and not (name in self.files.get(owner, []) and is_regular(self.out / name))]
        if clashes:
            raise Refused(f"--out {self.out} already holds {', '.join(clashes)}, which no earlier "
                          f"run recorded writing ({RECORD}); move them or choose another --out")

    def written(self, owner: str) -> list[str]:
        """The recorded files of ``owner`` that are there, in name order."""
        return sorted(n for n in self.files.get(owner, []) if is_regular(self.out / n))

    def clear(self, owner: str) -> None:
        """Delete the files recorded for ``owner`` (plain files only) and forget them."""
        for name in self.written(owner):
            (self.out / name).unlink(missing_ok=True)
        self.set(owner, [])

    def set(self, owner: str, names: list[str]) -> None:
        self.files[owner] = sorted(set(names))
        text = json.dumps({"version": 1, "files": self.files}, indent=1, sort_keys=True)
        write_text(self.file, text + "\n")
