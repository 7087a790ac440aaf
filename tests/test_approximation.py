"""The approximation experiment's pieces: the problem, the stacks, the optimiser table."""
import torch

from acdc_core.lab.analysis.approximation import OPTIMISERS, acdc_stack, fit, problem


def test_problem_is_reproducible_and_noisy_as_asked():
    x, y, target = problem(8, 500, noise_variance=1e-2, seed=3)
    x2, y2, _ = problem(8, 500, noise_variance=1e-2, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert 0 <= x.min() and x.max() <= 1 and x.dtype == torch.float64
    with torch.no_grad():
        residual = y - target(x)
    assert abs(residual.var().item() - 1e-2) < 2e-3


def test_every_optimiser_fits_a_small_stack():
    x, y, _ = problem(8, 200, seed=1)
    for name in OPTIMISERS:
        model = acdc_stack(8, 3, "linear", "permutation")
        losses = fit(model, x, y, name, 30)
        assert losses[-1] < losses[0], name


def test_architectures():
    assert acdc_stack(8, 2, "relu+bn", "unriffle").batchnorm
    relu = acdc_stack(8, 2, "relu", "unriffle")
    assert relu.relu and not relu.batchnorm
    assert not acdc_stack(8, 2, "linear", "none").relu


def test_structure_comparison_counts_and_fits():
    from acdc_core.lab.analysis.approximation import compare, exact_problem, families

    x, y = exact_problem(8, 20, seed=2)
    assert y.shape == (20, 8) and torch.equal(exact_problem(8, 20, seed=2)[1], y)
    models = families(8, [1, 2], [2], [2], [1, 8])
    assert set(models) >= {"ACDC original, permutation", "AFDF, permutation", "block ACDC, 2 blocks",
                           "linear ShuffleNet", "low rank", "dense"}
    rows = compare({k: models[k] for k in ("ACDC riffle, unriffle", "low rank", "dense")}, 8, 20, 2,
                   maxiter=200)
    by = {(r["family"], r["config"]): r for r in rows}
    assert by[("ACDC riffle, unriffle", "K=2")]["params"] == 2 * 8 * 2
    assert by[("low rank", "rank 1")]["params"] == 16
    assert by[("dense", "N×N")]["mse"] < 1e-8  # an exactly linear target, fitted exactly
    assert by[("low rank", "rank 8")]["mse"] < by[("low rank", "rank 1")]["mse"]
