"""The documentation site (`make docs`): it builds with no warning, its front page is the README,
its API page documents the public layers with their arguments, and every notebook has a page with
its committed outputs; headless Chromium shows the API page and a notebook page."""
import html
import importlib.util
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

import acdc_core
import acdc_core.lab
import acdc_core.ops
import acdc_core.training
from acdc_core.base import StructuredLinear
from test_browser import browser, chromium  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LAYERS = ["ACDC", "StackedACDC", "SeparableACDCConv2d"]
TABLE_RULE = re.compile(r"^-+(  +-+)+$", re.M)  # the dashes under a table's header (notebook.table)


class Site(NamedTuple):
    html: Path  # the built site
    seconds: float  # how long the build took


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built as `make docs` builds it, warnings as errors, into a temporary folder."""
    missing = [m for m in ("sphinx", "myst_nb", "furo") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: no docs extra (make test installs it)")
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-c", "docs", ".", str(out)]
    build = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stdout}\n{build.stderr}"
    return Site(out, time.perf_counter() - start)


def api_page(site: Site) -> str:
    return (site.html / "docs" / "api" / "index.html").read_text()


def text_of(page: str) -> str:
    """What a page says: tags stripped, entities decoded, runs of whitespace as one space."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def words(text: str) -> str:
    return " ".join(text.split())


def element(page: str, anchor: str) -> str:
    """The HTML from the definition whose id is ``anchor`` to the next definition's."""
    start = page.index(f'id="{anchor}"')
    end = page.find('<dt class="sig', start + 1)
    return page[start:end if end > 0 else len(page)]


def checked_stdout(notebook: Path) -> list[str]:
    """The committed stdout of each `# NBVAL_CHECK_OUTPUT` cell of ``notebook``."""
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(out["text"]) for cell in cells if cell["cell_type"] == "code"
            and "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
            for out in cell.get("outputs", []) if out.get("name") == "stdout"]


def images(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


def test_site_builds_fast(site):
    assert site.seconds < 120, f"the site took {site.seconds:.0f} s to build"


def test_front_page_is_the_readme_with_its_links_resolved(site):
    readme = (ROOT / "README.md").read_text()
    front = (site.html / "index.html").read_text()
    title = re.search(r"^# (.+)$", readme, re.M).group(1)
    assert words(title) in text_of(front)
    hrefs = set(re.findall(r'href="([^"#]+)', front))
    for target in re.findall(r"\]\(([^)#\s]+\.(?:md|ipynb))(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert str(Path(target).with_suffix(".html")) in hrefs, f"README's link to {target} is not on the site"
    shown = re.findall(r'<img[^>]*src="([^"]+)"', front)
    assert len(shown) == len(re.findall(r"!\[[^]]*\]\([^)]+\)", readme))
    assert all((site.html / src).is_file() for src in shown)


def test_every_docs_page_is_on_the_site(site):
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert (site.html / "docs" / f"{page.stem}.html").is_file(), f"docs/{page.name} has no page"


def test_api_page_documents_the_public_api(site):
    page = api_page(site)
    for name in acdc_core.__all__:
        if inspect.ismodule(module := getattr(acdc_core, name)):
            assert (site.html / "docs" / "api" / "generated" / f"{module.__name__}.html").is_file()
        else:
            assert f'id="acdc_core.{name}"' in page, f"acdc_core.{name} is not on the API page"


@pytest.mark.parametrize("name", LAYERS)
def test_api_page_gives_each_layers_arguments(site, name):
    """The signature shown is the class's own, and every argument described is one of its."""
    page = api_page(site)
    definition = element(page, f"acdc_core.{name}")
    signature = list(inspect.signature(getattr(acdc_core, name)).parameters)
    head = definition[:definition.index("</dt>")]
    assert re.findall(r'<em class="sig-param"><span class="n"><span class="pre">(\w+)<', head) == signature
    fields = definition.split(">Parameters<", 1)[1].split("</dd>", 1)[0]
    described = re.findall(r"<li><p><strong>(\w+)</strong>", fields)
    assert described and set(described) <= set(signature), f"described: {described}"
    if issubclass(getattr(acdc_core, name), StructuredLinear):  # its inherited methods are shown too
        for method in ("effective_weight", "to_linear", "parameter_count"):
            assert f'id="acdc_core.{name}.{method}"' in page


def test_every_training_and_ops_module_has_a_page(site):
    for package in (acdc_core.training, acdc_core.ops):
        for module in pkgutil.iter_modules(package.__path__):
            name = f"{package.__name__}.{module.name}"
            page = site.html / "docs" / "api" / "generated" / f"{name}.html"
            assert page.is_file() and f'id="module-{name}"' in page.read_text(), f"{name} has no page"
    lab = text_of((site.html / "docs" / "api" / "lab.html").read_text())
    assert all(m.name in lab for m in pkgutil.iter_modules(acdc_core.lab.__path__)), "a lab module is not listed"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_page_with_its_outputs(site, notebook):
    page = (site.html / "notebooks" / f"{notebook.stem}.html").read_text()
    shown = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(shown) == images(notebook) > 0
    assert all((site.html / "notebooks" / src).is_file() for src in shown)
    said = text_of(page)
    for text in checked_stdout(notebook):
        assert words(text) in said, f"checked output missing from the page: {text[:200]!r}"


def notebook_with_a_table() -> tuple[Path, str]:
    """The first notebook whose checked output holds a table, and that table's header line."""
    for notebook in NOTEBOOKS:
        for text in checked_stdout(notebook):
            rule = TABLE_RULE.search(text)
            if rule:
                return notebook, text[:rule.start()].rstrip("\n").rsplit("\n", 1)[-1]
    pytest.fail("no notebook prints a table in a checked output")


def test_browser_shows_the_api_and_a_notebook(site, browser):  # noqa: F811
    page = browser.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else route.abort())  # MathJax's CDN script: the test stays offline
    try:
        page.goto((site.html / "docs" / "api" / "index.html").as_uri() + "#acdc_core.ACDC")
        signature = page.locator("dt[id='acdc_core.ACDC']")
        signature.wait_for(state="visible")
        shown = signature.inner_text()
        assert shown.startswith("class acdc_core.ACDC(features"), shown
        assert all(p in shown for p in inspect.signature(acdc_core.ACDC).parameters)

        notebook, header = notebook_with_a_table()
        page.goto((site.html / "notebooks" / f"{notebook.stem}.html").as_uri())
        figure = page.locator(".cell_output img").first
        figure.wait_for(state="visible")
        assert figure.evaluate("img => img.complete && img.naturalWidth > 100")
        table = page.locator("pre", has_text=header.strip()).first
        table.wait_for(state="visible")
        assert "mono" in table.evaluate("pre => getComputedStyle(pre).fontFamily")
        assert header in table.inner_text()
    finally:
        page.close()
