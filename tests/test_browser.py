"""The interactive path in a real browser: JupyterLab in headless Chromium runs init_statistics with
small parameters, moves a slider, saves it and reopens it after its kernel has gone; and opening a
notebook leaves it unmodified."""
import ast
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SMALL = {"sizes": [4, 8, 16], "depths": [1, 2, 4], "depth_n": 16, "draws": 2, "sigmas": [0.01, 0.1],
         "heatmap_n": 8, "heatmap_depth": 4, "heatmap_draws": 5}  # Run All in seconds
SETTINGS = {  # every cell attached to the page (so every output renders), and no news toast
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}
APP = "window.jupyterapp"  # exposed by --LabApp.expose_app_in_browser
KERNEL_IDLE = f"{APP}?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"


class Lab(NamedTuple):
    """A running JupyterLab: its address, its token and the folder it serves."""
    url: str
    token: str
    root: Path


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, or a skip that says what is missing."""
    try:
        import jupyterlab  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as missing:
        pytest.skip(f"{missing.name} is not installed (make test installs the test and notebooks extras)")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium where it can)")
    return path


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """A JupyterLab server on a free local port, with its own configuration and an empty root
    folder; always stopped at the end, with its kernels."""
    home, token, port = tmp_path_factory.mktemp("jupyter"), secrets.token_hex(16), free_port()
    root = home / "root"
    root.mkdir()
    write_settings(home / "config" / "lab" / "user-settings")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True"],
        cwd=root, env=server_environment(home), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_server(server, f"{url}/api/status?token={token}", home / "server.log")
        yield Lab(url, token, root)
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def free_port() -> int:
    """A local TCP port nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings(folder: Path) -> None:
    """JupyterLab user settings (SETTINGS) under ``folder``."""
    for plugin, values in SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def server_environment(home: Path) -> dict:
    """This environment without the ACDC_* variables (kernels must draw widgets, as for a user,
    not the headless static figures), one thread per kernel, and Jupyter's and IPython's folders
    under ``home`` so that no user configuration applies."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACDC_")}
    env.update(OMP_NUM_THREADS="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "config" / "lab" / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "config" / "lab" / "workspaces"),
               IPYTHONDIR=str(home / "ipython"))
    return env


def wait_for_server(server: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    """Return once ``url`` answers; fail with the server's log if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


def with_values(source: str, values: dict) -> str:
    """``source`` (assignments, one a line) with the value assigned to each name of ``values``
    replaced by its repr, the names, annotations and comments kept."""
    assigned = {(node.target if isinstance(node, ast.AnnAssign) else node.targets[0]).id: node.value
                for node in ast.parse(source).body}
    assert set(values) <= set(assigned), f"not parameters: {sorted(set(values) - set(assigned))}"
    lines = source.encode().splitlines()  # the offsets count UTF-8 bytes
    for name, value in values.items():
        old = assigned[name]
        line = lines[old.lineno - 1]
        lines[old.lineno - 1] = line[:old.col_offset] + repr(value).encode() + line[old.end_col_offset:]
    return b"\n".join(lines).decode()


def small_copy(name: str, root: Path, values: dict) -> None:
    """``notebooks/NAME`` into ``root`` with its parameters cell set to ``values`` and no outputs."""
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in book.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = with_values(cell.source, values)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(book, root / name)


def open_notebook(browser, lab, name: str):
    """A page showing ``name`` in a fresh workspace, once its kernel is idle."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    page.wait_for_function(KERNEL_IDLE)
    return page


def run_all(page, timeout_ms: int = 90_000) -> None:
    """Run > Run All Cells, waiting for the last cell to finish; fails on an error or time-out."""
    outcome = page.evaluate(f"""Promise.race([
        {APP}.commands.execute('notebook:run-all-cells'),
        new Promise(done => setTimeout(() => done('timed out'), {timeout_ms}))])""")
    if outcome is not True:
        errors = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        pytest.fail(f"Run All: {outcome}; stderr outputs: {errors.all_inner_texts()}")
    page.wait_for_function(f"{KERNEL_IDLE} && !document.body.textContent.includes('[*]')")


def control_after_run_all(lab, browser, name: str, values: dict, timeout_ms: int = 90_000):
    """``name``'s small copy (:func:`small_copy` with ``values``) opened and run whole: its page and
    the cell of its control (:func:`control_cell`)."""
    small_copy(name, lab.root, values)
    page = open_notebook(browser, lab, name)
    run_all(page, timeout_ms)
    return page, control_cell(page)


def slider(cell, name: str):
    """The slider labelled ``name`` in ``cell``."""
    return cell.locator(".widget-slider").filter(has=_label(cell, name))


def dropdown(cell, name: str):
    """The dropdown labelled ``name`` in ``cell``."""
    return cell.locator(".widget-dropdown").filter(has=_label(cell, name)).locator("select")


def _label(cell, name: str):
    return cell.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(name)}$"))


def control_cell(page):
    """The notebook's one code cell with a dropdown."""
    return page.locator(".jp-CodeCell").filter(has=page.locator(".widget-dropdown"))


def redrawn(page, cell, change) -> None:
    """Call ``change()`` and wait until the one figure under ``cell`` is a new one."""
    before = cell.locator(".jp-OutputArea-output img").get_attribute("src")
    change()
    page.wait_for_function("([cell, before]) => {"
                           " const images = cell.querySelectorAll('.jp-OutputArea-output img');"
                           " return images.length === 1 && images[0].src !== before; }",
                           arg=[cell.element_handle(), before])


def choose(page, cell, name: str, label: str) -> None:
    """Pick ``label`` in dropdown ``name`` and wait for the figure under it to be redrawn."""
    redrawn(page, cell, lambda: dropdown(cell, name).select_option(label=label))


def nudge(page, cell, name: str) -> None:
    """Move slider ``name`` one step right with the keyboard and wait for the figure under it to be
    redrawn (the sliders update on release, continuous_update=False)."""
    handle = slider(cell, name).locator(".noUi-handle")
    handle.focus()
    redrawn(page, cell, lambda: handle.press("ArrowRight"))


def reopen(page, name: str) -> None:
    """Save, shut the kernel down, close every tab, open ``name`` again (with a new kernel) and
    wait for its widgets to be drawn, or to fail to."""
    page.evaluate(f"{APP}.commands.execute('docmanager:save')")
    page.wait_for_function(f"!{APP}.shell.currentWidget.context.model.dirty")
    page.evaluate(f"{APP}.shell.currentWidget.sessionContext.shutdown().then(() => true)")
    page.evaluate(f"{APP}.commands.execute('application:close-all')")
    page.wait_for_function("!document.querySelector('.jp-NotebookPanel')")
    page.evaluate(f"{APP}.commands.execute('docmanager:open', {{path: {json.dumps(name)}}})")
    page.wait_for_function(KERNEL_IDLE)
    page.wait_for_function("(document.querySelector('.jp-NotebookPanel .widget-slider')"
                           " || document.body.textContent.includes('Error displaying widget'))"
                           " && !document.body.textContent.includes('Loading widget...')")


def test_a_slider_redraws_its_figure_and_the_saved_notebook_reopens_without_widget_errors(lab, browser):
    """Reopened after its kernel has gone, the notebook shows its saved widgets (the project's
    JupyterLab settings save widget state), never an error in their place."""
    small_copy("init_statistics.ipynb", lab.root, SMALL)
    page = open_notebook(browser, lab, "init_statistics.ipynb")
    run_all(page)
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".widget-slider"))
    assert "<function" not in cell.inner_text()  # the widget block prints nothing more
    assert slider(cell, "n").locator(".widget-readout").inner_text() == "16"
    nudge(page, cell, "n")
    assert slider(cell, "n").locator(".widget-readout").inner_text() == "20"
    reopen(page, "init_statistics.ipynb")
    text = page.locator("body").text_content()
    assert "Error displaying widget" not in text, (
        f"{text.count('Error displaying widget')} widget output(s) after reopening: "
        f"{sorted(set(re.findall(r'Error displaying widget[^[]*', text)))}")


def test_opening_a_notebook_does_not_mark_it_modified(lab, browser):
    name = "flops_and_parameters.ipynb"
    book = json.loads((NOTEBOOKS / name).read_text())
    # JupyterLab writes the kernel's Python version: a machine with another version than the one
    # that refreshed the notebooks changes it, which is not what this test is about.
    book["metadata"]["language_info"]["version"] = platform.python_version()
    (lab.root / name).write_text(json.dumps(book, indent=1, ensure_ascii=False) + "\n")
    page = open_notebook(browser, lab, name)
    page.evaluate(f"{APP}.shell.currentWidget.sessionContext.session.kernel.info.then(() => true)")
    page.wait_for_timeout(3000)
    in_lab = page.evaluate(f"{APP}.shell.currentWidget.context.model.toJSON().metadata")
    on_disk = json.loads((lab.root / name).read_text())["metadata"]
    changed = {key: {"on disk": on_disk.get(key), "in JupyterLab": in_lab.get(key)}
               for key in on_disk.keys() | in_lab.keys() if on_disk.get(key) != in_lab.get(key)}
    assert not page.locator(".lm-TabBar-tab.jp-mod-dirty").count(), (
        f"opening {name} marks it modified; metadata JupyterLab changed: {changed}")
