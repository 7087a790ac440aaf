"""The wheel is complete: built from this checkout, installed without dependencies into a folder
of its own (``pip install --target``), every module of the checkout imports from that folder and
the suite lists the notebooks the wheel carries. No network: pip builds with the setuptools
already installed and installs the one wheel file."""
import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "acdc_core", "notebooks", "results")  # what the build reads
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
NOTEBOOKS_INSIDE = "acdc_core/lab/notebooks"


def checkout_modules() -> list[str]:
    """Dotted name of every module file under the checkout's acdc_core."""
    files = (ROOT / "acdc_core").rglob("*.py")
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in files]
    return sorted(n.removesuffix(".__init__") for n in names if "__pycache__" not in n)


def checkout_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def declared_parameters(notebook: Path) -> list[str]:
    """``NAME: TYPE`` of every assignment in the notebook's parameters cell, read with ast."""
    cells = json.loads(notebook.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    return [f"{node.target.id}: {ast.unparse(node.annotation)}" for node in ast.parse(source).body
            if isinstance(node, ast.AnnAssign)]


def run(command: list[str], cwd: Path, **env) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel file, the folder it is installed into, a folder outside both and the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
         "-w", str(tmp / "dist"), str(source)], cwd=tmp)
    wheel = next((tmp / "dist").glob("acdc-*.whl"))
    target, elsewhere = tmp / "site", tmp / "elsewhere"
    run([*PIP, "install", "--no-deps", "--no-index", "--no-cache-dir", "--target", str(target),
         str(wheel)], cwd=tmp)
    elsewhere.mkdir()
    return wheel, target, elsewhere


def test_the_wheel_holds_every_module_the_notebooks_and_params(installed):
    wheel, _, _ = installed
    held = set(zipfile.ZipFile(wheel).namelist())
    for module in checkout_modules():
        path = module.replace(".", "/")
        assert f"{path}.py" in held or f"{path}/__init__.py" in held, f"{module} is not in {wheel.name}"
    for name in [p.name for p in checkout_notebooks()] + ["params.yaml"]:
        assert f"{NOTEBOOKS_INSIDE}/{name}" in held, f"{name} is not in {wheel.name}"
    texts = sorted((ROOT / "acdc_core" / "training" / "texts").iterdir())
    assert texts and all(f"acdc_core/training/texts/{p.name}" in held for p in texts), "the embedded texts"
    recorded = sorted((ROOT / "results").glob("*/*.json"))
    assert recorded and all(f"acdc_core/lab/recorded/{p.parent.name}/{p.name}" in held for p in recorded)


IMPORT_ALL = """
import importlib, os, pathlib, sys
target = pathlib.Path(sys.argv[1]).resolve()
files = sorted((target / "acdc_core").rglob("*.py"))
names = [".".join(p.relative_to(target).with_suffix("").parts).removesuffix(".__init__") for p in files]
for name in names:
    origin = pathlib.Path(importlib.import_module(name).__file__).resolve()
    assert origin.is_relative_to(target), f"{name} imported from {origin}, not from {target}"
from acdc_core.lab import suite
print("\\n".join(names))
print("notebooks:", suite.NOTEBOOKS)
print("kernel path:", suite.running.kernel_path().split(os.pathsep)[0])
"""


def test_every_module_imports_from_the_installed_copy(installed):
    """Run from a folder outside the checkout with only the install folder on PYTHONPATH (the
    venv's editable install of the checkout, if any, must not be what answers)."""
    _, target, elsewhere = installed
    lines = run([sys.executable, "-c", IMPORT_ALL, str(target)], cwd=elsewhere,
                PYTHONPATH=str(target)).splitlines()
    assert lines[:-2] == checkout_modules()
    assert lines[-2] == f"notebooks: {target.resolve() / NOTEBOOKS_INSIDE}"
    assert lines[-1] == f"kernel path: {target.resolve()}"  # the kernel imports this same copy


def test_the_suite_lists_the_notebooks_of_the_installed_copy(installed):
    """``acdc-suite list`` as ``python -m``: ``pip install --target`` makes no console script."""
    _, target, elsewhere = installed
    text = run([sys.executable, "-m", "acdc_core.lab.suite", "list"], cwd=elsewhere,
               PYTHONPATH=str(target))
    notebooks = checkout_notebooks()
    assert notebooks, f"no notebooks in {ROOT / 'notebooks'}"
    assert [line for line in text.splitlines() if not line.startswith(" ")][:-1] == [
        p.stem for p in notebooks]
    for notebook in notebooks:
        for parameter in declared_parameters(notebook):
            assert f"\n    {parameter} = " in text, f"{notebook.stem}: {parameter} is not listed"
    assert text.splitlines()[-1] == "profiles (notebooks/params.yaml): quick, cpu, full"
