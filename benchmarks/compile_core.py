"""The fused ACDC core eager (torch.fft, three elementwise passes around the FFTs) against the
compiled real-arithmetic core (backend "compiled": torch.compile of acdc_core.compiled_core, one
pass), for one layer and a 12-layer stack, forward and forward+backward; nn.Linear beside them.
Compiling happens once per shape before the timing, and its seconds are printed apart.

    python benchmarks/compile_core.py [--sizes 1024 4096] [--batch 128] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from acdc_core import ACDC, StackedACDC, backend
from acdc_core.lab.bench import measure


def calls(module, x, grad):
    """Forward (no gradient) and forward+backward closures of ``module`` on ``x``."""
    def forward():
        with torch.no_grad():
            module(x)

    def forward_backward():
        module(x).backward(grad)
    return forward, forward_backward


def under(name: str, fn):
    """``fn`` run with backend ``name``."""
    def run():
        with backend.use(name):
            fn()
    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"batch {args.batch}, float32; medians of {args.rounds} interleaved rounds (ms)")
    for n in args.sizes:
        torch.manual_seed(0)
        x = torch.randn(args.batch, n, device=args.device, requires_grad=True)
        grad = torch.randn(args.batch, n, device=args.device)
        modules = {"ACDC": ACDC(n, device=args.device),
                   "12-layer stack": StackedACDC(n, n, 12, form="fft", device=args.device),
                   "nn.Linear": torch.nn.Linear(n, n, device=args.device)}
        fns = {}
        for label, module in modules.items():
            forward, forward_backward = calls(module, x, grad)
            names = ("torch", "compiled") if label != "nn.Linear" else ("torch",)
            for name in names:
                start = time.perf_counter()
                under(name, forward_backward)()
                under(name, forward)()
                if name == "compiled":
                    print(f"N {n}: compiling for {label} took {time.perf_counter() - start:.1f} s")
                fns[f"{label} {name} fwd"] = under(name, forward)
                fns[f"{label} {name} fwd+bwd"] = under(name, forward_backward)
        ms = measure(fns, args.device, rounds=args.rounds)
        print(f"\nN {n}")
        for label in ("ACDC", "12-layer stack"):
            for mode in ("fwd", "fwd+bwd"):
                eager, compiled = ms[f"{label} torch {mode}"], ms[f"{label} compiled {mode}"]
                print(f"  {label:15s} {mode:8s} eager {eager:8.3f}  compiled {compiled:8.3f}  "
                      f"compiled/eager {compiled / eager:5.2f}")
        for mode in ("fwd", "fwd+bwd"):
            linear = ms[f"nn.Linear torch {mode}"]
            print(f"  nn.Linear       {mode:8s} {linear:8.3f}  ACDC eager {linear / ms[f'ACDC torch {mode}']:5.1f}x "
                  f"faster, compiled {linear / ms[f'ACDC compiled {mode}']:5.1f}x faster")


if __name__ == "__main__":
    main()
