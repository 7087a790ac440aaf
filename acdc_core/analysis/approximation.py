"""Approximating a dense linear map with structured layers (paper §6.1; log E6, E10, E24, E25).

A random dense target ``nn.Linear(N, N)`` (PyTorch's default initialisation), inputs X ~ U(0, 1),
outputs Y = target(X) + Gaussian noise; a model is fitted to (X, Y) by mean squared error with a
torch optimiser or a scipy method, all in float64.
"""
from __future__ import annotations

import torch
from torch import nn

from ..optimise import fit_scipy, fit_torch, mse
from ..stack import StackedACDC

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
    iterations); the loss history."""
    settings = dict(OPTIMISERS[optimiser])
    if settings.pop("kind") == "torch":
        return fit_torch(model, mse(x, y), steps=steps, progress=progress or iter, **settings)
    losses, _ = fit_scipy(model, mse(x, y), maxiter=steps, **settings)
    return losses


def acdc_stack(n: int, n_layers: int, architecture: str, shuffle: str, seed: int = 0) -> StackedACDC:
    """The log's stacks: ``"relu+bn"`` (E6: BatchNorm and ReLU between layers), ``"relu"`` (E10),
    or ``"linear"``; a bias on every layer, N(1, 1e-2) diagonals, float64."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return StackedACDC(n, n, n_layers, shuffle=shuffle, seed=seed, relu="relu" in architecture,
                           batchnorm="bn" in architecture, dtype=torch.float64)
