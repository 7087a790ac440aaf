"""The background grids: a run records once and is skipped after, unless its settings change; an
exact fit reaches the least-squares solution; the linear approximation's grid is its full profile."""
import argparse
import dataclasses

import pytest
import torch

from acdc_core import StackedACDC

from acdc_core.lab import results, suite
from acdc_core.lab.analysis import grids
from acdc_core.lab.analysis.approximation import exact_problem, fit_exact


def test_a_grid_resumes_run_by_run_and_reruns_changed_settings(tmp_path):
    runs = grids.e25_runs(replicates=2, maxiter=3)[:3]  # K=1 replicates 0, 1; K=2 replicate 0
    origin = results.provenance("a test", "generated", verified=True)
    first = grids.record_run(runs[0], origin, "check", tmp_path)
    assert first["recipe"] == "E25 ACDC original, permutation, K=1" and first["parameters"] == 64
    assert first["iterations"] <= 3 and first["curves"][0]["step"] == 0 and first["mse"] == first["curves"][-1]["mse"]
    assert grids.pending(runs, "check", tmp_path) == runs[1:]
    changed = dataclasses.replace(runs[0], settings={**runs[0].settings, "maxiter": 4})
    assert grids.pending([changed], "check", tmp_path) == [changed]
    assert results.load("structure_comparison", "check", tmp_path)["runs"][0]["settings"]["method"] == "CG"


def test_the_exact_fit_of_a_dense_map_reaches_the_least_squares_solution():
    built = []

    def dense(seed):
        built.append(torch.nn.Linear(32, 32, bias=False, dtype=torch.float64))
        return built[-1]

    losses, parameters = fit_exact(dense, 32, 100, 3, "CG", 500)
    x, y = exact_problem(32, 100, 3)
    solution = torch.linalg.lstsq(x, y).solution.T  # y = x W^T holds exactly: the optimum is MSE 0
    weight = built[0].weight.detach()
    assert parameters == 32 * 32 and losses[0] > 0.1 and losses[-1] < 1e-5  # CG stops at its tolerance
    assert losses[-1] == pytest.approx(torch.mean((x @ weight.T - y) ** 2).item(), rel=1e-9)
    assert torch.allclose(weight, solution, atol=1e-2)


def test_an_e25_run_fits_its_stack_to_its_replicates_problem():
    run = grids.e25_runs(replicates=2, maxiter=3)[1]  # K=1, replicate 1
    losses, parameters = run.fit()
    x, y = exact_problem(32, 100, 1)
    torch.manual_seed(1)
    stack = StackedACDC(32, 32, 1, shuffle="permutation", seed=1, bias=False, dtype=torch.float64)
    assert parameters == 2 * 32 and losses[0] == torch.mean((stack(x) - y) ** 2).item()


def test_the_linear_approximation_grid_is_its_full_profile():
    full = suite.plan(["linear_approximation"], "full")["linear_approximation"][1]
    assert sorted(full["configs"]) == sorted(grids.approximation_configs())
    assert len(grids.approximation_runs()) == 18 and len(grids.e25_runs()) == 2 * 3 * 6 * 10
    assert [run.recipe[4:] for run in grids.family_runs(1)] == ["Monarch, 2 blocks", "Monarch, 4 blocks", "Monarch, 8 blocks",
                                                            "butterfly, K=1", "butterfly, K=2"]


def test_linear_approximation_replicates_keep_the_full_profile_as_replicate_0():
    one, two = grids.approximation_runs(), grids.approximation_runs(2, rows=50, steps=2)
    assert [(run.recipe, run.seed) for run in two[:2]] == [(one[0].recipe, 0), (one[0].recipe, 1)]
    (first, _), (second, _) = two[0].fit(), two[1].fit()
    assert first[0] != second[0]  # another problem and another stack


@pytest.mark.parametrize("length, steps", [(1, [0, 1]), (44, [0, 1, 2, 5, 10, 20, 44]),
                                           (1000, [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])])
def test_curves_are_kept_at_log_spaced_steps(length, steps):
    losses = [float(i) for i in range(length + 1)]
    assert [point["step"] for point in grids.log_spaced(losses)] == steps


def test_recorded_grids_are_summarised_and_families_set_against_acdc():
    origin = results.provenance("a test", "generated", verified=True)
    recorded = {"runs": [{"recipe": recipe, "seed": seed, "mse": mse, "parameters": params, "provenance": origin}
                         for recipe, seed, mse, params in [
                             ("E25 ACDC original, permutation, K=4", 0, 0.02, 256),
                             ("E25 ACDC original, permutation, K=4", 1, 0.04, 256),
                             ("E25 ACDC original, permutation, K=8", 0, 0.01, 512),
                             ("E25 Monarch, 4 blocks", 0, 0.015, 420),
                             ("E24 ACDC original, permutation, K=2", 0, 0.03, 128)]]}
    rows = grids.summary_rows(recorded, "E25 ")
    assert [(r["recipe"], r["replicates"]) for r in rows] == [
        ("ACDC original, permutation, K=4", 2), ("ACDC original, permutation, K=8", 1), ("Monarch, 4 blocks", 1)]
    assert rows[0]["mse"] == pytest.approx(0.03) and rows[0]["std"] == pytest.approx(0.02 ** 0.5 * 0.1)
    assert grids.against_acdc(rows, "Monarch") == (
        "Monarch: 4 blocks (420 parameters) 0.0150, above the K=8 stack's 0.0100 (512).")
    assert grids.against_acdc(rows, "butterfly") == "butterfly: not recorded."


def test_shards_are_read_as_index_over_count_and_bad_ones_are_refused():
    assert grids.shard_spec("1/3") == (1, 3)
    for text in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected I/N with 0 <= I < N"):
            grids.shard_spec(text)
