"""Timing harness: interleaved rounds, medians, CUDA synchronisation, and the DCT speed study.

Machines here are shared and noisy, so candidates are timed in alternating rounds and compared as
ratios from one run; never as absolute thresholds in tests.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch

from .dct import dct, dct_matrix, idct


def _synchronizer(device) -> Callable[[], None]:
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def measure(fns: dict[str, Callable[[], object]], device="cpu", rounds: int = 15,
            block_ms: float = 20.0) -> dict[str, float]:
    """Median time of one call of each function, in milliseconds.

    Each function is warmed up, then called in ``rounds`` alternating rounds (every function once
    per round, so a slow spell of the machine hits all of them), each round timing a block of
    repeated calls lasting about ``block_ms``. On CUDA every block is synchronised on both ends.
    """
    sync = _synchronizer(device)
    reps = {}
    for name, fn in fns.items():
        fn()
        sync()
        start = time.perf_counter()
        fn()
        sync()
        once = max(time.perf_counter() - start, 1e-7) * 1e3
        reps[name] = max(1, math.ceil(block_ms / once))
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            sync()
            samples[name].append((time.perf_counter() - start) * 1e3 / reps[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def _forward_backward(fn, x, grad):
    def run():
        x.grad = None
        fn(x).backward(grad)
    return run


def dct_candidates(n: int, batch: int = 128, device="cpu", dtype=torch.float32,
                   dense: bool = True, backward: bool = True) -> dict[str, Callable]:
    """The implementations compared in the DCT speed study, for a (batch, n) input.

    Ours (dct, idct, orthonormal type 2/3, and forward+backward), scipy.fft on CPU (with as many
    workers as torch has threads), torch-dct 0.1.6 when installed (the log's DCT), a dense
    multiply by the DCT matrix and an nn.Linear(n, n) (when ``dense``).
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, generator=gen, dtype=dtype).to(device)
    fns = {
        "dct": lambda: dct(x, norm="ortho"),
        "idct": lambda: idct(x, norm="ortho"),
    }
    if backward:
        xg = x.clone().requires_grad_()
        grad = torch.randn(batch, n, generator=gen, dtype=dtype).to(device)
        fns["dct fwd+bwd"] = _forward_backward(lambda t: dct(t, norm="ortho"), xg, grad)
    if torch.device(device).type == "cpu":
        try:
            import scipy.fft
        except ImportError:
            pass
        else:
            xn, workers = x.numpy(), torch.get_num_threads()
            fns["scipy dct"] = lambda: scipy.fft.dct(xn, norm="ortho", workers=workers)
            fns["scipy idct"] = lambda: scipy.fft.idct(xn, norm="ortho", workers=workers)
    try:
        import torch_dct
    except ImportError:
        pass
    else:
        fns["torch-dct dct"] = lambda: torch_dct.dct(x, norm="ortho")
        fns["torch-dct idct"] = lambda: torch_dct.idct(x, norm="ortho")
    if dense:
        matrix = dct_matrix(n, dtype=dtype, device=device)
        linear = torch.nn.Linear(n, n, device=device, dtype=dtype)
        fns["dense x @ Cᵀ"] = lambda: x @ matrix.T
        fns["nn.Linear"] = _no_grad(linear, x)
    return fns


def _no_grad(module, x):
    def run():
        with torch.no_grad():
            return module(x)
    return run


def dct_speed(sizes, batch: int = 128, device="cpu", dtype=torch.float32, dense_max_n: int = 4096,
              rounds: int = 15) -> list[dict]:
    """Rows ``{"device", "n", "name", "ms"}``: median milliseconds per call for every candidate of
    :func:`dct_candidates` at every size (dense candidates only up to ``dense_max_n``)."""
    rows = []
    for n in sizes:
        fns = dct_candidates(n, batch, device, dtype, dense=n <= dense_max_n)
        for name, ms in measure(fns, device, rounds).items():
            rows.append({"device": str(device), "n": n, "name": name, "ms": ms})
    return rows
