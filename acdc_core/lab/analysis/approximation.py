"""Approximating a dense linear map with structured layers (paper §6.1; the log's E6, E10, E24
and E25, described in docs/experiments.md).

A random dense target ``nn.Linear(N, N)`` (PyTorch's default initialisation), inputs X ~ U(0, 1),
outputs Y = target(X) + Gaussian noise; a model is fitted to (X, Y) by mean squared error with a
torch optimiser or a scipy method, all in float64.
"""
from __future__ import annotations

import torch
from torch import nn

from ...base import parameter_count
from ...training.optimise import fit_scipy, fit_torch, mse
from ...stack import StackedACDC

OPTIMISERS = {  # name -> how to fit: the log's settings
    "SGD": dict(kind="torch", optimiser="sgd", lr=0.1, momentum=0.9),
    "Adam": dict(kind="torch", optimiser="adam", lr=1e-3),
    "L-BFGS": dict(kind="scipy", method="L-BFGS-B"),
    "CG": dict(kind="scipy", method="CG"),
    "BFGS": dict(kind="scipy", method="BFGS"),
}


def problem(n: int, rows: int, noise_variance: float = 1e-4, seed: int = 0):
    """(x, y, target): ``rows`` inputs U(0, 1)^n and the noisy outputs of a fresh random
    ``nn.Linear(n, n)``, float64, reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        target = nn.Linear(n, n, dtype=torch.float64)
    x = torch.rand(rows, n, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = target(x) + noise_variance ** 0.5 * torch.randn(rows, n, generator=gen, dtype=torch.float64)
    return x, y, target


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimiser: str, steps: int,
        progress=None) -> list[float]:
    """Fit ``model`` (float64) by MSE with one of :data:`OPTIMISERS` for ``steps`` steps (scipy:
    iterations); the loss history. ``progress``: a bar over the steps (see
    :func:`~acdc_core.training.optimise.fit_scipy`)."""
    settings = dict(OPTIMISERS[optimiser])
    if settings.pop("kind") == "torch":
        return fit_torch(model, mse(x, y), steps=steps, progress=progress, **settings)
    losses, _ = fit_scipy(model, mse(x, y), maxiter=steps, progress=progress, **settings)
    return losses


def acdc_stack(n: int, n_layers: int, architecture: str, shuffle: str, seed: int = 0) -> StackedACDC:
    """The log's stacks, each shuffling after its last layer too: ``"relu+bn"`` (E6: BatchNorm,
    the shuffle and ReLU after every layer, the last included), ``"relu"`` (E10: ReLU between
    layers) or ``"linear"``; a bias on every layer drawn as nn.Linear's (as the log's code did),
    N(1, 1e-2) diagonals, float64. The log's riffle is ``shuffle="unriffle"``."""
    relu, batchnorm = "relu" in architecture, "bn" in architecture
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return StackedACDC(n, n, n_layers, shuffle=shuffle, seed=seed, shuffle_last=True,
                           relu=relu, batchnorm=batchnorm, relu_last=batchnorm,
                           bias_init="uniform", dtype=torch.float64)


def exact_problem(n: int, samples: int, seed: int = 0):
    """(x, y): E24/E25's problem, ``y = x Wᵀ`` with W a fresh ``nn.Linear(n, n, bias=False)``
    weight and x ~ U(0, 1), no noise; float64, reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        weight = nn.Linear(n, n, bias=False, dtype=torch.float64).weight.detach()
    x = torch.rand(samples, n, generator=gen, dtype=torch.float64)
    return x, x @ weight.T


BUTTERFLY_DEPTHS = (1, 2)  # butterfly products: 2·N·log₂N parameters each


def families(n: int, depths, groups, shufflenet_layers, ranks) -> dict[str, dict]:
    """Every model of the structure comparison: family -> {configuration: builder(seed)}; no
    biases anywhere (so an ACDC stack of K layers holds 2·n·K parameters, as in the log)."""
    from ...acdc import ACDC
    from ...structured import AFDF, Butterfly, Cascade, Dense, LowRank, Monarch, linear_shufflenet

    def seeded(build):
        def make(seed):
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                return build(seed)
        return make

    f64 = torch.float64
    out: dict[str, dict] = {}
    for parameterisation in ("original", "riffle"):
        for shuffle in ("permutation", "unriffle", "none"):
            out[f"ACDC {parameterisation}, {shuffle}"] = {
                f"K={k}": seeded(lambda s, k=k, p=parameterisation, sh=shuffle: StackedACDC(
                    n, n, k, shuffle=sh, seed=s, bias=False, parameterisation=p, dtype=f64))
                for k in depths}
    out["AFDF, permutation"] = {
        f"K={k}": seeded(lambda s, k=k: Cascade([AFDF(n, bias=False, dtype=f64) for _ in range(k)],
                                                "permutation", s)) for k in depths}
    for g in groups:
        out[f"block ACDC, {g} blocks"] = {
            f"K={k}": seeded(lambda s, k=k, g=g: Cascade(
                [ACDC(n, block_size=n // g, bias=False, dtype=f64) for _ in range(k)], "permutation", s))
            for k in depths}
        out[f"block AFDF, {g} blocks"] = {
            f"K={k}": seeded(lambda s, k=k, g=g: Cascade(
                [AFDF(n, block_size=n // g, bias=False, dtype=f64) for _ in range(k)], "permutation", s))
            for k in depths}
    out["linear ShuffleNet"] = {
        f"{layers} layers, {g} groups": seeded(lambda s, layers=layers, g=g: linear_shufflenet(
            n, layers, g, bias=False, dtype=f64)) for layers in shufflenet_layers for g in groups}
    out["Monarch"] = {f"{b} blocks": seeded(lambda s, b=b: Monarch(n, b, bias=False, dtype=f64))
                      for b in groups if n % b == 0}
    if n & (n - 1) == 0:  # butterflies need a power of two
        out["butterfly"] = {f"K={k}": seeded(lambda s, k=k: Cascade(
            [Butterfly(n, bias=False, dtype=f64) for _ in range(k)], "none", s)) for k in BUTTERFLY_DEPTHS}
    out["low rank"] = {f"rank {r}": seeded(lambda s, r=r: LowRank(n, r, bias=False, dtype=f64))
                       for r in ranks}
    out["dense"] = {"N×N": seeded(lambda s: Dense(n, bias=False, dtype=f64))}
    return out


def fit_exact(build, n: int, samples: int, seed: int, method: str = "CG",
              maxiter: int = 1000) -> tuple[list[float], int]:
    """``build(seed)`` fitted by a scipy ``method`` to :func:`exact_problem` ``(n, samples, seed)``:
    (the MSE after each iteration, the model's parameter count)."""
    x, y = exact_problem(n, samples, seed)
    model = build(seed)
    losses, _ = fit_scipy(model, mse(x, y), method=method, maxiter=maxiter)
    return losses, parameter_count(model)


def compare(builders: dict[str, dict], n: int, samples: int, replicates: int, method: str = "CG",
            maxiter: int = 1000, seed: int = 0, progress=None) -> list[dict]:
    """Fit every configuration on ``replicates`` fresh problems (replicate r: target, inputs and
    model from seed ``seed + r``); rows with the parameter count and the mean and standard
    deviation of the final MSE. ``progress``: e.g. :func:`acdc_core.lab.notebook.progress`, called
    as ``progress(configurations, desc=...)``."""
    configurations = [(family, config, build) for family, configs in builders.items()
                      for config, build in configs.items()]
    if progress:
        configurations = progress(configurations, desc=f"configurations ({replicates} fits each)")
    rows = []
    for family, config, build in configurations:
        fits = [fit_exact(build, n, samples, seed + r, method, maxiter) for r in range(replicates)]
        finals, count = [losses[-1] for losses, _ in fits], fits[-1][1]
        values = torch.tensor(finals, dtype=torch.float64)
        rows.append({"family": family, "config": config, "params": count,
                     "mse": values.mean().item(),
                     "std": values.std().item() if replicates > 1 else 0.0})
    return rows
