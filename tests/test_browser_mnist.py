"""The live controls of mnist, cifar and transformer in a real browser (JupyterLab in headless
Chromium, see test_browser.py): mnist's live network starts, its curve is drawn and redrawn as it
trains, and stop ends it; cifar's metric dropdown redraws its learning curves; transformer's two
menus redraw its validation curves for the chosen axis and source."""
import re

from test_browser import (browser, chromium, choose, control_after_run_all, dropdown, lab,  # noqa: F401 (fixtures)
                          open_notebook, run_all, small_copy)

MNIST_SMALL = {"models": ["e1_normal"], "epochs": 1, "live_epochs": 20}  # Run All in seconds; a live run long enough to stop
TRANSFORMER_SMALL = {"recipes": ["quick_dense", "quick_acdc"], "epochs": 1, "steps": 10}
CIFAR_SMALL = {"dataset": "cifar10_standin", "train_images": 100, "test_images": 50, "epochs": 1}
DRAWN_ANEW = "([image, before]) => image.getAttribute('src') !== before && image.naturalWidth > 100"


def test_the_live_mnist_network_redraws_its_curve_as_it_trains_and_stops_when_asked(lab, browser):
    small_copy("mnist.ipynb", lab.root, MNIST_SMALL)
    page = open_notebook(browser, lab, "mnist.ipynb")
    run_all(page, timeout_ms=300_000)
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".widget-button", has_text="start"))
    start, stop = (cell.locator(".widget-button", has_text=re.compile(f"^{name}$")) for name in ("start", "stop"))
    status, image = cell.locator(".acdc-live-status"), cell.locator("img.acdc-live-figure")
    assert stop.is_disabled() and status.inner_text() == "press start to train"
    blank = image.get_attribute("src")
    start.click()
    page.wait_for_function("label => !['press start', 'training: first'].some(s => label.textContent.startsWith(s))",
                           arg=status.element_handle())  # the click heard, the first epoch over
    assert status.inner_text().startswith("training:"), status.inner_text()  # not failed, not done already
    page.wait_for_function(DRAWN_ANEW, arg=[image.element_handle(), blank])  # the first epoch drawn
    first = image.get_attribute("src")
    page.wait_for_function(DRAWN_ANEW, arg=[image.element_handle(), first])  # and redrawn after the next
    assert status.inner_text().startswith("training:") and start.is_disabled()
    stop.click()
    page.wait_for_function("label => label.textContent.startsWith('stopped after')", arg=status.element_handle())
    epochs = int(re.fullmatch(r"stopped after (\d+) epoch\(s\)", status.inner_text()).group(1))
    assert 2 <= epochs < MNIST_SMALL["live_epochs"]
    assert start.is_enabled() and stop.is_disabled()
    last = image.get_attribute("src")
    page.wait_for_timeout(3000)
    assert image.get_attribute("src") == last  # nothing trains any more


def test_the_cifar_metric_dropdown_redraws_its_figure(lab, browser):
    page, cell = control_after_run_all(lab, browser, "cifar.ipynb", CIFAR_SMALL, timeout_ms=300_000)
    choose(page, cell, "metric", "train_loss")
    assert dropdown(cell, "metric").input_value() == "train_loss"


def test_the_transformer_menus_redraw_the_curves_of_the_chosen_axis_and_source(lab, browser):
    page, cell = control_after_run_all(lab, browser, "transformer.ipynb", TRANSFORMER_SMALL, timeout_ms=300_000)
    choose(page, cell, "x_axis", "seconds")
    choose(page, cell, "source", "recorded cpu")  # the committed record
    assert (dropdown(cell, "x_axis").input_value(), dropdown(cell, "source").input_value()) == \
        ("seconds", "recorded cpu")
