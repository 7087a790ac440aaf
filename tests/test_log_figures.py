"""The log's figures, kept once (acdc_core.lab.log_figures): docs/experiments.md prints each of them
as the data formats it, in the section of its experiment, and the recipes read theirs from there."""
import re
from collections import Counter
from pathlib import Path

import pytest

from acdc_core.lab.models.cifar_recipes import CIFAR_RECIPES
from acdc_core.lab.log_figures import ACCURACY, ERROR, FIGURES, accuracy, figure, figures, value
from acdc_core.lab.models.mnist import MNIST_MODELS

DOC = Path(__file__).resolve().parent.parent / "docs" / "experiments.md"
FOLLOW_UP_HEADING = "After the log: the follow-up paper"


def sections() -> dict[str, str]:
    """docs/experiments.md's text under each heading, keyed by the heading ("E11", ...), with the
    doc's minus sign read as a hyphen."""
    parts = re.split(r"^#+ (.+)$", DOC.read_text().replace("−", "-"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def printed(f) -> str:
    """How the doc prints figure ``f``: its text, with a percent sign for the units in %."""
    return f.text + ("%" if f.unit.startswith("%") else "")


@pytest.mark.parametrize("f", FIGURES, ids=lambda f: f"{f.experiment}: {f.setting}, {f.unit}")
def test_the_doc_prints_every_figure_in_its_experiments_section(f):
    section = sections()[FOLLOW_UP_HEADING if f.experiment == "follow-up" else f.experiment]
    assert printed(f) in section


def test_each_figure_is_named_once_and_by_its_source():
    counts = Counter((f.experiment, f.setting, f.unit) for f in FIGURES)
    assert not [key for key, n in counts.items() if n > 1]
    assert {f.source for f in FIGURES} == {"log", "follow-up"}
    assert all((f.source == "follow-up") == (f.experiment == "follow-up") for f in FIGURES)


def test_lookups_give_the_logs_precision_and_units():
    e25 = figure("E25", "K=32, permutation")
    assert (e25.value, e25.spread, e25.unit) == (0.009839443862438202, 0.0015687459345148055, "MSE")
    assert e25.text == "0.009839 ± 0.001569"
    assert value("E11", unit=ACCURACY) == 97.41
    assert figure("E1", "uniform(-1, 1) init", ACCURACY).text == "96.57"
    assert figure("E18", "WRN-40-2, dense", "parameters").text == "2.24355E+06"
    assert figure("follow-up", "WRN-28-10 teacher", "parameters").text == "3.65e7"
    assert len(figures("E9")) == 14 and figure("E10", "permutation").text == "0.0198"


def test_accuracy_reads_accuracies_and_errors_as_fractions():
    assert accuracy("E11") == pytest.approx(0.9741)
    assert accuracy("E23", "from scratch, full-rank 3×3") == pytest.approx(1 - 0.1064)
    assert figure("E23", "from scratch, full-rank 3×3").unit == ERROR


def test_an_ambiguous_or_unknown_lookup_names_the_candidates():
    with pytest.raises(KeyError, match="2 figures of E11 .*'test loss'"):
        figure("E11")
    with pytest.raises(KeyError, match="0 figures of E25"):
        figure("E25", "K=3, permutation")


def test_every_recipe_takes_its_figure_from_the_data():
    known = {accuracy(f.experiment, f.setting) for f in FIGURES if f.unit in (ACCURACY, ERROR)}
    recipes = [*MNIST_MODELS.values(), *CIFAR_RECIPES.values()]
    assert {r.log_accuracy for r in recipes if r.log_accuracy is not None} <= known
