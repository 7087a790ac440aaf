"""Statistics of the effective weight of a linear ACDC stack at initialisation (the log's E9 and
E14, described in docs/experiments.md).

A linear stack (no ReLU, no BatchNorm, no bias) is one matrix W (``StackedACDC.effective_weight``).
Over independent draws of its diagonals (and of its permutations, for ``shuffle="permutation"``)
these functions measure how W's entries are spread, against the scales of the standard dense
initialisations: Glorot ``1/sqrt(N)`` for a square matrix and He ``sqrt(2/N)``.
"""
from __future__ import annotations

import math

import torch

from ...stack import StackedACDC


def effective_weights(n: int, depth: int, draws: int, parameterisation: str = "original",
                      shuffle: str = "riffle", init: str = "normal", sigma: float = 1e-2,
                      seed: int = 0) -> torch.Tensor:
    """(draws, n, n) float64: the effective weight of ``draws`` independently initialised linear
    stacks of ``depth`` layers; draw i uses seed ``seed + i`` for its diagonals and permutations."""
    weights = torch.empty(draws, n, n, dtype=torch.float64)
    for i in range(draws):
        with torch.random.fork_rng():
            torch.manual_seed(seed + i)
            stack = StackedACDC(n, n, depth, shuffle=shuffle, seed=seed + i, bias=False,
                                parameterisation=parameterisation, init=init, sigma=sigma,
                                dtype=torch.float64)
        with torch.no_grad():
            weights[i] = stack.effective_weight()
    return weights


def summary(weights: torch.Tensor) -> dict:
    """Mean and standard deviation of all entries of all draws, beside the Glorot and He scales."""
    n = weights.shape[-1]
    std = weights.std().item()
    return {"N": n, "mean": weights.mean().item(), "std": std, "glorot": 1 / math.sqrt(n),
            "he": math.sqrt(2 / n), "std/glorot": std * math.sqrt(n)}


def entry_moments(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-entry mean and standard deviation over the draws: two (n, n) matrices."""
    return weights.mean(0), weights.std(0)


def singular_values(weights: torch.Tensor) -> torch.Tensor:
    """Mean over draws of the descending singular values, shape (n,)."""
    return torch.linalg.svdvals(weights).mean(0)


def glorot_singular_values(n: int, draws: int, seed: int = 0) -> torch.Tensor:
    """The same for dense N×N matrices with Glorot-normal entries (std 1/sqrt(N))."""
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(draws, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    return singular_values(dense)


def sweep(sizes, depths, draws: int, **options) -> list[dict]:
    """:func:`summary` rows over every (N, depth), each row also naming the options."""
    rows = []
    for n in sizes:
        for depth in depths:
            row = summary(effective_weights(n, depth, draws, **options))
            rows.append({**row, "depth": depth, **options})
    return rows
