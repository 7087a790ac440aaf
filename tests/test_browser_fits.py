"""The controls of the two fitting studies in a real browser: JupyterLab in headless Chromium runs
linear_approximation and structure_comparison with small parameters (seconds), moves each control
and checks that the figure and the lines under it change."""
from playwright.sync_api import expect
from test_browser import (browser, chromium, choose, control_after_run_all, dropdown, lab,  # noqa: F401 (fixtures)
                          nudge)

LINEAR_SMALL = {"rows": 100, "steps": 10, "n_layers": 4, "configs": [["relu", "permutation", "Adam"]]}
STRUCTURE_SMALL = {"widths": [8], "samples": 20, "replicates": 1, "maxiter": 10, "depths": [1, 2],
                   "groups": [2], "shufflenet_layers": [2], "ranks": [1, 2]}


def shows(cell, text: str) -> None:
    """Wait until the lines the cell's control prints under its figure hold ``text``."""
    expect(cell.locator(".jp-OutputArea-output .jp-RenderedText")).to_contain_text(text)


def test_linear_approximation_shows_the_chosen_configurations_loss_curve(lab, browser):
    page, cell = control_after_run_all(lab, browser, "linear_approximation.ipynb", LINEAR_SMALL)
    assert dropdown(cell, "optimiser").input_value() == "Adam"
    shows(cell, "this run (100 rows): final MSE")  # the configuration this run fitted
    choose(page, cell, "optimiser", "L-BFGS")
    shows(cell, "this run: not fitted")
    choose(page, cell, "architecture", "linear")
    shows(cell, "recorded full grid (10,000 rows): final MSE 0.0057 after 1000 steps")  # full.json's
    page.close()


def test_structure_comparison_shows_the_chosen_family_within_the_budget(lab, browser):
    page, cell = control_after_run_all(lab, browser, "structure_comparison.ipynb", STRUCTURE_SMALL)
    assert dropdown(cell, "family").input_value() == "ACDC original, permutation"
    shows(cell, "within 64 parameters")  # a dense 8×8 matrix's count
    nudge(page, cell, "budget")
    shows(cell, "within 80 parameters")  # one step: the smallest count, 16 at M = 8
    choose(page, cell, "family", "Monarch")
    shows(cell, "best Monarch within 80 parameters")
    shows(cell, "recorded full grid (M = 32, CG ≤ 1000 iterations): no Monarch configuration within 80 "
                "parameters (the smallest has 384)")  # full.json's smallest Monarch matrix
    page.close()
