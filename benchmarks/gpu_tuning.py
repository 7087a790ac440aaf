"""Tuning sweep of the Triton ACDC kernels on one GPU: for each precision of the tile products
and number of warps per program, the forward (and backward) kernel's time at one width and batch,
the bytes it moves per second, and its error against float64 (relative, on a slice of rows).
Prints a table, fastest first, and writes JSON.

    python benchmarks/gpu_tuning.py [--n 4096] [--batch 8192] [--json FILE]
"""
from __future__ import annotations

import argparse
import itertools
import json

import torch

from acdc_core.ops.reference import core_forward, scale_pairs
from acdc_core.lab.bench import measure
from acdc_core.training.files import write_atomically

FLOAT32 = 4  # bytes


def relative_error(out: torch.Tensor, exact: torch.Tensor) -> float:
    return ((out.double() - exact).norm() / exact.norm()).item()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--precisions", nargs="+", default=["tf32x3", "tf32"])
    parser.add_argument("--warps", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--backward", action="store_true", help="also time the backward kernel")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--best", metavar="JSON", help="print the best float32-accurate configuration of a sweep")
    args = parser.parse_args(argv)
    if args.best:
        print(*best(args.best))
        return
    from acdc_core.ops import triton_kernels

    gen = torch.Generator().manual_seed(0)
    v, grad = (torch.randn(args.batch, args.n, generator=gen).to(args.device) for _ in range(2))
    a, d, bias = (torch.randn(args.n, generator=gen).to(args.device) for _ in range(3))
    check_rows = slice(0, 64)
    exact = core_forward(v[check_rows].double(), a.double(), scale_pairs(d.double()), bias.double())
    results = []
    for precision, warps in itertools.product(args.precisions, args.warps):
        entry = {"precision": precision, "num_warps": warps}
        try:
            with triton_kernels.tuned(precision=precision, num_warps=warps):
                entry["error"] = relative_error(triton_kernels.core_pass(v, a, d, bias)[check_rows], exact)
                fns = {"fwd": lambda: triton_kernels.core_pass(v, a, d, bias)}
                if args.backward:
                    fns["bwd"] = lambda: triton_kernels.core_backward(grad, v, a, d)
                entry.update(measure(fns, args.device, args.rounds))
        except Exception as error:  # a configuration that does not compile or run: say why, go on
            entry["failed"] = f"{type(error).__name__}: {str(error)[:300]}"
        results.append(entry)
        print(entry, flush=True)
        if args.json:  # after every configuration, so a run cut short keeps what it measured
            payload = {"device": _device_name(args.device), "n": args.n, "batch": args.batch, "results": results}
            write_atomically(args.json, lambda p: p.write_text(json.dumps(payload, indent=1)))
    moved = 2 * args.batch * args.n * FLOAT32
    print(f"\nN {args.n}, batch {args.batch}; GB/s = input + output bytes / forward time")
    for e in sorted(results, key=lambda e: e.get("fwd", float("inf"))):
        if "failed" in e:
            print(f"  {e['precision']:7s} warps {e['num_warps']}: FAILED {e['failed'][:120]}")
            continue
        bwd = f"  bwd {e['bwd']:7.3f} ms" if "bwd" in e else ""
        print(f"  {e['precision']:7s} warps {e['num_warps']}: fwd {e['fwd']:7.3f} ms "
              f"({moved / e['fwd'] / 1e6:6.0f} GB/s){bwd}  error {e['error']:.1e}")


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"


def best(path: str, max_error: float = 1e-5) -> tuple:
    """(precision, num_warps) of the fastest forward in a sweep's JSON whose error is at
    most ``max_error`` (float32-accurate), else the defaults."""
    measured = [e for e in json.loads(open(path).read())["results"] if e.get("error", 1) <= max_error]
    if not measured:
        return "tf32x3", 4
    e = min(measured, key=lambda e: e["fwd"])
    return e["precision"], e["num_warps"]


if __name__ == "__main__":
    main()
