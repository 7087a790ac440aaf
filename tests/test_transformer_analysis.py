"""The transformer study's analysis on a hand-made record whose groups and verdicts are worked out
by hand: which runs are at each budget, the best of each, losses and throughputs against the dense
reference and the narrow dense, and the configuration table's counts against explicit sums."""
import pytest

from acdc_core.lab.analysis import transformer as analysis


def run(recipe, structure, matched, loss, speed, ff_parameters, ff_mult_adds, seed=0):
    return {"recipe": recipe, "seed": seed, "structure": structure, "matched": matched, "validation_loss": loss,
            "tokens_per_second": speed, "feed_forward_parameters": ff_parameters,
            "feed_forward_mult_adds": ff_mult_adds, "parameters": ff_parameters + 500, "steps": 4000,
            "batch_size": 12, "context": 64, "width": 128, "layers": 4, "train_seconds": 7200.0, "curves": []}


RECORD = {"runs": [
    run("dense", "dense", "reference", 2.00, 1000.0, 1000, 1000),
    run("monarch", "monarch", "parameters", 2.05, 1500.0, 100, 100),
    run("acdc_mult_adds", "acdc", "mult_adds", 2.20, 800.0, 20, 95),
    run("acdc_params", "acdc", "parameters", 1.99, 400.0, 104, 900),
    run("lowrank", "lowrank", "parameters", 2.10, 2000.0, 110, 110),
    run("narrow_dense", "dense", "parameters", 2.01, 1800.0, 98, 98),
    run("monarch", "monarch", "parameters", 1.50, 1500.0, 100, 100, seed=1),
]}
SEED0 = RECORD["runs"][:6]
ONE_SEED = {"runs": SEED0}


def recipes(runs):
    return [r["recipe"] for r in runs]


def test_the_groups_hold_the_runs_matched_or_within_fifteen_percent_of_monarchs_count():
    # parameters: every run matched on them; acdc_mult_adds holds 20, far from Monarch's 100
    assert recipes(analysis.matched_group(SEED0, "parameters")) == ["monarch", "acdc_params", "lowrank",
                                                                    "narrow_dense"]
    # multiply-adds: acdc_mult_adds by its match, Monarch (100), low rank (110) and narrow dense (98)
    # within 15 of 100; acdc_params' 900 is not
    assert recipes(analysis.matched_group(SEED0, "mult_adds")) == ["monarch", "acdc_mult_adds", "lowrank",
                                                                   "narrow_dense"]
    assert analysis.best(SEED0, "parameters")["recipe"] == "acdc_params"  # 1.99
    assert analysis.best(SEED0, "mult_adds")["recipe"] == "narrow_dense"  # 2.01
    assert analysis.best([SEED0[0]], "parameters") is None


def test_the_verdicts_against_dense_and_the_narrow_dense():
    rows = {row["recipe"]: row for row in analysis.verdict_rows(ONE_SEED)}
    assert list(rows) == ["monarch", "acdc_mult_adds", "acdc_params", "lowrank", "narrow_dense"]
    monarch = rows["monarch"]
    assert (monarch["Δ vs dense"], monarch["speed × dense"], monarch["Δ vs narrow"], monarch["speed × narrow"]) == \
        ("+0.0500", "1.50", "+0.0400", "0.83")  # 2.05 - 2.00, 1500/1000, 2.05 - 2.01, 1500/1800
    assert monarch["against dense"] == "higher"
    assert rows["acdc_params"]["against dense"] == "about equal"  # 0.01 within 0.02
    assert rows["acdc_params"]["speed × dense"] == "0.40"
    assert (rows["narrow_dense"]["Δ vs narrow"], rows["narrow_dense"]["speed × narrow"]) == ("—", "—")
    assert analysis.verdict_rows({"runs": RECORD["runs"][1:]}) == []  # no dense reference


def test_the_recorded_rows_keep_a_recipes_seeds_together():
    rows = analysis.recorded_rows(RECORD)
    assert [(row["recipe"], row["seed"]) for row in rows][:3] == [("dense", 0), ("monarch", 0), ("monarch", 1)]
    assert (rows[2]["val loss"], rows[2]["train tokens/s"], rows[2]["train hours"]) == ("1.5000", "1,500", "2.00")


def test_a_recipe_of_several_seeds_is_judged_by_their_mean():
    rows = {row["recipe"]: row for row in analysis.verdict_rows(RECORD)}
    monarch = rows["monarch"]  # seeds 0 and 1: (2.05 + 1.50) / 2 = 1.775
    assert (monarch["seeds"], monarch["val loss"], monarch["Δ vs dense"], monarch["against dense"]) == \
        (2, "1.7750", "-0.2250", "lower")
    assert rows["lowrank"]["seeds"] == 1
    sentence = analysis.answer_finding(RECORD, "Recorded")
    assert "monarch (monarch) has the lowest validation loss, 1.775 nats per character (mean of 2 seeds)" in sentence
    assert "1 to 2 seeds a recipe" in sentence and "reaches 2.000." in sentence  # dense: one seed, no "mean of"


def test_a_benchmark_that_timed_every_recipe_gives_the_speeds():
    origin = {"machine": "a test machine", "date": "2026-12-07"}
    timed = {"dense": 2000.0, "monarch": 1000.0, "acdc_mult_adds": 500.0, "acdc_params": 400.0,
             "lowrank": 3000.0, "narrow_dense": 2500.0}
    benchmarked = {**RECORD, "measurements": {"throughput": {"rounds": 9, "tokens_per_second": timed,
                                                             "provenance": origin}}}
    rows = {row["recipe"]: row for row in analysis.verdict_rows(benchmarked)}
    assert (rows["monarch"]["speed × dense"], rows["monarch"]["speed × narrow"]) == ("0.50", "0.40")
    assert analysis.speed_source(benchmarked).startswith("training steps of every recipe timed in one benchmark "
                                                         "of 9 interleaved rounds (a test machine, 2026-12-07)")
    # a benchmark missing one recipe is not mixed with the runs' own figures
    del timed["lowrank"]
    assert analysis.speeds(benchmarked) == {r["recipe"]: r["tokens_per_second"] for r in SEED0}
    assert analysis.speed_source(benchmarked).startswith("each training run's own throughput")


def test_the_seed_rows_give_the_spread_of_each_recipe_run_more_than_once():
    assert analysis.seed_rows(RECORD) == [{"recipe": "monarch", "seeds": "0, 1", "lowest": "1.5000",
                                           "highest": "2.0500", "spread": "0.5500"}]  # 2.05 - 1.50
    assert analysis.seed_rows({"runs": SEED0}) == []
    assert analysis.spread_finding(RECORD) == ("Of the recipes run with more than one seed, monarch's final "
                                               "validation losses spread widest, 0.5500 nats per character: more "
                                               "than the 0.02 that counts as about equal, so a single seed's "
                                               "verdict may not hold for another.")
    close = {"runs": SEED0 + [run("dense", "dense", "reference", 2.015, 1000.0, 1000, 1000, seed=1)]}
    assert analysis.spread_finding(close).endswith("dense's final validation losses spread widest, 0.0150 nats per "
                                                   "character: within the 0.02 that counts as about equal.")
    assert analysis.spread_finding({"runs": SEED0}) is None


@pytest.mark.parametrize("loss, word", [(1.97, "lower"), (1.985, "about equal"), (2.015, "about equal"),
                                        (2.03, "higher")])
def test_compared_within_the_tolerance(loss, word):
    assert analysis.compared(loss, 2.00) == word


def test_the_answer_names_the_best_of_each_budget_with_its_speed():
    sentence = analysis.answer_finding(ONE_SEED, "Recorded cpu profile")
    assert sentence.startswith("Recorded cpu profile (4 layers, width 128, context 64, 4,000 steps of 12 "
                               "windows, seed 0): ")
    assert "at equal feed-forward parameters acdc (acdc_params) has the lowest validation loss, 1.990" in sentence
    assert "0.40× the dense reference's training throughput" in sentence
    assert "at equal multiply-adds dense (narrow_dense) has the lowest validation loss, 2.010" in sentence
    assert sentence.endswith("the dense reference at the same width reaches 2.000.")


def test_each_structured_run_is_set_beside_the_papers():
    lines = analysis.paper_lines(ONE_SEED)
    assert len(lines) == 4  # the dense ones are the baseline, not set beside the papers
    assert lines[0].startswith("monarch (monarch): a higher validation loss than dense here (+0.0500")
    assert "Dao et al. (ICML 2022)" in lines[0] and "Qiu et al. (ICML 2024)" in lines[3]


def test_the_config_table_counts_by_hand():
    row = analysis.config_rows(["quick_dense"], vocabulary=65)[0]
    # 2 blocks of Linear(32, 128) and Linear(128, 32) with biases; multiply-adds count no bias
    assert (row["knob"], row["matched on"]) == (128, "reference")
    assert row["FF params"] == f"{2 * (32 * 128 + 128 + 128 * 32 + 32):,}"
    assert row["FF MA/token"] == f"{2 * 2 * 32 * 128:,}"
    assert analysis.label(RECORD["runs"][2]) == "acdc_mult_adds (acdc, mult-adds)"
