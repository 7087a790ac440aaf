"""The controls of speed_study and flops_and_parameters in a real browser: JupyterLab in headless
Chromium runs each notebook with small parameters, changes a dropdown, and sees what the control
shows change (speed_study's figure of times measured live, flops_and_parameters' per-layer table)."""
import re

from test_browser import browser, chromium, lab, open_notebook, run_all, small_copy  # noqa: F401

SMALL_SPEED = {"sizes": [64, 128], "acdc_sizes": [64, 128], "batch": 8, "rounds": 1, "dense_max_n": 128,
               "check_lengths": [1, 2, 8], "live_width": 64, "live_rounds": 1}  # Run All in seconds
SMALL_FLOPS = {"networks": ["tiny_convnet"], "layer_counts": [1, 4], "max_width": 256, "timing_sizes": [],
               "rounds": 1}


def control_cell(page):
    """The notebook's one cell with widgets."""
    return page.locator(".jp-CodeCell").filter(has=page.locator(".widget-dropdown"))


def choose(cell, name: str, label: str) -> None:
    """Pick ``label`` in the dropdown labelled ``name`` in ``cell``."""
    title = cell.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(name)}$"))
    cell.locator(".widget-dropdown").filter(has=title).locator("select").select_option(label=label)


def test_choosing_a_width_times_it_live_and_redraws_the_figure(lab, browser):
    small_copy("speed_study.ipynb", lab.root, SMALL_SPEED)
    page = open_notebook(browser, lab, "speed_study.ipynb")
    run_all(page)
    cell = control_cell(page)
    figure = cell.locator(".widget-output img")
    before = figure.get_attribute("src")
    assert "N = 64, batch 8" in cell.inner_text()
    choose(cell, "width", "128")
    page.wait_for_function("([cell, before]) => {"
                           " const images = cell.querySelectorAll('.widget-output img');"
                           " return images.length === 1 && images[0].src !== before; }",
                           arg=[cell.element_handle(), before])
    assert "N = 128, batch 8" in cell.inner_text() and "N = 64," not in cell.inner_text()


def test_choosing_a_network_shows_its_per_layer_table(lab, browser):
    small_copy("flops_and_parameters.ipynb", lab.root, SMALL_FLOPS)
    page = open_notebook(browser, lab, "flops_and_parameters.ipynb")
    run_all(page)
    cell = control_cell(page)
    output = cell.locator(".widget-output")
    assert "WRN-40-2, separable 12-layer" in output.inner_text()
    choose(cell, "network", "tiny_convnet")
    page.wait_for_function("cell => cell.querySelector('.widget-output').textContent.includes('tiny_convnet')",
                           arg=cell.element_handle())
    text = output.inner_text()
    assert "WRN-40-2" not in text and "groups.0.0.conv1" not in text
    assert "in all: 8,074 parameters (0.085× the dense 94,762)" in text  # the notebook's own network table
