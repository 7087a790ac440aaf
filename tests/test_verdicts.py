"""The one verdict rule, on cases whose words are worked out by hand."""
import pytest

from acdc_core.lab.analysis.verdicts import ACCURACY, MSE, Metric, describe, differences, verdict
from acdc_core.lab.log_figures import accuracy, figure

LOG_E11 = accuracy("E11")  # 0.9741


@pytest.mark.parametrize("ours, spread, word", [
    (0.9700, 0.002, "reproduced"),  # 0.41 points off, tolerance 0.5 points
    (0.9850, 0.001, "better"),  # 1.09 points above
    (0.9500, 0.001, "worse"),  # 2.41 points below
    (0.9500, 0.020, "reproduced"),  # 2 × 2 points of spread cover the 2.41
    (0.9792, 0.0, "better"),  # 0.51 points above: just outside the floor
    (0.9690, 0.0, "worse"),  # 0.51 points below
])
def test_accuracy_higher_is_better(ours, spread, word):
    assert verdict(ours, LOG_E11, ACCURACY, ours_spread=spread) == word


def test_both_spreads_widen_the_tolerance():
    # 0.95 points apart; spreads 0.3 and 0.4 points combine to 0.5: tolerance 1 point. Ours alone:
    # 2 × 0.3 = 0.6 points
    assert verdict(0.8000, 0.8095, ACCURACY, ours_spread=0.003, log_spread=0.004) == "reproduced"
    assert verdict(0.8000, 0.8095, ACCURACY, ours_spread=0.003) == "worse"


@pytest.mark.parametrize("ours, word", [
    (0.0145, "better"),  # 0.0055 below 0.0200: more than a quarter of it
    (0.0155, "reproduced"),  # 0.0045 below
    (0.0245, "reproduced"),
    (0.0255, "worse"),  # a lower MSE is the better one
    (1.5, "worse"),
])
def test_mse_lower_is_better_and_its_floor_is_a_quarter_of_the_logs(ours, word):
    assert verdict(ours, 0.0200, MSE) == word


def test_mse_with_spreads():
    # E25 at K = 1: log 0.03995 ± 0.005887; ours 0.0530 ± 0.0030: the floor is 0.00999, two combined
    # standard deviations 0.01322, the difference 0.01305 (and 0.01355 for 0.0535)
    log = figure("E25", "K=1, permutation")
    assert verdict(0.0530, log.value, MSE, ours_spread=0.0030, log_spread=log.spread) == "reproduced"
    assert verdict(0.0535, log.value, MSE, ours_spread=0.0030, log_spread=log.spread) == "worse"


def test_a_different_run_is_indicative_and_the_differences_say_why():
    setting = {"epochs": (4, 10), "data": ("mnist_subset", "mnist"), "batch": (64, 64)}
    assert verdict(0.97, LOG_E11, ACCURACY, setting=setting) == "reproduced (indicative)"
    assert differences(setting) == "epochs 4 (the log: 10), data mnist_subset (the log: mnist)"
    assert verdict(0.97, LOG_E11, ACCURACY, setting={"epochs": (10, 10)}) == "reproduced"
    assert differences({"steps": (1000, 1000)}) == ""


def test_missing_results():
    assert verdict(0.5, None, ACCURACY) == "no log result"
    assert verdict(None, 0.5, ACCURACY, setting={"epochs": (1, 10)}) == "not run"


def test_a_metric_of_ones_own():
    error = Metric("error", higher_is_better=False, floor=0.01)
    assert verdict(0.05, 0.07, error) == "better" and verdict(0.075, 0.07, error) == "reproduced"
    assert describe(MSE).startswith("MSE: reproduced within the larger of 25% of the log's value")
    assert "better (higher)" in describe(ACCURACY)
