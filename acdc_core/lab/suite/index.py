"""index.html: one page with, per notebook, its question and findings, links to its outputs and its
figures inline."""
from __future__ import annotations

import html
import json
from pathlib import Path

from .. import results as recorded_results
from ..notebook import HEADLINE
from .names import INDEX
from .record import Record, write_text


def write_index(out: Path, results: dict[str, bool], profile: str, record: Record) -> Path:
    """index.html: per notebook its status, question and findings, links (metrics among them) and
    figures (inline), all from the record of what this run wrote, and beside them the results
    recorded for its profiles."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>acdc suite: {profile}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "img{max-width:100%;border:1px solid #ddd;margin:4px 0}"
             "td,th{padding:2px 10px;text-align:right}.failed{color:#b00}.question{font-style:italic}</style></head><body>",
             f"<h1>acdc notebook suite — profile {html.escape(profile)}</h1>",
             f"<p>{sum(results.values())} of {len(results)} notebooks ran without error.</p>"]
    for name, ok in results.items():
        parts += _index_section(out, name, ok, record.written(name))
    parts.append("</body></html>")
    index = out / f"{INDEX}.html"
    write_text(index, "\n".join(parts))
    record.set(INDEX, [index.name])
    return index


def _index_section(out: Path, name: str, ok: bool, written: list[str]) -> list[str]:
    """One notebook's part of the index, from its recorded files."""
    status = "ok" if ok else "<span class='failed'>FAILED (see its traceback)</span>"
    labels = {f"{name}.html": "report", f"{name}.ipynb": "notebook", f"{name}.metrics.json": "metrics"}
    headline = f"{name}.{HEADLINE}"
    links = [f"<a href='{html.escape(n)}'>{labels[n]}</a>" for n in labels if n in written]
    links += [f"<a href='{html.escape(n)}'>{html.escape(n[len(name) + 1:])}</a>"
              for n in written if n not in labels and n != headline and not n.endswith(".png")]
    parts = [f"<h2 id='{html.escape(name)}'>{html.escape(name)}: {status}</h2>"]
    if headline in written:
        parts += _headline(json.loads((out / headline).read_text(encoding="utf-8")))
    parts.append(f"<p>{' · '.join(links)}</p>")
    parts += _recorded_section(name)
    for figure in (n for n in written if n.endswith(".png")):
        stem = figure[:-len(".png")]
        parts.append(f"<figure><img src='{html.escape(figure)}' alt='{html.escape(stem)}'>"
                     f"<figcaption>{html.escape(stem)}</figcaption></figure>")
    return parts


def _headline(answer: dict) -> list[str]:
    """A notebook's question and findings (see :func:`acdc_core.lab.notebook.headline`)."""
    findings = "".join(f"<li>{html.escape(finding)}</li>" for finding in answer["findings"])
    return [f"<p class='question'>{html.escape(answer['question'])}</p>", f"<ul>{findings}</ul>"]


def _recorded_section(name: str) -> list[str]:
    """The headline of every profile recorded for notebook ``name`` in the results folder."""
    parts = []
    for profile, recorded in recorded_results.recorded_profiles(name).items():
        origin = recorded["provenance"]
        data = origin["data"]["name"] + ("" if origin["data"]["verified"] else ", unverified files")
        rows = recorded_results.headline(recorded)
        header = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0]) if rows else ""
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
                       for row in rows)
        parts += [f"<h3>Recorded: the {html.escape(profile)} profile</h3>",
                  f"<p>{html.escape(data)}; {html.escape(origin['machine'])}; commit "
                  f"{html.escape(origin['commit'])}, {html.escape(origin['date'])}</p>",
                  f"<table><tr>{header}</tr>{body}</table>"]
    return parts
