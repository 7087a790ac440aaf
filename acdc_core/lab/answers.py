"""The README's table of studies, rendered from the answers the canonical refresh recorded.

``python -m acdc_core.lab.answers README.md`` rewrites the table between the README's two marker
comments in place from ``results/answers.json`` (each notebook's question and findings,
written by ``make refresh``); the rest of the file is left as it was.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..training.files import write_atomically
from .notebook import ANSWERS

BEGIN = "<!-- studies: rendered from results/answers.json by `python -m acdc_core.lab.answers README.md` -->"
END = "<!-- end of studies -->"


def _cell(text: str) -> str:
    """``text`` as one Markdown table cell: one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def studies_table(answers: dict, notebooks: str = "notebooks") -> str:
    """A Markdown table, one row per notebook of ``answers`` (name -> {"question", "findings"}) in
    name order: the study linked to ``notebooks/NAME.ipynb``, its question and its recorded
    answer (the first finding)."""
    if not answers:
        raise ValueError("no answers recorded: `make refresh` records one per notebook")
    rows = ["| Study | Question | Recorded answer |", "| --- | --- | --- |"]
    for name in sorted(answers):
        recorded = answers[name]
        missing = [key for key in ("question", "findings") if not recorded.get(key)]
        if missing:
            raise ValueError(f"the answer recorded for {name} has no {' or '.join(missing)}")
        rows.append(f"| [{name}]({notebooks}/{name}.ipynb) | {_cell(recorded['question'])} "
                    f"| {_cell(recorded['findings'][0])} |")
    return "\n".join(rows)


def _block(text: str, path: Path) -> tuple[int, int]:
    """Where the text between the marker lines starts and ends in ``text`` (offsets)."""
    begin, end = text.find(BEGIN + "\n"), text.find("\n" + END)
    if begin < 0 or end < begin or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{path} must hold the marker lines {BEGIN!r} and {END!r} once each, "
                         f"in that order")
    return begin + len(BEGIN) + 1, end


def table_in(path: str | os.PathLike) -> str:
    """The text between the marker lines of the Markdown file at ``path``."""
    text = Path(path).read_text(encoding="utf-8")
    start, stop = _block(text, Path(path))
    return text[start:stop]


def rewrite(path: str | os.PathLike, answers: str | os.PathLike = ANSWERS) -> bool:
    """Replace the table between the marker lines of ``path`` by the rendering of ``answers``
    (atomically); True when the file changed."""
    path = Path(path)
    recorded = Path(answers)
    if not recorded.is_file():
        raise FileNotFoundError(f"{recorded} does not exist: `make refresh` records the answers")
    table = studies_table(json.loads(recorded.read_text(encoding="utf-8")))
    text = path.read_text(encoding="utf-8")
    start, stop = _block(text, path)
    if text[start:stop] == table:
        return False
    new = text[:start] + table + text[stop:]
    write_atomically(path, lambda partial: partial.write_text(new, encoding="utf-8"))
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acdc_core.lab.answers",
                                     description="Rewrite the table of studies in a Markdown file "
                                                 "from the recorded answers.")
    parser.add_argument("markdown", type=Path, help="the file holding the marker lines (README.md)")
    parser.add_argument("--answers", type=Path, default=ANSWERS,
                        help="the recorded answers (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        changed = rewrite(args.markdown, args.answers)
    except (OSError, ValueError, json.JSONDecodeError) as error:
        print(f"acdc_core.lab.answers: {error}", file=sys.stderr)
        return 2
    print(f"{args.markdown}: table {'rewritten' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
