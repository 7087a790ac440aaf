"""Two ways to run the fused ACDC pass in onnxruntime, timed against each other in one run: ONNX's
DFT (the pass in real arithmetic around a real FFT, what acdc_core.ops.onnx registers) or dense
products with the layer's DCT matrix.

    python benchmarks/onnx_routes.py [--sizes 256 1024 4096] [--batch 128]

Needs the onnx extra. Each model is exported with torch.onnx.export(dynamo=True) once per route;
the error column is the largest difference from PyTorch's output.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time

import torch
from torch._decomp import decomposition_table

from acdc_core import ACDC, StackedACDC
from acdc_core.lab.bench import benchmark_parser
from acdc_core.ops.onnx import makhoul_index

CORE = torch.ops.acdc.acdc_core.default


def core_by_products(v, a, d, bias, natural: bool):
    """The fused pass as ``((a ⊙ v) @ Cᵀ ⊙ d) @ C + b``, C the orthonormal DCT-II's matrix on the
    rows' order, built in the graph from index ranges."""
    n = v.shape[-1]
    feature = torch.arange(n, device=v.device) if natural else makhoul_index(n, v.device)
    k = torch.arange(n, dtype=torch.float64, device=v.device)
    scale = torch.where(k == 0, math.sqrt(1.0 / n), math.sqrt(2.0 / n))
    c = (scale[:, None] * torch.cos(math.pi * k[:, None] * (2 * feature[None, :].double() + 1)
                                    / (2 * n))).to(v.dtype)
    r = ((v * a) @ c.T * d) @ c
    return r if bias is None else r + bias


@contextlib.contextmanager
def route(name: str):
    """Within: the acdc_core operator exported by ``name``: "dft" (registered) or "products"."""
    registered = decomposition_table[CORE]
    if name == "products":
        decomposition_table[CORE] = core_by_products
    try:
        yield
    finally:
        decomposition_table[CORE] = registered


def onnx_time(model, x, name: str, rounds: int) -> tuple[float, float]:
    """(median ms per run in onnxruntime, largest difference from PyTorch) by route ``name``."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder, route(name):
        path = os.path.join(folder, "model.onnx")
        torch.onnx.export(model, (x,), path, dynamo=True, verbose=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}
    (out,) = session.run(None, feed)
    with torch.no_grad():
        error = (torch.from_numpy(out) - model(x)).abs().max().item()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2], error


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [256, 1024, 4096], rounds=21, dense_max_n=0)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"float32; onnxruntime CPU, medians of {args.rounds} runs (ms)")
    print(f"{'model':26s} {'products':>10s} {'dft':>10s} {'dft/products':>13s} {'errors':>20s}")
    for n in args.sizes:
        torch.manual_seed(0)
        x = torch.randn(args.batch, n)
        for label, model in ((f"ACDC({n})", ACDC(n)), (f"12-layer stack({n})", StackedACDC(n, n, 12, relu=True))):
            model.eval()
            (dense, dense_error), (dft, dft_error) = (onnx_time(model, x, r, args.rounds)
                                                      for r in ("products", "dft"))
            print(f"{label:26s} {dense:10.3f} {dft:10.3f} {dft / dense:13.2f} "
                  f"{dense_error:9.1e} {dft_error:9.1e}")


if __name__ == "__main__":
    main()
