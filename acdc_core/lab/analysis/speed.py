"""The speed study: candidates for the DCT and for ACDC layers, timed by the bench harness.

Each ``*_candidates`` function returns ``{name: zero-argument callable}`` over one fixed input;
each ``*_speed`` function times them over a range of sizes and returns flat rows.
"""
from __future__ import annotations

import subprocess
import sys
from typing import Callable

import torch

from ...acdc import ACDC
from ..bench import added_memory, measure
from ...dct import dct, dct_matrix, idct
from ...stack import StackedACDC
from ...structured import Butterfly, Monarch
from .baselines import PlainACDC, PlainStack


def _forward_backward(fn, x, grad):
    """One forward and backward pass of ``fn`` (a function or a module) from fresh gradients."""
    params = list(fn.parameters()) if isinstance(fn, torch.nn.Module) else []

    def run():
        for t in [x, *params]:
            t.grad = None
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
        matrix = dct_matrix(n, norm="ortho", dtype=dtype, device=device)
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


def acdc_candidates(n: int, batch: int = 128, device="cpu", dtype=torch.float32,
                    dense: bool = True, n_layers: int = 12) -> dict[str, Callable]:
    """One ACDC layer, a ``n_layers`` riffle stack (linear), their plain-autograd baselines,
    nn.Linear(n, n) and, for a power-of-two n, a Monarch matrix (about √n blocks) and a butterfly
    matrix; each forward (no graph) and forward+backward, on a (batch, n) input."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, generator=gen, dtype=dtype).to(device).requires_grad_()
    grad = torch.randn(batch, n, generator=gen, dtype=dtype).to(device)
    modules = {
        "ACDC": ACDC(n, device=device, dtype=dtype),
        "plain ACDC": PlainACDC(n, device=device, dtype=dtype),
        f"{n_layers}-layer stack": StackedACDC(n, n, n_layers, form="fft", device=device, dtype=dtype),
        f"plain {n_layers}-layer stack": PlainStack(n, n_layers, device=device, dtype=dtype),
    }
    if n & (n - 1) == 0 and n > 1:
        modules["Monarch"] = Monarch(n, 2 ** (n.bit_length() // 2), device=device, dtype=dtype)
        modules["butterfly"] = Butterfly(n, device=device, dtype=dtype)
    if dense:
        modules["nn.Linear"] = torch.nn.Linear(n, n, device=device, dtype=dtype)
    fns = {}
    for name, module in modules.items():
        fns[f"{name} fwd"] = _no_grad(module, x)
        fns[f"{name} fwd+bwd"] = _forward_backward(module, x, grad)
    return fns


def acdc_speed(sizes, batch: int = 128, device="cpu", dtype=torch.float32, dense_max_n: int = 4096,
               rounds: int = 9, n_layers: int = 12) -> list[dict]:
    """Rows ``{"device", "n", "name", "ms"}`` for every candidate of :func:`acdc_candidates`."""
    rows = []
    for n in sizes:
        fns = acdc_candidates(n, batch, device, dtype, dense=n <= dense_max_n, n_layers=n_layers)
        for name, ms in measure(fns, device, rounds).items():
            rows.append({"device": str(device), "n": n, "name": name, "ms": ms})
    return rows


def crossover(rows: list[dict], ours: str, theirs: str, device: str = "cpu") -> int | None:
    """The smallest measured N from which ``ours`` is faster than ``theirs`` at every larger
    measured N too (None if it never is): where a structured layer overtakes the dense one."""
    ms = {(r["n"], r["name"]): r["ms"] for r in rows if r["device"] == str(device)}
    sizes = sorted({n for n, name in ms if name == ours and (n, theirs) in ms})
    faster = [ms[(n, ours)] < ms[(n, theirs)] for n in sizes]
    for i, n in enumerate(sizes):
        if all(faster[i:]):
            return n
    return None


def by_size(rows: list[dict], device: str) -> list[dict]:
    """The timing rows of ``device`` pivoted to one row per N: ``{"N": n, name: ms, ...}``, in the
    order the sizes were measured."""
    pivot = {}
    for row in rows:
        if row["device"] == str(device):
            pivot.setdefault(row["n"], {"N": row["n"]})[row["name"]] = row["ms"]
    return list(pivot.values())


def ratios(rows: list[dict], pairs: list[tuple[str, str, str]]) -> list[dict]:
    """Per device and N: ``{"device", "N", label: ms of numerator / ms of denominator}`` for every
    ``(label, numerator, denominator)`` in ``pairs`` with both measured there."""
    out = []
    for device in dict.fromkeys(row["device"] for row in rows):
        for row in by_size(rows, device):
            ratio_row = {"device": device, "N": row["N"]}
            for label, numerator, denominator in pairs:
                if numerator in row and denominator in row:
                    ratio_row[label] = row[numerator] / row[denominator]
            out.append(ratio_row)
    return out


MODELS = ("linear", "acdc", "plain_acdc", "stack12", "plain_stack12")


def build(model: str, n: int, device: str) -> torch.nn.Module:
    """One of :data:`MODELS` at width ``n``: nn.Linear, an ACDC layer, plain-autograd ACDC, a
    12-layer riffle stack, or its plain-autograd counterpart."""
    builders = {
        "linear": lambda: torch.nn.Linear(n, n, device=device),
        "acdc": lambda: ACDC(n, device=device),
        "plain_acdc": lambda: PlainACDC(n, device=device),
        "stack12": lambda: StackedACDC(n, n, 12, shuffle="riffle", form="fft", device=device),
        "plain_stack12": lambda: PlainStack(n, 12, device=device),
    }
    if model not in builders:
        raise SystemExit(f"unknown model {model!r}; choose from {', '.join(builders)}")
    return builders[model]()


def peak_memory(model: str, n: int, batch: int, device: str = "cpu") -> float:
    """MiB that one forward+backward of ``model`` (see :data:`MODELS`) adds at its peak, measured
    in a fresh Python process after a one-row warm-up pass (see :func:`~..bench.added_memory`)."""
    command = [sys.executable, "-m", __name__, "memory", model, str(n), str(batch), device]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _memory_probe(model: str, n: int, batch: int, device: str) -> float:
    torch.manual_seed(0)
    module = build(model, n, device)
    x = torch.randn(batch, n, device=device, requires_grad=True)
    grad = torch.randn(batch, n, device=device)
    module(x[:1]).backward(grad[:1])  # warm-up on one row: code and FFT set-up are not the model's
    for t in [x, *module.parameters()]:
        t.grad = None
    return added_memory(lambda: module(x).backward(grad), device)


if __name__ == "__main__":  # python -m acdc_core.lab.analysis.speed memory MODEL N BATCH [DEVICE]
    if len(sys.argv) >= 5 and sys.argv[1] == "memory":
        device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
        print(f"{_memory_probe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), device):.1f}")
    else:
        raise SystemExit("usage: python -m acdc_core.lab.analysis.speed memory MODEL N BATCH [DEVICE]")
