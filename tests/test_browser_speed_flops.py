"""The controls of speed_study and flops_and_parameters in a real browser: JupyterLab in headless
Chromium runs each notebook with small parameters, changes a dropdown, and sees what the control
shows change (speed_study's figure of times measured live, flops_and_parameters' per-layer table)."""
from test_browser import browser, chromium, choose, control_after_run_all, dropdown, lab  # noqa: F401 (fixtures)

SMALL_SPEED = {"sizes": [64, 128], "acdc_sizes": [64, 128], "batch": 8, "rounds": 1, "dense_max_n": 128,
               "check_lengths": [1, 2, 8], "live_width": 64, "live_rounds": 1}  # Run All in seconds
SMALL_FLOPS = {"networks": ["tiny_convnet"], "layer_counts": [1, 4], "max_width": 256, "timing_sizes": [],
               "rounds": 1}


def test_choosing_a_width_times_it_live_and_redraws_the_figure(lab, browser):
    page, cell = control_after_run_all(lab, browser, "speed_study.ipynb", SMALL_SPEED)
    assert "N = 64, batch 8" in cell.inner_text()
    choose(page, cell, "width", "128")
    assert "N = 128, batch 8" in cell.inner_text() and "N = 64," not in cell.inner_text()


def test_choosing_a_network_shows_its_per_layer_table(lab, browser):
    page, cell = control_after_run_all(lab, browser, "flops_and_parameters.ipynb", SMALL_FLOPS)
    output = cell.locator(".widget-output")
    assert "WRN-40-2, separable 12-layer" in output.inner_text()
    dropdown(cell, "network").select_option(label="tiny_convnet")
    page.wait_for_function("cell => cell.querySelector('.widget-output').textContent.includes('tiny_convnet')",
                           arg=cell.element_handle())
    text = output.inner_text()
    assert "WRN-40-2" not in text and "groups.0.0.conv1" not in text
    assert "in all: 8,074 parameters (0.085× the dense 94,762)" in text  # the notebook's own network table
