"""The project's own files agree with each other: environment.yml with pyproject, README with Makefile."""
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
