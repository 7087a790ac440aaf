"""The project's own files agree with each other: environment.yml with pyproject, README with Makefile,
every experiment number cited with docs/experiments.md."""
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_wraps_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = pyproject()["project"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    names = sorted(re.split(r"[=<> ]", d)[0] for d in conda)
    assert names == ["pip", "python"], f"conda packages beyond python and pip: {names}"
    python = next(d for d in conda if d.startswith("python"))
    version = tuple(int(p) for p in python.split("=")[1].split("."))
    minimum = tuple(int(p) for p in re.findall(r"\d+", project["requires-python"]))
    assert version >= minimum, f"environment.yml python {version} < requires-python {minimum}"
    assert len(pip) == 1 and len(pip[0]["pip"]) == 1, "the pip section installs the package only"
    line = pip[0]["pip"][0]
    match = re.fullmatch(r"-e \.\[([a-z,]+)\]", line)
    assert match, f"pip section should install '-e .[extras]', got {line!r}"
    extras = set(match.group(1).split(","))
    assert extras == {"notebooks", "test"}
    assert extras <= set(project["optional-dependencies"]), "environment.yml names an unknown extra"


def test_readme_commands_are_makefile_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no '{target}' target"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_running_python_satisfies_requires_python():
    minimum = tuple(int(p) for p in re.findall(r"\d+", pyproject()["project"]["requires-python"]))
    assert sys.version_info[:2] >= minimum


EXPERIMENTS = ROOT / "docs" / "experiments.md"
E_NUMBER = re.compile(r"\bE(\d{1,2})\b")
# The team's internal summary is not shipped: a pointer to it, by its file name or as the word
# REFERENCE followed by an E-number or a section sign, leaves the reader with nothing to open.
UNSHIPPED = re.compile(r"REFERENCE(\.md|\s+E\d|\s+§)")


def text_files(*names):
    """(path, text) of every UTF-8 file at or under the named paths (relative to the root)."""
    for name in names:
        top = ROOT / name
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(path.parts):
                try:
                    yield path, path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue


def cited_text(path, text):
    """What a file says in words: a notebook's cell sources (its outputs hold base64 images, in
    which a letter E followed by digits turns up by chance), any other file whole."""
    if path.suffix != ".ipynb":
        return text
    return "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])


def experiment_entries():
    """{n: text of the entry} for every '### En' heading of docs/experiments.md."""
    parts = re.split(r"^### E(\d+)[ \t]*$", EXPERIMENTS.read_text(), flags=re.M)
    return {int(n): body.split("\n## ")[0] for n, body in zip(parts[1::2], parts[2::2])}


def test_nothing_points_to_the_unshipped_summary():
    hits = [f"{path.relative_to(ROOT)}: {match.group(0)!r}"
            for path, text in text_files("acdc_core", "benchmarks", "notebooks", "tests", "README.md")
            for match in UNSHIPPED.finditer(text)]
    assert not hits, f"point to docs/experiments.md instead: {hits}"


def test_experiments_doc_has_one_entry_per_number():
    entries = experiment_entries()
    assert sorted(entries) == list(range(1, 26)), f"entries found: {sorted(entries)}"
    for n, body in entries.items():
        assert "*Reported.*" in body or "Number not used" in body, f"E{n} reports nothing"


def test_every_cited_experiment_has_an_entry():
    entries = experiment_entries()
    described = {n for n, body in entries.items() if "Number not used" not in body}
    missing = sorted({f"E{match.group(1)} in {path.relative_to(ROOT)}"
                      for path, text in text_files("acdc_core", "benchmarks", "notebooks", "README.md")
                      for match in E_NUMBER.finditer(cited_text(path, text))
                      if int(match.group(1)) not in described})
    assert not missing, f"cited with no entry in docs/experiments.md: {missing}"
