"""The house in three wings, read from the imports themselves: the layers (acdc_core/*.py and
acdc_core/ops/) import neither training nor lab; training never imports lab; and no module
imports, however indirectly, one that imports it (imports inside functions included)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "acdc_core"


def module_name(path: Path) -> tuple[str, str]:
    """(dotted module name, the package its relative imports start from) of a file."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if path.name == "__init__.py":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` (a file of ``package``) imports, as absolute dotted names; a
    ``from X import name`` counts ``X.name`` too, since the name may be a submodule."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = from_module(node, package)
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)  # may name submodules
    return found


def from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the X in ``from X import ...``, in a file of ``package``."""
    base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
    return ".".join(base + ([node.module] if node.module else []))


def wing(path: Path) -> str:
    """"training", "lab", or "layers" for the rest (acdc_core/*.py and the operators, ops/)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if parts[0] in ("training", "lab") else "layers"


FORBIDDEN = {"layers": ("acdc_core.training", "acdc_core.lab"), "training": ("acdc_core.lab",), "lab": ()}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_against_the_wings(path):
    breaches = [name for name in imported_modules(path.read_text(), module_name(path)[1])
                if any(name == w or name.startswith(w + ".") for w in FORBIDDEN[wing(path)])]
    assert not breaches, f"{path.relative_to(PACKAGE.parent)} ({wing(path)}) imports {breaches}"


def test_the_reader_resolves_relative_imports_from_every_depth():
    """The check itself: a layer's, a training module's and a lab module's relative imports."""
    assert imported_modules("from .training.train import train\nfrom . import lab\n", "acdc_core") >= {
        "acdc_core.training.train", "acdc_core.lab"}
    assert "acdc_core.lab.suite" in imported_modules("from ..lab import suite\n", "acdc_core.training")
    assert "acdc_core.dct" in imported_modules("from ...dct import dct\n", "acdc_core.lab.analysis")
    assert module_name(PACKAGE / "lab" / "__init__.py") == ("acdc_core.lab", "acdc_core.lab")
    assert wing(PACKAGE / "acdc.py") == wing(PACKAGE / "ops" / "library.py") == "layers" and wing(PACKAGE / "lab" / "analysis" / "speed.py") == "lab"
    assert wing(PACKAGE / "lab" / "experiments" / "runner.py") == "lab"


def module_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports anywhere in its source
    (functions included); ``from X import name`` counts ``X.name`` when that is a module, else
    ``X``."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = {name for name, _ in files}
    graph = {}
    for (name, package), path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                stem = from_module(node, package)
                found.update(f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                             for alias in node.names)
        graph[name] = (found & modules) - {name}
    return graph


def import_circle(graph: dict[str, set[str]]) -> list[str]:
    """A circle of ``graph`` (module -> modules it imports) as its modules in order, the first
    repeated at the end; [] when there is none (a depth-first search)."""
    done, path = set(), []

    def visit(node) -> list[str]:
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done and (circle := visit(nxt)):
                return circle
        done.add(path.pop())
        return []
    for node in sorted(graph):
        if node not in done and (circle := visit(node)):
            return circle
    return []


def test_no_module_imports_one_that_imports_it():
    circle = import_circle(module_graph())
    assert not circle, "import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_circles_and_reads_submodule_imports():
    assert import_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert import_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    graph = module_graph()
    assert "acdc_core.ops.triton_kernels" in graph["acdc_core.ops.backend"]  # in a function
    assert "acdc_core.ops" not in graph["acdc_core.ops.backend"]  # from . import a submodule


@pytest.mark.parametrize("path", sorted((PACKAGE / "lab" / "analysis").glob("*.py")), ids=lambda p: p.name)
def test_the_analysis_reads_records_without_the_runners(path):
    """analysis/ may be imported by the experiments, never the other way round."""
    runners = [name for name in imported_modules(path.read_text(), module_name(path)[1])
               if name.startswith("acdc_core.lab.experiments")]
    assert not runners, f"{path.relative_to(PACKAGE.parent)} imports {runners}"
