"""Fitting a module to data: one objective, two kinds of optimiser.

An objective is a callable ``objective(module) -> scalar tensor`` (:func:`mse` builds the usual
one). :func:`fit_torch` runs a torch optimiser (SGD, Adam) on it; :func:`fit_scipy` hands it to
``scipy.optimize.minimize`` (CG, BFGS, L-BFGS-B, ...) through :class:`ScipyBridge`, which flattens
the module's parameters into one float64 vector and evaluates loss and exact gradient by autograd.
Both return the loss after every step.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..checks import check_choice

Objective = Callable[[nn.Module], torch.Tensor]
TORCH_OPTIMISERS = ("sgd", "adam")


def mse(x: torch.Tensor, y: torch.Tensor) -> Objective:
    """Mean squared error of ``module(x)`` against ``y`` (mean over all entries)."""
    return lambda module: torch.mean((module(x) - y) ** 2)


def fit_torch(module: nn.Module, objective: Objective, optimiser: str = "adam", lr: float = 1e-3,
              momentum: float = 0.0, steps: int = 1000, progress: Callable | None = None) -> list[float]:
    """``steps`` full-batch steps of SGD (with ``momentum``) or Adam; the loss before each step,
    then the final loss (``steps + 1`` numbers). ``progress``: see :func:`fit_scipy`."""
    check_choice("optimiser", optimiser, TORCH_OPTIMISERS)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = (torch.optim.SGD(params, lr=lr, momentum=momentum) if optimiser == "sgd"
           else torch.optim.Adam(params, lr=lr))
    bar = progress(total=steps) if progress else None
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = objective(module)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    with torch.no_grad():
        losses.append(objective(module).item())
    return losses


class ScipyBridge:
    """A module's trainable parameters as one float64 vector for ``scipy.optimize``.

    ``x0`` is the current vector; ``__call__(vector)`` writes it into the module and returns
    ``(loss, gradient)`` as float64 numpy values (complex parameters as (real, imag) pairs);
    ``write(vector)`` only writes. The module must already hold float64 (or complex128)
    parameters so nothing is lost in the round trip.
    """

    def __init__(self, module: nn.Module, objective: Objective):
        self.module, self.objective = module, objective
        self.params = [p for p in module.parameters() if p.requires_grad]
        for p in self.params:
            if p.real.dtype != torch.float64:
                raise TypeError(f"ScipyBridge needs float64 parameters, got {p.dtype}; "
                                "call module.double() first")
        self.x0 = np.concatenate([self._real(p.detach()).ravel() for p in self.params])

    @staticmethod
    def _real(t: torch.Tensor) -> np.ndarray:
        return (torch.view_as_real(t) if t.is_complex() else t).cpu().numpy()

    def write(self, vector: np.ndarray) -> None:
        offset = 0
        with torch.no_grad():
            for p in self.params:
                target = torch.view_as_real(p) if p.is_complex() else p
                size = target.numel()
                chunk = torch.from_numpy(np.ascontiguousarray(vector[offset: offset + size]))
                target.copy_(chunk.view(target.shape))
                offset += size

    def __call__(self, vector: np.ndarray) -> tuple[float, np.ndarray]:
        self.write(vector)
        for p in self.params:
            p.grad = None
        loss = self.objective(self.module)
        loss.backward()
        grad = np.concatenate([self._real(p.grad).ravel() if p.grad is not None
                               else np.zeros(p.numel() * (2 if p.is_complex() else 1))
                               for p in self.params])
        return loss.item(), grad


def fit_scipy(module: nn.Module, objective: Objective, method: str = "L-BFGS-B",
              maxiter: int = 1000, progress: Callable | None = None) -> tuple[list[float], object]:
    """Minimise with ``scipy.optimize.minimize(method=...)`` from the module's current
    parameters; writes the result back. Returns (loss after each iteration, scipy's result).
    ``progress``, if given, is called as ``progress(total=maxiter)`` and returns a bar advanced by
    ``update(1)`` each step and ended by ``close()`` (e.g. ``tqdm``)."""
    import scipy.optimize

    bridge = ScipyBridge(module, objective)
    losses = [bridge(bridge.x0)[0]]
    bar = progress(total=maxiter) if progress else None

    def record(xk, *args):
        losses.append(bridge(xk)[0])
        if bar is not None:
            bar.update(1)

    result = scipy.optimize.minimize(bridge, bridge.x0, jac=True, method=method, callback=record,
                                     options={"maxiter": maxiter})
    bridge.write(result.x)
    if bar is not None:
        bar.close()
    return losses, result
